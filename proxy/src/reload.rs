//! Configuration generations and their replacement on reload.
//!
//! A [`Generation`] is everything a request needs from the config, built once. The proxy
//! takes an `Arc` of the current one when a request starts, so a request finishes on the
//! generation it started with while new requests see the new one. [`Reloader`] builds a new
//! generation on SIGHUP or when the file changes; an invalid file is refused (logged, counted)
//! and the current generation keeps serving.

mod reloader;

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use reloader::Reloader;
pub(crate) use reloader::unix_now;

use crate::auth::provider::Provider;
use crate::auth::{Access, Authenticator};
use crate::config::Config;
use crate::forwarded::TrustedProxies;
use crate::limits::Limits;
use crate::limits::guard::{GuardCounters, HeaderPolicy};
use crate::metrics::{Metrics, NO_ROUTE, RouteMetrics};
use crate::pages::Rejection;
use crate::ratelimit::RateLimit;
use crate::routing::{Route, Routes};
use crate::saml::provider::SamlProvider;
use crate::upstreams::{Gate, Pool};
use crate::waiting::{WaitingRoom, now_ms};

/// What requests are served with; see the module docs.
#[derive(Debug)]
pub struct Generation {
    /// Increases by one at each successful reload, starting at 1.
    pub id: u64,
    /// The configuration it was built from.
    pub config: Config,
    /// Route table.
    pub routes: Routes,
    /// Upstream pools by name.
    pub upstreams: BTreeMap<String, Arc<Pool>>,
    /// Networks whose forwarding headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Client connection limits.
    pub limits: Limits,
    /// What the connection guard enforces on connections accepted under this generation.
    pub head_policy: Arc<HeaderPolicy>,
    /// Metric handles for requests no route matched.
    pub unrouted: Arc<RouteMetrics>,
    /// Identity providers, token verification, access rules, identity headers.
    pub auth: Arc<Authenticator>,
    /// Rate limits by name (their state carries over reloads that leave them unchanged).
    pub rate_limits: BTreeMap<String, Arc<RateLimit>>,
    /// Concurrency gates by upstream name (kept across reloads that leave them unchanged).
    pub gates: BTreeMap<String, Arc<Gate>>,
    /// Waiting rooms by provider name (their queues survive reloads that leave them unchanged).
    pub waiting_rooms: BTreeMap<String, Arc<WaitingRoom>>,
}

/// The current generation, swapped atomically.
#[derive(Debug)]
pub struct Generations {
    current: ArcSwap<Generation>,
}

// === impl Generation ===

impl Generation {
    /// Starts one instance of each plugin no route lists (a service plugin: its timers and
    /// callouts run without requests, as an Envoy bootstrap extension's do). Call from a
    /// Tokio runtime; again after each reload (instances already running are kept).
    pub fn start_plugin_services(&self) {
        for (name, spec) in &self.config.plugins {
            if self.config.routes.iter().any(|r| r.plugins.contains(name)) {
                continue;
            }
            if let Err(fault) = spec.plugin.instance() {
                tracing::error!(plugin = %name, error = %fault, "cannot start the plugin service");
            }
        }
    }

    /// Builds generation `id` from `config`, reusing `previous`'s pools whose spec is
    /// unchanged (their health state and pooled connections carry over).
    pub fn build(
        id: u64,
        config: Config,
        previous: Option<&Generation>,
        metrics: &Metrics,
    ) -> Generation {
        let upstreams = carry_over(
            &config.upstreams,
            previous.map(|g| &g.upstreams),
            |p| &p.spec,
            |_, spec| Pool::build(spec.clone()),
        );
        let rate_limits = carry_over(
            &config.rate_limits,
            previous.map(|g| &g.rate_limits),
            |l| &l.spec,
            |name, spec| RateLimit::build(spec.clone(), metrics.rate_limited(name)),
        );
        let gates = carry_over(
            &config.concurrency,
            previous.map(|g| &g.gates),
            |g| &g.spec,
            |name, spec| Gate::new(spec.clone(), metrics.gate(name)),
        );
        let waiting_rooms = carry_over(
            &config.waiting_rooms,
            previous.map(|g| &g.waiting_rooms),
            |r| &r.spec,
            |name, spec| WaitingRoom::new(spec.clone(), metrics.waiting_room(name), now_ms()),
        );
        let transport: Arc<dyn crate::plugins::Transport> =
            Arc::new(crate::plugins::callout::UpstreamTransport::new(&upstreams));
        for spec in config.plugins.values() {
            spec.plugin.set_transport(transport.clone());
        }
        let routes = config
            .routes
            .iter()
            .filter_map(|spec| {
                let upstream = upstreams.get(&spec.upstream)?.clone();
                let limits = spec.rate_limits.iter().filter_map(|n| rate_limits.get(n));
                let (post_auth, pre_auth): (Vec<_>, Vec<_>) =
                    limits.cloned().partition(|l| l.spec.needs_identity());
                Some(Arc::new(Route {
                    metrics: metrics.for_route(&spec.name),
                    audience: spec.upstream.as_str().into(),
                    name: spec.name.as_str().into(),
                    pre_auth,
                    post_auth,
                    gate: gates.get(&spec.upstream).cloned(),
                    plugins: spec
                        .plugins
                        .iter()
                        .filter_map(|p| config.plugins.get(p))
                        .map(|p| p.plugin.clone())
                        .collect(),
                    spec: spec.clone(),
                    upstream,
                }))
            })
            .collect();
        let head_policy = Arc::new(HeaderPolicy {
            max_size: config.limits.max_request_header_size,
            head_timeout: config.limits.header_read_timeout,
            idle_timeout: config.limits.keepalive_timeout,
            too_large: Rejection::HeadTooLarge.raw_http1(),
            too_slow: Rejection::ClientTooSlow.raw_http1(),
            counters: GuardCounters {
                active_connections: metrics.active_connections.clone(),
                too_large: metrics.header_rejections("too_large"),
                too_slow: metrics.header_rejections("too_slow"),
            },
        });
        let auth = Arc::new(build_auth(&config, previous, metrics));
        Generation {
            auth,
            id,
            routes: Routes::new(routes),
            rate_limits,
            gates,
            waiting_rooms,
            upstreams,
            trusted_proxies: config.trusted_proxies.clone(),
            limits: config.limits.clone(),
            head_policy,
            unrouted: metrics.for_route(NO_ROUTE),
            config,
        }
    }

    /// SAML providers whose IdP metadata was never loaded.
    pub fn saml_without_metadata(&self) -> Vec<&str> {
        self.auth.saml_without_metadata()
    }

    /// Identity providers some route accepts whose keys were never loaded.
    pub fn providers_without_keys(&self) -> Vec<&str> {
        let used: std::collections::BTreeSet<&str> = self
            .config
            .routes
            .iter()
            .filter_map(|r| match &r.access {
                Access::Protected(rule) => Some(rule.bearer.iter().map(String::as_str)),
                Access::Public => None,
            })
            .flatten()
            .collect();
        self.auth
            .providers_without_keys()
            .into_iter()
            .filter(|p| used.contains(p))
            .collect()
    }

    /// Whether every upstream some route uses has a healthy backend; the names that don't.
    pub fn unready_upstreams(&self) -> Vec<&str> {
        let used: std::collections::BTreeSet<&str> = self
            .config
            .routes
            .iter()
            .map(|r| r.upstream.as_str())
            .collect();
        used.into_iter()
            .filter(|name| !self.upstreams.get(*name).is_some_and(|p| p.is_ready()))
            .collect()
    }
}

/// One live value per configured name: the previous generation's when its settings (`spec_of`)
/// are unchanged, so its state (health, counters, queues) carries over; otherwise a new one.
fn carry_over<S: PartialEq, T>(
    specs: &BTreeMap<String, S>,
    previous: Option<&BTreeMap<String, Arc<T>>>,
    spec_of: impl Fn(&T) -> &S,
    build: impl Fn(&str, &S) -> T,
) -> BTreeMap<String, Arc<T>> {
    specs
        .iter()
        .map(|(name, spec)| {
            let reused = previous
                .and_then(|p| p.get(name))
                .filter(|live| spec_of(live) == spec)
                .cloned();
            let live = reused.unwrap_or_else(|| Arc::new(build(name, spec)));
            (name.clone(), live)
        })
        .collect()
}

/// The authenticator of a new generation: providers whose settings (and the token cache
/// settings) did not change are carried over with their keys and verified tokens.
fn build_auth(config: &Config, previous: Option<&Generation>, metrics: &Metrics) -> Authenticator {
    let same_cache =
        previous.is_some_and(|p| p.config.identity.token_cache == config.identity.token_cache);
    let providers = config
        .providers
        .iter()
        .map(|(name, spec)| {
            let reused = previous
                .filter(|_| same_cache)
                .and_then(|p| p.auth.providers.get(name))
                .filter(|p| p.spec == *spec)
                .cloned();
            let provider = reused.unwrap_or_else(|| {
                let tokens = Provider::token_cache(
                    &config.identity.token_cache,
                    metrics.token_cache_counters(),
                );
                Arc::new(Provider::build(
                    spec.clone(),
                    metrics.key_metrics(name),
                    tokens,
                ))
            });
            (name.clone(), provider)
        })
        .collect();
    let saml = config
        .saml
        .iter()
        .filter_map(|(name, spec)| {
            let reused = previous
                .and_then(|p| p.auth.saml.get(name))
                .filter(|p| p.spec == *spec)
                .cloned();
            let provider = match reused {
                Some(p) => p,
                None => match SamlProvider::build(spec.clone()) {
                    Ok(p) => Arc::new(p),
                    Err(e) => {
                        tracing::error!(provider = %name, error = %e, "SAML provider left out");
                        return None;
                    }
                },
            };
            Some((name.clone(), provider))
        })
        .collect();
    Authenticator::new(providers, saml, &config.identity)
}

// === impl Generations ===

impl Generations {
    /// Starts serving `first`.
    pub fn new(first: Generation) -> Arc<Generations> {
        Arc::new(Generations {
            current: ArcSwap::from_pointee(first),
        })
    }

    /// The generation new requests are served with.
    pub fn current(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    /// Serves `next` from now on.
    pub fn install(&self, next: Generation) {
        self.current.store(Arc::new(next));
    }
}
