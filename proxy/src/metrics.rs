//! Every Prometheus metric Vigie exports, in one struct registered into its own registry.
//!
//! Per-route handles ([`RouteMetrics`]) are resolved once per config generation, so serving a
//! request costs no label lookup.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::upstreams::Pool;
use crate::upstreams::gate::{GateFamilies, GateMetrics};
use crate::waiting::{RoomFamilies, RoomMetrics};

/// Request latency buckets, in seconds: sub-millisecond (local answers) to the 30 s default
/// upstream read timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Label value for requests that matched no route.
pub const NO_ROUTE: &str = "";

/// The metrics of the process.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    upstream_errors: IntCounterVec,
    backend_healthy: IntGaugeVec,
    /// Client connections open now (HTTP/1 and HTTP/2).
    pub active_connections: IntGauge,
    /// Requests being served now.
    pub active_requests: IntGauge,
    config_reloads: IntCounterVec,
    /// Generation number of the config being served.
    pub config_generation: IntGauge,
    /// Unix time of the last successful (re)load.
    pub config_loaded_at: Gauge,
    header_rejections: IntCounterVec,
    jwks_fetches: IntCounterVec,
    jwks_unknown_kid: IntCounterVec,
    jwks_key_age: prometheus::GaugeVec,
    token_cache: IntCounterVec,
    auth_failures: IntCounterVec,
    logins: IntCounterVec,
    logouts: IntCounter,
    rate_limited: IntCounterVec,
    gates: GateFamilies,
    rooms: RoomFamilies,
}

/// Handles for one route's series.
pub struct RouteMetrics {
    by_class: [IntCounter; 5],
    duration: Histogram,
}

/// Kinds of upstream failure counted in `vigie_upstream_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamError {
    /// No healthy backend to send to.
    NoHealthyBackend,
    /// Connecting failed (refused, reset, unreachable, TLS).
    Connect,
    /// Connecting or reading took too long.
    Timeout,
    /// The backend broke the exchange after it started.
    Protocol,
}

// === impl Metrics ===

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> prometheus::Result<Arc<Metrics>> {
        let registry = Registry::new_custom(Some("vigie".into()), None)?;
        let reg = |c: Box<dyn prometheus::core::Collector>| registry.register(c);
        let requests = IntCounterVec::new(
            Opts::new(
                "requests_total",
                "Requests served, by route and status class.",
            ),
            &["route", "status_class"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "request_duration_seconds",
                "Time from request head to end of response, by route.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )?;
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "upstream_errors_total",
                "Failed attempts to reach an upstream, by kind.",
            ),
            &["upstream", "kind"],
        )?;
        let backend_healthy = IntGaugeVec::new(
            Opts::new(
                "upstream_backend_healthy",
                "1 when the backend passes its health checks.",
            ),
            &["upstream", "backend"],
        )?;
        let active_connections =
            IntGauge::new("active_connections", "Client connections open now.")?;
        let active_requests = IntGauge::new("active_requests", "Requests being served now.")?;
        let config_reloads = IntCounterVec::new(
            Opts::new(
                "config_reloads_total",
                "Configuration reloads, by result (success, failure).",
            ),
            &["result"],
        )?;
        let config_generation = IntGauge::new(
            "config_generation",
            "Generation number of the configuration served.",
        )?;
        let config_loaded_at = Gauge::new(
            "config_last_success_timestamp_seconds",
            "Unix time of the last successful configuration load.",
        )?;
        let header_rejections = IntCounterVec::new(
            Opts::new(
                "request_head_rejections_total",
                "Request heads refused, by reason (too_large, too_slow).",
            ),
            &["reason"],
        )?;
        let jwks_fetches = IntCounterVec::new(
            Opts::new(
                "jwks_fetches_total",
                "Key set fetches, by identity provider and result (success, failure).",
            ),
            &["provider", "result"],
        )?;
        let jwks_unknown_kid = IntCounterVec::new(
            Opts::new(
                "jwks_unknown_kid_total",
                "Tokens naming a key id the provider's key set lacks.",
            ),
            &["provider"],
        )?;
        let jwks_key_age = prometheus::GaugeVec::new(
            Opts::new(
                "jwks_key_age_seconds",
                "Seconds since the provider's keys were fetched.",
            ),
            &["provider"],
        )?;
        let token_cache = IntCounterVec::new(
            Opts::new(
                "token_cache_lookups_total",
                "Verified-token cache lookups, by result (hit, miss).",
            ),
            &["result"],
        )?;
        let auth_failures = IntCounterVec::new(
            Opts::new(
                "auth_failures_total",
                "Requests refused by authentication, by route and reason.",
            ),
            &["route", "reason"],
        )?;
        let logins = IntCounterVec::new(
            Opts::new(
                "logins_total",
                "Browser logins, by identity provider and result (success, or the failure).",
            ),
            &["provider", "result"],
        )?;
        let logouts = IntCounter::new("logouts_total", "Sessions ended by logout.")?;
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "rate_limited_total",
                "Requests refused with 429, by rate limit.",
            ),
            &["limit"],
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new("build_info", "Always 1; labels describe the build."),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        reg(Box::new(requests.clone()))?;
        reg(Box::new(duration.clone()))?;
        reg(Box::new(upstream_errors.clone()))?;
        reg(Box::new(backend_healthy.clone()))?;
        reg(Box::new(active_connections.clone()))?;
        reg(Box::new(active_requests.clone()))?;
        reg(Box::new(config_reloads.clone()))?;
        reg(Box::new(config_generation.clone()))?;
        reg(Box::new(config_loaded_at.clone()))?;
        reg(Box::new(header_rejections.clone()))?;
        reg(Box::new(build_info))?;
        reg(Box::new(jwks_fetches.clone()))?;
        reg(Box::new(jwks_unknown_kid.clone()))?;
        reg(Box::new(jwks_key_age.clone()))?;
        reg(Box::new(token_cache.clone()))?;
        reg(Box::new(auth_failures.clone()))?;
        reg(Box::new(logins.clone()))?;
        reg(Box::new(logouts.clone()))?;
        reg(Box::new(rate_limited.clone()))?;
        let gates = GateFamilies::register(reg)?;
        let rooms = RoomFamilies::register(reg)?;
        crate::plugins::shared::PluginFamilies::global().register_with(reg)?;
        Ok(Arc::new(Metrics {
            registry,
            requests,
            duration,
            upstream_errors,
            backend_healthy,
            active_connections,
            active_requests,
            config_reloads,
            config_generation,
            config_loaded_at,
            header_rejections,
            jwks_fetches,
            jwks_unknown_kid,
            jwks_key_age,
            token_cache,
            auth_failures,
            logins,
            logouts,
            rate_limited,
            gates,
            rooms,
        }))
    }

    /// Handles for `route`'s series (use [`NO_ROUTE`] for unrouted requests).
    pub fn for_route(&self, route: &str) -> Arc<RouteMetrics> {
        let class = |c: &str| self.requests.with_label_values(&[route, c]);
        Arc::new(RouteMetrics {
            by_class: [
                class("1xx"),
                class("2xx"),
                class("3xx"),
                class("4xx"),
                class("5xx"),
            ],
            duration: self.duration.with_label_values(&[route]),
        })
    }

    /// Counts one failed attempt to reach `upstream`.
    pub fn upstream_error(&self, upstream: &str, kind: UpstreamError) {
        let kind = match kind {
            UpstreamError::NoHealthyBackend => "no_healthy_backend",
            UpstreamError::Connect => "connect",
            UpstreamError::Timeout => "timeout",
            UpstreamError::Protocol => "protocol",
        };
        self.upstream_errors
            .with_label_values(&[upstream, kind])
            .inc();
    }

    /// Publishes the health of every backend of the current pools (series of pools that no
    /// longer exist are dropped).
    pub fn observe_health(&self, upstreams: &BTreeMap<String, Arc<Pool>>) {
        self.backend_healthy.reset();
        for (name, pool) in upstreams {
            for (addr, healthy) in pool.health() {
                self.backend_healthy
                    .with_label_values(&[name.as_str(), &addr.to_string()])
                    .set(i64::from(healthy));
            }
        }
    }

    /// Counts a configuration (re)load attempt.
    pub fn config_reload(&self, ok: bool) {
        self.config_reloads
            .with_label_values(&[if ok { "success" } else { "failure" }])
            .inc();
    }

    /// The counter of request heads refused for `reason`.
    pub fn header_rejections(&self, reason: &str) -> IntCounter {
        self.header_rejections.with_label_values(&[reason])
    }

    /// Handles for one identity provider's key metrics.
    pub fn key_metrics(&self, provider: &str) -> crate::auth::store::KeyMetrics {
        crate::auth::store::KeyMetrics {
            fetched: self.jwks_fetches.with_label_values(&[provider, "success"]),
            failed: self.jwks_fetches.with_label_values(&[provider, "failure"]),
            unknown_kid: self.jwks_unknown_kid.with_label_values(&[provider]),
            age: self.jwks_key_age.with_label_values(&[provider]),
        }
    }

    /// Hit and miss counters of the verified-token caches.
    pub fn token_cache_counters(&self) -> crate::auth::token_cache::CacheCounters {
        crate::auth::token_cache::CacheCounters {
            hits: self.token_cache.with_label_values(&["hit"]),
            misses: self.token_cache.with_label_values(&["miss"]),
        }
    }

    /// Counts a request refused by authentication on `route` for `reason`.
    pub fn auth_failure(&self, route: &str, reason: &str) {
        self.auth_failures.with_label_values(&[route, reason]).inc();
    }

    /// Counts a login attempt's outcome.
    pub fn login(&self, provider: &str, result: &str) {
        self.logins.with_label_values(&[provider, result]).inc();
    }

    /// The counter of requests refused by the rate limit `limit`.
    pub fn rate_limited(&self, limit: &str) -> IntCounter {
        self.rate_limited.with_label_values(&[limit])
    }

    /// The handles of `upstream`'s concurrency gate.
    pub fn gate(&self, upstream: &str) -> GateMetrics {
        self.gates.for_upstream(upstream)
    }

    /// The handles of `provider`'s waiting room.
    pub fn waiting_room(&self, provider: &str) -> RoomMetrics {
        self.rooms.for_provider(provider)
    }

    /// Counts a logout.
    pub fn logout(&self) {
        self.logouts.inc();
    }

    /// Adds a metric defined by another module (which keeps its handles).
    pub fn register(
        &self,
        collector: Box<dyn prometheus::core::Collector>,
    ) -> prometheus::Result<()> {
        self.registry.register(collector)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

// === impl RouteMetrics ===

impl RouteMetrics {
    /// Records one finished request.
    pub fn observe(&self, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].inc();
        self.duration.observe(elapsed.as_secs_f64());
    }
}

impl std::fmt::Debug for RouteMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteMetrics")
    }
}
