//! Properties (`proxy_get_property`): Envoy's attribute names for the request, the connection
//! and the plugin, and Vigie's identity under `vigie.*` (PROXY-WASM.md §2.4).
//!
//! Values are encoded as Envoy encodes them: strings raw, integers as 8 little-endian bytes,
//! booleans as one byte, times as nanoseconds (`i64`), lists as a proxy-wasm map whose keys
//! are the items. Names a request does not have (no TLS, no identity) are `NOT_FOUND`.
//!
//! | path | value |
//! |---|---|
//! | `request.{path,url_path,query,host,scheme,method,protocol,id,referer,useragent}` | string |
//! | `request.headers.NAME` | the header's values, joined by `,` |
//! | `request.{time,duration}` | start (ns since 1970), time since then (ns) |
//! | `request.size` | the request's `content-length` |
//! | `response.code` | the response status (in response callbacks) |
//! | `response.headers.NAME` | as for requests |
//! | `source.{address,port}`, `destination.{address,port}` | `ip:port`, port |
//! | `connection.{id,mtls,tls_version,requested_server_name}` | |
//! | `xds.{route_name,cluster_name}` | Vigie's route and upstream names |
//! | `plugin_name`, `plugin_root_id`, `plugin_vm_id` | |
//! | `vigie.{subject,issuer,profile,acr}` | the authenticated person (string) |
//! | `vigie.{school_ids,children_ids}` | lists |

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::abi::{self, Status};
use super::runtime::PluginInfo;
use super::state::StreamState;
use crate::auth::Identity;

/// What Vigie knows of a request when its plugins start.
#[derive(Clone, Debug)]
pub struct RequestFacts {
    /// Vigie's request id.
    pub id: String,
    /// Method.
    pub method: String,
    /// Path and query as the client sent them.
    pub path: String,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Host (authority).
    pub host: String,
    /// `HTTP/1.1`, `HTTP/2`...
    pub protocol: &'static str,
    /// Wall-clock start.
    pub time: SystemTime,
    /// Monotonic start.
    pub started: Instant,
    /// The client's address and port (the connection's peer).
    pub source: Option<SocketAddr>,
    /// Vigie's address and port.
    pub destination: Option<SocketAddr>,
    /// The TLS version, on a TLS connection.
    pub tls_version: Option<String>,
    /// The SNI the client asked for.
    pub server_name: Option<String>,
    /// The route's name.
    pub route: Arc<str>,
    /// The route's upstream.
    pub upstream: Arc<str>,
    /// Who is asking, on a protected route.
    pub identity: Option<Arc<Identity>>,
}

impl RequestFacts {
    /// Facts for a request made outside any connection (`vigie plugin test`, tests).
    pub fn offline(method: &str, path: &str, host: &str) -> RequestFacts {
        RequestFacts {
            id: "offline".into(),
            method: method.into(),
            path: path.into(),
            scheme: "https",
            host: host.into(),
            protocol: "HTTP/1.1",
            time: SystemTime::now(),
            started: Instant::now(),
            source: None,
            destination: None,
            tls_version: None,
            server_name: None,
            route: "".into(),
            upstream: "".into(),
            identity: None,
        }
    }
}

/// The value of the property at `path` (segments as the guest sent them).
pub fn property(
    plugin: &PluginInfo,
    stream: Option<&StreamState>,
    path: &[&[u8]],
) -> Result<Vec<u8>, Status> {
    if let Some(v) = stream.and_then(|s| s.properties.get(&path.join(&0u8))) {
        return Ok(v.clone());
    }
    let text = |s: &str| Ok(s.as_bytes().to_vec());
    match path {
        [b"plugin_name"] => return text(&plugin.name),
        [b"plugin_root_id"] => return text(&plugin.root_id),
        [b"plugin_vm_id"] => return text(&plugin.vm_id),
        _ => {}
    }
    let stream = stream.ok_or(Status::NotFound)?;
    let facts = &stream.facts;
    let int = |n: i64| Ok(n.to_le_bytes().to_vec());
    let (url_path, query) = match facts.path.split_once('?') {
        Some((p, q)) => (p, q),
        None => (facts.path.as_str(), ""),
    };
    match path {
        [b"request", b"path"] => text(&facts.path),
        [b"request", b"url_path"] => text(url_path),
        [b"request", b"query"] => text(query),
        [b"request", b"host"] => text(&facts.host),
        [b"request", b"scheme"] => text(facts.scheme),
        [b"request", b"method"] => text(&facts.method),
        [b"request", b"protocol"] => text(facts.protocol),
        [b"request", b"id"] => text(&facts.id),
        [b"request", b"referer"] => joined(&stream.request, b"referer"),
        [b"request", b"useragent"] => joined(&stream.request, b"user-agent"),
        [b"request", b"headers", name] => joined(&stream.request, name),
        [b"request", b"time"] => int(nanos_since_epoch(facts.time)),
        [b"request", b"duration"] => int(facts.started.elapsed().as_nanos() as i64),
        [b"request", b"size"] => {
            let n = stream
                .request
                .get(b"content-length")
                .ok_or(Status::NotFound)?;
            let n = std::str::from_utf8(n)
                .ok()
                .and_then(|n| n.parse::<i64>().ok());
            int(n.ok_or(Status::NotFound)?)
        }
        [b"response", b"code"] => {
            let code = stream.response.get(b":status").ok_or(Status::NotFound)?;
            let code = std::str::from_utf8(code).ok().and_then(|c| c.parse().ok());
            int(code.ok_or(Status::NotFound)?)
        }
        [b"response", b"headers", name] => joined(&stream.response, name),
        [b"source", b"address"] => text(&facts.source.ok_or(Status::NotFound)?.to_string()),
        [b"source", b"port"] => int(facts.source.ok_or(Status::NotFound)?.port().into()),
        [b"destination", b"address"] => {
            text(&facts.destination.ok_or(Status::NotFound)?.to_string())
        }
        [b"destination", b"port"] => int(facts.destination.ok_or(Status::NotFound)?.port().into()),
        [b"connection", b"mtls"] => Ok(vec![0]),
        [b"connection", b"tls_version"] => {
            text(facts.tls_version.as_deref().ok_or(Status::NotFound)?)
        }
        [b"connection", b"requested_server_name"] => {
            text(facts.server_name.as_deref().ok_or(Status::NotFound)?)
        }
        [b"xds", b"route_name"] => text(&facts.route),
        [b"xds", b"cluster_name"] => text(&facts.upstream),
        [b"vigie", field] => identity(facts.identity.as_deref().ok_or(Status::NotFound)?, field),
        _ => Err(Status::NotFound),
    }
}

/// `vigie.FIELD` of `who`.
fn identity(who: &Identity, field: &[u8]) -> Result<Vec<u8>, Status> {
    let text = |s: Option<&str>| s.map(|s| s.as_bytes().to_vec()).ok_or(Status::NotFound);
    let list = |items: &[String]| abi::serialize_list(items.iter().map(|i| i.as_bytes()));
    match field {
        b"subject" => text(Some(&who.subject)),
        b"issuer" => text(Some(&who.provider)),
        b"profile" => text(who.profile.as_deref()),
        b"acr" => text(who.acr.as_deref()),
        b"school_ids" => Ok(list(&who.school_ids)),
        b"children_ids" => Ok(list(&who.children_ids)),
        _ => Err(Status::NotFound),
    }
}

/// The values of header `name`, joined by `,` (Envoy's attribute form).
fn joined(headers: &super::state::HeaderList, name: &[u8]) -> Result<Vec<u8>, Status> {
    let mut out: Option<Vec<u8>> = None;
    for (_, v) in headers
        .0
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        match &mut out {
            Some(o) => {
                o.push(b',');
                o.extend_from_slice(v);
            }
            None => out = Some(v.clone()),
        }
    }
    out.ok_or(Status::NotFound)
}

fn nanos_since_epoch(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}
