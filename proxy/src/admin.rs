//! `admin:`: the operator endpoint, on its own listener.
//!
//! - `GET /metrics`: Prometheus text exposition.
//! - `GET /healthz`: 200 while the process runs (liveness).
//! - `GET /readyz`: 200 when a config is loaded, signal handlers are installed, the process is
//!   not draining, and every upstream used by a route has a healthy backend; 503 otherwise,
//!   with the reasons in the body (readiness).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::metrics::Metrics;
use crate::reload::Generations;

/// Asks the admin endpoint at `address` for `path` and returns the HTTP status (used by
/// `vigie health`, so a container image needs no HTTP client).
pub fn probe(address: std::net::SocketAddr, path: &str) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let timeout = std::time::Duration::from_secs(2);
    let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))
}

/// Process-level readiness flags.
#[derive(Debug, Default)]
pub struct Readiness {
    /// The SIGHUP handler is installed (a SIGHUP before that would kill the process).
    pub signals: AtomicBool,
    /// SIGTERM was received.
    pub draining: AtomicBool,
}

/// The admin HTTP application.
pub struct AdminApp {
    generations: Arc<Generations>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
}

impl AdminApp {
    /// An admin endpoint over the given state.
    pub fn new(
        generations: Arc<Generations>,
        metrics: Arc<Metrics>,
        readiness: Arc<Readiness>,
    ) -> AdminApp {
        AdminApp {
            generations,
            metrics,
            readiness,
        }
    }

    /// Why the process is not ready; empty when it is.
    fn not_ready(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.readiness.draining.load(Ordering::Acquire) {
            reasons.push("draining after SIGTERM".to_string());
        }
        if !self.readiness.signals.load(Ordering::Acquire) {
            reasons.push("starting".to_string());
        }
        let generation = self.generations.current();
        for name in generation.unready_upstreams() {
            reasons.push(format!("upstream {name:?} has no healthy backend"));
        }
        for name in generation.providers_without_keys() {
            reasons.push(format!("identity provider {name:?} has no keys yet"));
        }
        for name in generation.saml_without_metadata() {
            reasons.push(format!("SAML provider {name:?} has no IdP metadata yet"));
        }
        reasons
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        let (status, content_type, body) = match path.as_str() {
            "/metrics" => (200, "text/plain; version=0.0.4", self.metrics.render()),
            "/healthz" => (200, "text/plain", b"ok\n".to_vec()),
            "/readyz" => match self.not_ready() {
                reasons if reasons.is_empty() => (200, "text/plain", b"ready\n".to_vec()),
                reasons => (
                    503,
                    "text/plain",
                    format!("not ready: {}\n", reasons.join("; ")).into_bytes(),
                ),
            },
            _ => (
                404,
                "text/plain",
                b"not found: try /metrics, /healthz or /readyz\n".to_vec(),
            ),
        };
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .header("cache-control", "no-store")
            .header("content-length", body.len())
            .body(body)
            .unwrap_or_default()
    }
}
