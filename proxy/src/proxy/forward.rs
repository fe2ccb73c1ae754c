//! Pure request and response shaping: which route admits a request, what the upstream
//! receives, what the client gets back.

use std::net::IpAddr;
use std::sync::Arc;

use pingora::Result;
use pingora::http::{RequestHeader, ResponseHeader};

use super::RequestCtx;
use crate::auth::Identity;
use crate::pages::{Page, Rejection};
use crate::ratelimit::{self, RateLimit, Requester};
use crate::reload::Generation;
use crate::request_id;
use crate::routing::{Route, normalize_path};
use crate::upstreams::HashKey;

/// Headers describing the client that only Vigie may set; client-sent copies are dropped.
const FORWARDING_HEADERS: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
];
/// Response headers meaningful for one connection only (RFC 9110 §7.6.1), never passed on.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
];

/// A request a route accepted.
#[derive(Debug)]
pub(super) struct Admitted {
    /// The route.
    pub(super) route: Arc<Route>,
    /// Path and query for the upstream when they differ from the client's.
    pub(super) upstream_path: Option<String>,
}

/// Where Vigie publishes the keys of its identity assertions.
const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Vigie's JWKS, when the request asks for it and assertions are configured.
pub(super) fn jwks_request(generation: &Generation, req: &RequestHeader) -> Option<Page> {
    if req.uri.path() != JWKS_PATH || !matches!(req.method, http::Method::GET | http::Method::HEAD)
    {
        return None;
    }
    let body = generation.auth.jwks()?;
    Some(Page {
        status: 200,
        headers: vec![
            ("content-type", "application/jwk-set+json".into()),
            ("cache-control", "public, max-age=300".into()),
        ],
        body,
    })
}

/// Whether the request is a browser navigating (worth a redirect to the login page rather
/// than a 401): a GET or HEAD asking for HTML.
pub(super) fn is_navigation(req: &RequestHeader) -> bool {
    matches!(req.method, http::Method::GET | http::Method::HEAD)
        && req
            .headers
            .get(http::header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
}

/// The login page, with this request as where to come back.
pub(super) fn login_location(req: &RequestHeader) -> String {
    let here = req.uri.path_and_query().map_or("/", |p| p.as_str());
    let encoded: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
    format!("/vigie/login?return_to={encoded}")
}

/// Normalises the path and selects the route, or says why the request is refused.
pub(super) fn admit(generation: &Generation, req: &RequestHeader) -> Result<Admitted, Rejection> {
    let raw = req.uri.path();
    let path = normalize_path(raw).map_err(Rejection::BadPath)?;
    let host = req.uri.host().or_else(|| {
        req.headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
    });
    let route = generation
        .routes
        .select(host, &path)
        .ok_or(Rejection::NoRoute)?
        .clone();
    let target = route.upstream_path(&path);
    let upstream_path = (target != raw).then(|| match req.uri.query() {
        Some(q) => format!("{target}?{q}"),
        None => target.into_owned(),
    });
    Ok(Admitted {
        route,
        upstream_path,
    })
}

/// Counts the request against `limits` of its route (`identity` once authenticated); the
/// refusal to send when one is exceeded.
pub(super) fn rate_limit(
    ctx: &mut RequestCtx,
    route: &Route,
    limits: &[Arc<RateLimit>],
    identity: Option<&Identity>,
) -> Result<(), Rejection> {
    if limits.is_empty() {
        return Ok(());
    }
    let who = Requester {
        client: ctx.client().unwrap_or(IpAddr::from([0, 0, 0, 0])),
        identity,
        route: &route.name,
    };
    ratelimit::check_all(limits, &who, &mut ctx.rate_headers)
        .map_err(|refusal| Rejection::RateLimited(Box::new(refusal)))
}

/// The bytes consistent hashing uses to pick a backend.
pub(super) fn hash_key(key: &HashKey, req: &RequestHeader, client: Option<IpAddr>) -> Vec<u8> {
    match key {
        HashKey::ClientAddress => client
            .map(|ip| ip.to_string().into_bytes())
            .unwrap_or_default(),
        HashKey::Path => req.uri.path().as_bytes().to_vec(),
        HashKey::Header(name) => req
            .headers
            .get(name)
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default(),
        HashKey::Cookie(name) => req
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_bytes().to_vec())
            .unwrap_or_default(),
    }
}

/// Shapes the request sent upstream: rewritten path, forwarding headers, route rules.
pub(super) fn upstream_request(req: &mut RequestHeader, ctx: &mut RequestCtx) -> Result<()> {
    if let Some(path) = &ctx.upstream_path {
        let uri = http::Uri::builder()
            .path_and_query(path.as_str())
            .build()
            .map_err(|e| {
                pingora::Error::because(pingora::ErrorType::InternalError, "rewritten path", e)
            })?;
        req.set_uri(uri);
    }
    for name in FORWARDING_HEADERS {
        req.remove_header(*name);
    }
    // Identity headers come from Vigie only: client-sent copies go, on every route.
    let auth = &ctx.generation.auth;
    let spoofed: Vec<http::HeaderName> = req
        .headers
        .keys()
        .filter(|n| auth.is_stripped(n))
        .cloned()
        .collect();
    for name in &spoofed {
        req.remove_header(name);
    }
    if let (Some(who), Some(route)) = (&ctx.identity, &ctx.route)
        && let crate::auth::Access::Protected(rule) = &route.spec.access
    {
        for (name, value) in
            auth.upstream_headers(who, rule, &route.audience, crate::sessions::unix_now())
        {
            req.insert_header(name, value)?;
        }
    }
    req.insert_header(request_id::HEADER, ctx.request_id().header_value())?;
    if let Some(f) = ctx.forwarded() {
        if !f.peer_trusted {
            req.remove_header("forwarded");
        }
        req.insert_header("x-forwarded-for", f.for_chain.as_str())?;
        req.insert_header("x-forwarded-proto", f.proto)?;
        if let Some(host) = &f.host {
            req.insert_header("x-forwarded-host", host.as_str())?;
        }
        req.insert_header("x-real-ip", f.client.to_string())?;
    }
    if let Some(route) = &ctx.route {
        route.spec.request_headers.apply_to_request(req)?;
    }
    Ok(())
}

/// Shapes the response sent to the client: no hop-by-hop headers (except on a protocol
/// switch, which needs them), the request id, route rules.
pub(super) fn client_response(resp: &mut ResponseHeader, ctx: &mut RequestCtx) -> Result<()> {
    if resp.status != http::StatusCode::SWITCHING_PROTOCOLS {
        let nominated: Vec<String> = resp
            .headers
            .get_all(http::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty() && t != "close" && t != "keep-alive")
            .collect();
        for name in nominated
            .iter()
            .map(String::as_str)
            .chain(HOP_BY_HOP.iter().copied())
        {
            resp.remove_header(name);
        }
    }
    resp.insert_header(request_id::HEADER, ctx.request_id().header_value())?;
    if !ctx.rate_headers.is_empty() {
        for (name, value) in ctx.rate_headers.fields() {
            resp.insert_header(name, value)?;
        }
    }
    if let Some(route) = &ctx.route {
        route.spec.response_headers.apply_to_response(resp)?;
    }
    Ok(())
}
