//! A mock OpenID provider over HTTPS: discovery and a JWKS, with key rotation, outages and
//! a count of fetches under the test's control. Tokens are minted with [`crate::keys`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use tokio::net::TcpListener;

use crate::keys::{TestKey, jwks};
use crate::serve::{self, Reply};

/// A running mock provider.
#[derive(Clone)]
pub struct Idp {
    /// `https://localhost:PORT`, also the `iss` of its tokens.
    pub issuer: String,
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
}

struct State {
    issuer: String,
    jwks: Mutex<String>,
    max_age: AtomicU64,
    up: AtomicBool,
    jwks_fetches: AtomicU64,
}

impl Idp {
    /// Starts a provider serving TLS with the given certificate (for `localhost`).
    pub async fn start(cert_pem: &str, key_pem: &str) -> std::io::Result<Idp> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let issuer = format!("https://localhost:{}", addr.port());
        let state = Arc::new(State {
            issuer: issuer.clone(),
            jwks: Mutex::new(r#"{"keys":[]}"#.into()),
            max_age: AtomicU64::new(300),
            up: AtomicBool::new(true),
            jwks_fetches: AtomicU64::new(0),
        });
        let serving = state.clone();
        let handler: serve::Handler = Arc::new(move |_peer, req| {
            let state = serving.clone();
            Box::pin(async move { state.answer(req.uri().path()) })
        });
        serve::spawn(
            listener,
            Some(serve::tls_acceptor(cert_pem, key_pem)?),
            handler,
        );
        Ok(Idp {
            issuer,
            addr,
            state,
        })
    }

    /// Publishes exactly these keys from now on.
    pub fn set_keys(&self, keys: &[&TestKey]) {
        *self.state.jwks.lock() = jwks(keys);
    }

    /// The `max-age` sent with the JWKS.
    pub fn set_max_age(&self, secs: u64) {
        self.state.max_age.store(secs, Ordering::Release);
    }

    /// `false` makes every answer a 503 (an outage).
    pub fn set_up(&self, up: bool) {
        self.state.up.store(up, Ordering::Release);
    }

    /// JWKS documents served so far.
    pub fn jwks_fetches(&self) -> u64 {
        self.state.jwks_fetches.load(Ordering::Acquire)
    }
}

impl State {
    fn answer(&self, path: &str) -> Reply {
        if !self.up.load(Ordering::Acquire) {
            return Ok(reply(StatusCode::SERVICE_UNAVAILABLE, "down".into(), None));
        }
        Ok(match path {
            "/.well-known/openid-configuration" => {
                let doc = serde_json::json!({ "issuer": self.issuer, "jwks_uri": format!("{}/jwks", self.issuer) });
                reply(StatusCode::OK, doc.to_string(), None)
            }
            "/jwks" => {
                self.jwks_fetches.fetch_add(1, Ordering::AcqRel);
                let body = self.jwks.lock().clone();
                reply(
                    StatusCode::OK,
                    body,
                    Some(self.max_age.load(Ordering::Acquire)),
                )
            }
            _ => reply(StatusCode::NOT_FOUND, "not found".into(), None),
        })
    }
}

fn reply(status: StatusCode, body: String, max_age: Option<u64>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if let Some(age) =
        max_age.and_then(|a| http::HeaderValue::try_from(format!("max-age={a}")).ok())
    {
        resp.headers_mut().insert(http::header::CACHE_CONTROL, age);
    }
    resp
}
