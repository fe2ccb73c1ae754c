//! Where a provider's keys come from: its JWKS over HTTPS, found by OpenID discovery when no
//! `jwks_uri` is configured. Behind a trait so the key store is tested without I/O.

use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::keys::{KeySet, KeysError, MAX_JWKS_SIZE};

/// A fetched key set and how long the provider says it stays fresh.
#[derive(Debug)]
pub struct Fetched {
    /// The keys.
    pub keys: KeySet,
    /// `Cache-Control: max-age`, when given (`no-cache`/`no-store` count as zero).
    pub max_age: Option<Duration>,
}

/// Why keys could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connection, TLS or timeout.
    #[error("request to {url} failed: {reason}")]
    Request {
        /// What was asked.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// An answer other than 200.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// What was asked.
        url: String,
        /// The status.
        status: u16,
    },
    /// The discovery document is unusable.
    #[error("discovery at {url}: {reason}")]
    Discovery {
        /// What was asked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The JWKS is unusable.
    #[error("{url}: {source}")]
    Keys {
        /// What was asked.
        url: String,
        /// What is wrong with it.
        source: KeysError,
    },
}

/// Something that returns a provider's current key set.
#[async_trait]
pub trait KeySource: Send + Sync {
    /// Fetches the key set now.
    async fn fetch(&self) -> Result<Fetched, FetchError>;
}

/// Keys over HTTPS, with discovery.
pub struct HttpKeySource {
    client: reqwest::Client,
    issuer: String,
    /// Configured, or found by discovery (then kept).
    jwks_uri: Mutex<Option<String>>,
}

// === impl HttpKeySource ===

impl HttpKeySource {
    /// A source for `issuer`; `ca_pem` replaces the system roots when given.
    pub fn new(
        issuer: &str,
        jwks_uri: Option<&str>,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<HttpKeySource, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())?;
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(HttpKeySource {
            client: builder.build().map_err(|e| e.to_string())?,
            issuer: issuer.to_string(),
            jwks_uri: Mutex::new(jwks_uri.map(str::to_string)),
        })
    }

    async fn get(&self, url: &str) -> Result<(Vec<u8>, Option<Duration>), FetchError> {
        let failed = |e: reqwest::Error| FetchError::Request {
            url: url.to_string(),
            reason: e.to_string(),
        };
        let mut resp = self.client.get(url).send().await.map_err(failed)?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: resp.status().as_u16(),
            });
        }
        let max_age = resp
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > MAX_JWKS_SIZE {
                return Err(FetchError::Keys {
                    url: url.to_string(),
                    source: KeysError::TooLarge,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age))
    }

    /// The JWKS address: configured, or from the discovery document (whose `issuer` must
    /// be exactly ours).
    async fn jwks_uri(&self) -> Result<String, FetchError> {
        if let Some(uri) = self.jwks_uri.lock().clone() {
            return Ok(uri);
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let (body, _) = self.get(&url).await?;
        let bad = |reason: &str| FetchError::Discovery {
            url: url.clone(),
            reason: reason.to_string(),
        };
        let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|_| bad("not JSON"))?;
        if doc["issuer"].as_str() != Some(self.issuer.as_str()) {
            return Err(bad("its `issuer` is not the configured issuer"));
        }
        let uri = doc["jwks_uri"]
            .as_str()
            .ok_or_else(|| bad("no `jwks_uri`"))?
            .to_string();
        if !super::provider::is_acceptable_url(&uri) {
            return Err(bad("`jwks_uri` must be https (or http on loopback)"));
        }
        *self.jwks_uri.lock() = Some(uri.clone());
        Ok(uri)
    }
}

#[async_trait]
impl KeySource for HttpKeySource {
    async fn fetch(&self) -> Result<Fetched, FetchError> {
        let url = self.jwks_uri().await?;
        let (body, max_age) = self.get(&url).await?;
        let keys = KeySet::parse(&body).map_err(|source| FetchError::Keys { url, source })?;
        Ok(Fetched { keys, max_age })
    }
}

/// `max-age` from a Cache-Control value; `no-cache` and `no-store` mean zero.
pub fn max_age(cache_control: &str) -> Option<Duration> {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
#[test]
fn cache_control_max_age() {
    assert_eq!(
        max_age("public, max-age=600"),
        Some(Duration::from_secs(600))
    );
    assert_eq!(max_age("max-age=600, no-store"), Some(Duration::ZERO));
    assert_eq!(max_age("private"), None);
    assert_eq!(max_age("max-age=abc"), None);
}
