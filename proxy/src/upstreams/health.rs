//! Active health checks: the probe each pool runs, and the background service that runs the
//! probes of whichever config generation is current (so pools added by a reload are probed).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::http::RequestHeader;
use pingora::lb::Backend;
use pingora::lb::health_check::{HealthCheck, HealthObserve, HttpHealthCheck, TcpHealthCheck};
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use super::spec::{HealthCheckSpec, UpstreamSpec};
use crate::metrics::Metrics;
use crate::reload::Generations;

/// How often the checker looks for pools whose interval has passed.
const TICK: Duration = Duration::from_millis(100);

/// Runs the health checks of the current generation's pools; see the module docs.
pub struct HealthChecker {
    generations: Arc<Generations>,
    metrics: Arc<Metrics>,
}

/// Logs each change of a backend's health.
struct LogChange {
    upstream: String,
}

/// The probe configured for one upstream.
pub(super) fn probe(
    spec: &UpstreamSpec,
    check: &HealthCheckSpec,
) -> Box<dyn HealthCheck + Send + Sync> {
    let observer = Box::new(LogChange {
        upstream: spec.name.clone(),
    });
    let tls = spec.tls.as_ref();
    match &check.http_path {
        Some(path) => {
            let mut hc = HttpHealthCheck::new(&check.host, tls.is_some());
            if let Ok(mut req) = RequestHeader::build("GET", path.as_bytes(), None) {
                let _ = req.insert_header("host", check.host.as_str());
                let _ = req.insert_header("user-agent", "vigie-health-check");
                hc.req = req;
            }
            hc.consecutive_success = check.healthy_after;
            hc.consecutive_failure = check.unhealthy_after;
            let o = &mut hc.peer_template.options;
            o.connection_timeout = Some(check.timeout);
            o.read_timeout = Some(check.timeout);
            if let Some(t) = tls {
                hc.peer_template.sni = t.sni.clone();
                o.verify_cert = t.verify;
                o.verify_hostname = t.verify;
                o.ca = t.ca.as_ref().map(|(_, c)| super::pool::ca_list(c));
            }
            hc.health_changed_callback = Some(observer);
            Box::new(hc)
        }
        None => {
            let mut hc = match tls {
                Some(t) => TcpHealthCheck::new_tls(&t.sni),
                None => TcpHealthCheck::new(),
            };
            hc.consecutive_success = check.healthy_after;
            hc.consecutive_failure = check.unhealthy_after;
            hc.peer_template.options.connection_timeout = Some(check.timeout);
            if let Some(t) = tls {
                hc.peer_template.options.verify_cert = t.verify;
                hc.peer_template.options.verify_hostname = t.verify;
                hc.peer_template.options.ca = t.ca.as_ref().map(|(_, c)| super::pool::ca_list(c));
            }
            hc.health_changed_callback = Some(observer);
            hc
        }
    }
}

// === impl HealthChecker ===

impl HealthChecker {
    /// A checker following `generations`, reporting into `metrics`.
    pub fn new(generations: Arc<Generations>, metrics: Arc<Metrics>) -> HealthChecker {
        HealthChecker {
            generations,
            metrics,
        }
    }

    async fn run_due(&self) {
        let generation = self.generations.current();
        let now = Instant::now();
        let mut checks = tokio::task::JoinSet::new();
        for pool in generation.upstreams.values() {
            let pool = pool.clone();
            checks.spawn(async move { pool.check_if_due(now).await });
        }
        while checks.join_next().await.is_some() {}
        self.metrics.observe_health(&generation.upstreams);
    }
}

#[async_trait]
impl BackgroundService for HealthChecker {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            self.run_due().await;
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

#[async_trait]
impl HealthObserve for LogChange {
    async fn observe(&self, target: &Backend, healthy: bool) {
        if healthy {
            tracing::info!(upstream = %self.upstream, backend = %target.addr, "backend is healthy");
        } else {
            tracing::warn!(upstream = %self.upstream, backend = %target.addr, "backend is unhealthy");
        }
    }
}
