//! A demo upstream: a real HTTP server (hyper) on a loopback port.
//!
//! Paths it serves:
//! - `/healthz`: 200 `ok` (or 503 after [`Upstream::set_healthy`]`(false)`).
//! - `/__slow/MS`: answers after MS milliseconds (timeouts).
//! - `/__status/CODE`: answers with that status.
//! - `/__ws`: a WebSocket-style upgrade (101), then echoes every byte back.
//! - `/__hop`: an answer carrying hop-by-hop headers (`Keep-Alive`, `Proxy-Connection`, and
//!   `X-Secret` nominated by `Connection`), which a proxy must not pass on.
//! - anything else: a JSON echo of the request as received (method, path, query, headers,
//!   HTTP version, which server answered, body length), or, for browsers, an HTML page
//!   showing it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A running upstream; dropping it does not stop it (it lives as long as its runtime).
#[derive(Clone)]
pub struct Upstream {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
}

struct State {
    name: String,
    healthy: AtomicBool,
    requests: AtomicU64,
}

impl Upstream {
    /// Starts an upstream called `name` on `addr` (`127.0.0.1:0` for any free port).
    pub async fn start(name: &str, addr: SocketAddr) -> std::io::Result<Upstream> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            name: name.to_string(),
            healthy: AtomicBool::new(true),
            requests: AtomicU64::new(0),
        });
        let serving = state.clone();
        let handler: crate::serve::Handler =
            Arc::new(move |peer, req| Box::pin(handle(serving.clone(), peer, req)));
        crate::serve::spawn(listener, None, handler);
        Ok(Upstream { addr, state })
    }

    /// Makes `/healthz` answer 200 (`true`) or 503 (`false`).
    pub fn set_healthy(&self, healthy: bool) {
        self.state.healthy.store(healthy, Ordering::Release);
    }

    /// Requests answered so far (health checks excluded).
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Acquire)
    }
}

async fn handle(
    state: Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    if path == "/healthz" {
        let ok = state.healthy.load(Ordering::Acquire);
        let status = if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return Ok(text(status, if ok { "ok\n" } else { "unhealthy\n" }));
    }
    state.requests.fetch_add(1, Ordering::AcqRel);
    if let Some(ms) = path.strip_prefix("/__slow/").and_then(|ms| ms.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(code) = path
        .strip_prefix("/__status/")
        .and_then(|c| c.parse::<u16>().ok())
    {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
        return Ok(text(status, "status as asked\n"));
    }
    if path == "/__ws" {
        return Ok(upgrade(req));
    }
    if path == "/__hop" {
        let mut resp = text(StatusCode::OK, "hop-by-hop headers\n");
        let h = resp.headers_mut();
        h.insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("X-Secret"),
        );
        h.insert("x-secret", http::HeaderValue::from_static("s"));
        h.insert("keep-alive", http::HeaderValue::from_static("timeout=5"));
        h.insert(
            "proxy-connection",
            http::HeaderValue::from_static("keep-alive"),
        );
        h.insert("x-kept", http::HeaderValue::from_static("yes"));
        return Ok(resp);
    }
    let mut echo = echo(&state.name, peer, &req);
    let browser = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    echo["body_len"] = body.len().into();
    Ok(if browser {
        html(&state.name, &echo)
    } else {
        json(&echo)
    })
}

fn echo(name: &str, peer: SocketAddr, req: &Request<Incoming>) -> serde_json::Value {
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .keys()
        .map(|k| {
            let values: Vec<serde_json::Value> = req
                .headers()
                .get_all(k)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned().into())
                .collect();
            (k.as_str().to_string(), values.into())
        })
        .collect();
    serde_json::json!({
        "server": name,
        "peer": peer.to_string(),
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": req.uri().query(),
        "version": format!("{:?}", req.version()),
        "headers": headers,
    })
}

fn upgrade(req: Request<Incoming>) -> Response<Full<Bytes>> {
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(req).await {
            let mut io = TokioIo::new(upgraded);
            let mut buf = [0u8; 4096];
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    });
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    resp.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("upgrade"),
    );
    resp.headers_mut().insert(
        http::header::UPGRADE,
        http::HeaderValue::from_static("websocket"),
    );
    resp
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    resp
}

fn json(echo: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(echo.to_string())));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn html(name: &str, echo: &serde_json::Value) -> Response<Full<Bytes>> {
    let pretty = serde_json::to_string_pretty(echo).unwrap_or_default();
    let escaped = pretty
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{name} (démo)</title></head>\
         <body style=\"font-family:Marianne,arial,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem\">\
         <h1>{name} <small>(service de démonstration)</small></h1>\
         <p>Cette page est servie par un service de démonstration placé derrière Vigie. Voici la requête telle qu'il l'a reçue&nbsp;:</p>\
         <pre style=\"background:#f6f6f6;padding:1rem;overflow:auto\">{escaped}</pre></body></html>"
    );
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}
