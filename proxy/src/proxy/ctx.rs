//! Per-request state: everything a request learns as it goes through the phases.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use pingora::lb::Backend;
use pingora::protocols::IO;
use pingora::proxy::Session;
use sync_wrapper::SyncWrapper;

use crate::auth::Authenticated;
use crate::forwarded::{self, Forwarded};
use crate::limits::guard::Guarded;
use crate::logging::AccessRecord;
use crate::metrics::Metrics;
use crate::pages::{self, Rejection};
use crate::plugins::{LocalResponse, PluginRun};
use crate::ratelimit::RateHeaders;
use crate::reload::Generation;
use crate::request_id::{self, RequestId};
use crate::routing::Route;
use crate::upstreams::Permit;

/// State of one request (Pingora's `CTX`).
pub struct RequestCtx {
    /// The config generation this request is served with, from start to end.
    pub generation: Arc<Generation>,
    started: Instant,
    request_id: Option<RequestId>,
    forwarded: Option<Forwarded>,
    /// Whether error answers should be JSON.
    pub wants_json: bool,
    /// The route, once selected.
    pub route: Option<Arc<Route>>,
    /// Path (and query) to send upstream when it differs from the client's.
    pub upstream_path: Option<String>,
    /// Backend of the current attempt.
    pub backend: Option<Backend>,
    /// Backends that failed to connect, not to be picked again.
    pub tried: Vec<Backend>,
    /// Vigie's own answer, when it gave one.
    pub rejection: Option<Rejection>,
    /// Who is asking, on a protected route once authenticated.
    pub identity: Option<Authenticated>,
    /// The RateLimit header fields of the limits this request passed.
    pub rate_headers: RateHeaders,
    /// The upstream concurrency slot held until the request ends.
    pub permit: Option<Permit>,
    /// The route's plugins on this request, once they started.
    pub plugins: Option<SyncWrapper<PluginRun>>,
    /// Whether the request has no body (plugins then get no body callback).
    pub plugin_request_eos: bool,
    /// A plugin's answer still to be written (given while the body was read).
    pub plugin_answer: Option<LocalResponse>,
    /// The body replacing the upstream's, when a plugin answered in its response phase.
    pub plugin_body: Option<Vec<u8>>,
    in_flight: Option<prometheus::IntGauge>,
}

impl RequestCtx {
    /// A context for a request starting now under `generation`; counts it as in flight.
    pub fn new(generation: Arc<Generation>, metrics: &Metrics) -> RequestCtx {
        metrics.active_requests.inc();
        RequestCtx {
            generation,
            started: Instant::now(),
            request_id: None,
            forwarded: None,
            wants_json: false,
            route: None,
            upstream_path: None,
            backend: None,
            tried: Vec::new(),
            rejection: None,
            identity: None,
            rate_headers: RateHeaders::default(),
            permit: None,
            plugins: None,
            plugin_request_eos: true,
            plugin_answer: None,
            plugin_body: None,
            in_flight: Some(metrics.active_requests.clone()),
        }
    }

    /// Reads what every later phase needs from the request head.
    pub fn begin(&mut self, session: &mut Session) {
        let limits = &self.generation.limits;
        session.set_keepalive(Some(limits.keepalive_timeout.as_secs().max(1)));
        let req = session.req_header();
        self.request_id = Some(RequestId::accept_or_generate(
            req.headers.get(request_id::HEADER),
        ));
        self.wants_json =
            pages::wants_json(req.headers.get(http::header::ACCEPT).map(|v| v.as_bytes()));
        let peer = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
        let tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
        let req = session.req_header();
        let host = req.uri.authority().map(|a| a.as_str()).or_else(|| {
            req.headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
        });
        self.forwarded = Some(forwarded::resolve(
            peer,
            tls,
            host,
            &req.headers,
            &self.generation.trusted_proxies,
        ));
    }

    /// The request id (generated on the spot if the request never reached `begin`).
    pub fn request_id(&mut self) -> &RequestId {
        self.request_id.get_or_insert_with(RequestId::generate)
    }

    /// Forwarding facts, once `begin` ran.
    pub fn forwarded(&self) -> Option<&Forwarded> {
        self.forwarded.as_ref()
    }

    /// The client's address, once `begin` ran.
    pub fn client(&self) -> Option<IpAddr> {
        self.forwarded.as_ref().map(|f| f.client)
    }

    /// Records metrics and the access-log line, and tells the connection guard the request is over.
    pub fn finish(&mut self, session: &Session) {
        let elapsed = self.started.elapsed();
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .or(self.rejection.as_ref().map(Rejection::status))
            .unwrap_or(0);
        let route_metrics = self
            .route
            .as_ref()
            .map_or(&self.generation.unrouted, |r| &r.metrics);
        route_metrics.observe(status, elapsed);
        if self.generation.config.logging.access_log {
            let req = session.req_header();
            let request_id = self.request_id().clone();
            AccessRecord {
                request_id: request_id.as_str(),
                route: self.route.as_ref().map_or("", |r| r.spec.name.as_str()),
                client: self.client(),
                method: req.method.as_str(),
                path: req.uri.path(),
                status,
                bytes: session.body_bytes_sent(),
                duration: elapsed,
                upstream: self
                    .backend
                    .as_ref()
                    .and_then(|b| b.addr.as_inet().copied()),
                generation: self.generation.id,
            }
            .emit();
        }
        if let Some(gauge) = self.in_flight.take() {
            gauge.dec();
        }
        if let Some(mut run) = self.plugins.take() {
            run.get_mut().finish();
        }
        let stream = session.as_downstream().stream();
        if let Some(guard) = stream.and_then(|s| {
            let io: &dyn IO = s.as_ref();
            io.as_any().downcast_ref::<Guarded>()
        }) {
            guard.request_done();
        }
    }
}

impl Drop for RequestCtx {
    fn drop(&mut self) {
        // A request that never reached `logging` still leaves the in-flight count.
        if let Some(gauge) = self.in_flight.take() {
            gauge.dec();
        }
    }
}
