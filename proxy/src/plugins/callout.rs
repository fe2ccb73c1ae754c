//! Plugin callouts (`proxy_http_call`) to Vigie's named upstreams.
//!
//! A callout names an upstream of the config (never a free URL: a plugin reaches only what the
//! operator declared) and goes to one of its healthy backends, with the upstream's TLS
//! settings; `:authority` becomes the `Host`. The answer's body is read up to
//! [`MAX_ANSWER_BODY`]; a larger one, a timeout or a connection failure is a failed callout
//! (the plugin gets `proxy_on_http_call_response` with no headers).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;

use super::runtime::Transport;
use super::state::{Callout, CalloutAnswer, HeaderList};
use crate::upstreams::Pool;

/// Largest callout answer body.
pub const MAX_ANSWER_BODY: usize = 1 << 20;

/// An upstream and its callout client, built on first use.
type Target = (Arc<Pool>, OnceLock<Result<reqwest::Client, String>>);

/// Callouts over the upstream pools of one configuration generation.
pub struct UpstreamTransport {
    upstreams: BTreeMap<String, Target>,
}

impl UpstreamTransport {
    /// Callouts to `upstreams` (clients are built on first use).
    pub fn new(upstreams: &BTreeMap<String, Arc<Pool>>) -> UpstreamTransport {
        UpstreamTransport {
            upstreams: upstreams
                .iter()
                .map(|(name, pool)| (name.clone(), (pool.clone(), OnceLock::new())))
                .collect(),
        }
    }
}

/// A client for `pool`: its CA, verification and SNI (resolved to its backends).
fn client(pool: &Pool) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(pool.spec.connect_timeout)
        .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")));
    if let Some(tls) = &pool.spec.tls {
        let addrs: Vec<_> = pool.spec.addresses().collect();
        builder = builder.resolve_to_addrs(&tls.sni, &addrs);
        if let Some((_, certs)) = &tls.ca {
            builder = builder.tls_built_in_root_certs(false);
            for der in certs {
                let cert = reqwest::Certificate::from_der(der).map_err(|e| e.to_string())?;
                builder = builder.add_root_certificate(cert);
            }
        }
        if !tls.verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

impl Transport for UpstreamTransport {
    fn send(&self, callout: Callout) -> BoxFuture<'static, Result<CalloutAnswer, String>> {
        let Some((pool, client)) = self.upstreams.get(&callout.upstream) else {
            let name = callout.upstream.clone();
            return Box::pin(async move { Err(format!("no upstream named {name}")) });
        };
        let client = client.get_or_init(|| self::client(pool)).clone();
        let url = match &pool.spec.tls {
            Some(tls) => {
                let port = pool.spec.addresses().next().map_or(443, |a| a.port());
                Ok(format!("https://{}:{port}", tls.sni))
            }
            None => pool
                .select(b"", |_| false)
                .and_then(|b| b.addr.as_inet().copied())
                .map(|a| format!("http://{a}"))
                .ok_or_else(|| format!("no healthy backend in {}", callout.upstream)),
        };
        Box::pin(async move {
            let client = client?;
            let url = url?;
            exchange(&client, &url, callout).await
        })
    }
}

/// Sends `callout` to `base` and reads the answer.
async fn exchange(
    client: &reqwest::Client,
    base: &str,
    callout: Callout,
) -> Result<CalloutAnswer, String> {
    let text = |name: &[u8]| {
        callout
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    let method =
        http::Method::from_bytes(text(b":method").as_bytes()).map_err(|e| e.to_string())?;
    let mut request = client
        .request(method, format!("{base}{}", text(b":path")))
        .timeout(callout.timeout)
        .header(http::header::HOST, text(b":authority"));
    for (name, value) in &callout.headers.0 {
        if name.starts_with(b":") || name.eq_ignore_ascii_case(b"host") {
            continue;
        }
        request = request.header(name.as_slice(), value.as_slice());
    }
    let mut response = request
        .body(callout.body)
        .send()
        .await
        .map_err(|e| format!("{e}"))?;
    let mut headers = HeaderList::default();
    headers.add(b":status", response.status().as_str().as_bytes());
    for (name, value) in response.headers() {
        headers.add(name.as_str().as_bytes(), value.as_bytes());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("{e}"))? {
        if body.len() + chunk.len() > MAX_ANSWER_BODY {
            return Err(format!("the answer is larger than {MAX_ANSWER_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(CalloutAnswer {
        headers,
        body,
        trailers: HeaderList::default(),
    })
}
