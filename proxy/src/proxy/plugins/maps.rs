//! Pingora's requests and responses as the plugin driver sees them, and back.
//!
//! Request maps carry `:authority`, `:path`, `:method`, `:scheme` first (HTTP/2 style, as
//! Envoy gives them; `Host` becomes `:authority`), response maps `:status`. What plugins
//! change is written back into the real request or response: method, path (the route's
//! rewrite then applies to the new path), `Host`, status and the headers that differ.

use std::net::SocketAddr;

use pingora::Result;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::proxy::Session;

use crate::plugins::{HeaderList, RequestFacts};
use crate::proxy::ctx::RequestCtx;
use crate::routing::Route;

/// Why a plugin's change cannot be applied.
#[derive(Debug, thiserror::Error)]
#[error("a plugin set an invalid {0}")]
pub(in crate::proxy) struct BadChange(&'static str);

/// What plugins know of the request.
pub(in crate::proxy) fn facts(
    session: &Session,
    ctx: &mut RequestCtx,
    route: &Route,
) -> RequestFacts {
    let req = session.req_header();
    let inet = |a: Option<&pingora::protocols::l4::socket::SocketAddr>| -> Option<SocketAddr> {
        a.and_then(|a| a.as_inet()).copied()
    };
    let tls = session.digest().and_then(|d| d.ssl_digest.clone());
    let scheme = if tls.is_some() { "https" } else { "http" };
    RequestFacts {
        id: ctx.request_id().as_str().to_string(),
        method: req.method.as_str().to_string(),
        path: path_and_query(req).to_string(),
        scheme,
        host: authority(req).to_string(),
        protocol: match req.version {
            http::Version::HTTP_2 => "HTTP/2",
            http::Version::HTTP_10 => "HTTP/1.0",
            _ => "HTTP/1.1",
        },
        time: std::time::SystemTime::now(),
        started: std::time::Instant::now(),
        source: inet(session.client_addr()),
        destination: inet(session.server_addr()),
        tls_version: tls.map(|t| t.version.to_string()),
        server_name: None,
        route: route.name.clone(),
        upstream: route.audience.clone(),
        identity: ctx.identity.as_ref().map(|a| a.identity.clone()),
    }
}

fn path_and_query(req: &RequestHeader) -> &str {
    req.uri.path_and_query().map_or("/", |p| p.as_str())
}

fn authority(req: &RequestHeader) -> &str {
    req.uri.authority().map(|a| a.as_str()).unwrap_or_else(|| {
        req.headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
    })
}

/// The request head as a plugin map.
pub(in crate::proxy) fn request_map(req: &RequestHeader, scheme: &str) -> HeaderList {
    let mut map = HeaderList(Vec::with_capacity(req.headers.len() + 4));
    map.add(b":authority", authority(req).as_bytes());
    map.add(b":path", path_and_query(req).as_bytes());
    map.add(b":method", req.method.as_str().as_bytes());
    map.add(b":scheme", scheme.as_bytes());
    for (name, value) in &req.headers {
        if name != http::header::HOST {
            map.0
                .push((name.as_str().as_bytes().to_vec(), value.as_bytes().to_vec()));
        }
    }
    map
}

/// Writes `map` into `req`; `Ok(Some(path))` when the path changed.
pub(in crate::proxy) fn apply_request_map(
    map: &HeaderList,
    req: &mut RequestHeader,
) -> Result<Option<String>, BadChange> {
    if let Some(method) = map.get(b":method")
        && method != req.method.as_str().as_bytes()
    {
        let method = http::Method::from_bytes(method).map_err(|_| BadChange(":method"))?;
        req.set_method(method);
    }
    let mut new_path = None;
    if let Some(path) = map.get(b":path")
        && path != path_and_query(req).as_bytes()
    {
        let uri = http::Uri::builder()
            .path_and_query(path)
            .build()
            .map_err(|_| BadChange(":path"))?;
        new_path = Some(uri.path_and_query().map_or("/", |p| p.as_str()).to_string());
        req.set_uri(uri);
    }
    if let Some(host) = map.get(b":authority").filter(|h| !h.is_empty())
        && req.headers.get(http::header::HOST).map(|h| h.as_bytes()) != Some(host)
    {
        let host = http::HeaderValue::from_bytes(host).map_err(|_| BadChange(":authority"))?;
        req.insert_header(http::header::HOST, host)
            .map_err(|_| BadChange(":authority"))?;
    }
    apply_headers(req, map)?;
    Ok(new_path)
}

/// A request or response head whose headers plugins may change.
trait Head {
    fn headers(&self) -> &http::HeaderMap;
    fn remove(&mut self, name: &http::HeaderName);
    fn append(&mut self, name: http::HeaderName, value: http::HeaderValue) -> Result<()>;
}

macro_rules! head {
    ($($ty:ty),*) => {$(
        impl Head for $ty {
            fn headers(&self) -> &http::HeaderMap {
                &self.headers
            }
            fn remove(&mut self, name: &http::HeaderName) {
                self.remove_header(name);
            }
            fn append(&mut self, name: http::HeaderName, value: http::HeaderValue) -> Result<()> {
                self.append_header(name, value).map(|_| ())
            }
        }
    )*};
}

head!(RequestHeader, ResponseHeader);

/// Makes `head`'s headers those of `map` (pseudo-headers aside; `Host` stands for
/// `:authority`), touching only the names whose values differ.
fn apply_headers(head: &mut impl Head, map: &HeaderList) -> Result<(), BadChange> {
    let gone: Vec<http::HeaderName> = head
        .headers()
        .keys()
        .filter(|k| *k != http::header::HOST && map.get(k.as_str().as_bytes()).is_none())
        .cloned()
        .collect();
    for name in &gone {
        head.remove(name);
    }
    let mut done: Vec<&[u8]> = Vec::new();
    for (name, _) in map.0.iter().filter(|(n, _)| !n.starts_with(b":")) {
        if done.contains(&name.as_slice()) {
            continue;
        }
        done.push(name);
        let header = http::HeaderName::from_bytes(name).map_err(|_| BadChange("header name"))?;
        let wanted = map
            .0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice());
        let have = head.headers().get_all(&header).iter().map(|v| v.as_bytes());
        if wanted.clone().eq(have) {
            continue;
        }
        head.remove(&header);
        for value in wanted {
            let value =
                http::HeaderValue::from_bytes(value).map_err(|_| BadChange("header value"))?;
            head.append(header.clone(), value)
                .map_err(|_| BadChange("header"))?;
        }
    }
    Ok(())
}

/// Writes `map` into `resp`: its status and the headers that differ.
pub(in crate::proxy) fn apply_response_map(
    map: &HeaderList,
    resp: &mut ResponseHeader,
) -> Result<(), BadChange> {
    if let Some(status) = map.get(b":status")
        && status != resp.status.as_str().as_bytes()
    {
        let status = std::str::from_utf8(status)
            .ok()
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or(BadChange(":status"))?;
        resp.set_status(status).map_err(|_| BadChange(":status"))?;
    }
    apply_headers(resp, map)
}

/// The response head as a plugin map.
pub(in crate::proxy) fn response_map(resp: &ResponseHeader) -> HeaderList {
    let mut map = HeaderList(Vec::with_capacity(resp.headers.len() + 1));
    map.add(b":status", resp.status.as_str().as_bytes());
    for (name, value) in &resp.headers {
        map.0
            .push((name.as_str().as_bytes().to_vec(), value.as_bytes().to_vec()));
    }
    map
}

/// A response head from `map` (status from `:status`, 200 if absent).
pub(in crate::proxy) fn response_from_map(map: &HeaderList) -> Result<ResponseHeader, BadChange> {
    let status = map
        .get(b":status")
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or(200);
    let mut resp =
        ResponseHeader::build(status, Some(map.len())).map_err(|_| BadChange(":status"))?;
    for (name, value) in map.0.iter().filter(|(n, _)| !n.starts_with(b":")) {
        let name = http::HeaderName::from_bytes(name).map_err(|_| BadChange("header name"))?;
        let value = http::HeaderValue::from_bytes(value).map_err(|_| BadChange("header value"))?;
        resp.append_header(name, value)
            .map_err(|_| BadChange("header"))?;
    }
    Ok(resp)
}
