//! Where a provider's keys come from: its JWKS over HTTPS, found by OpenID discovery when no
//! `jwks_uri` is configured. Behind a trait so the key store is tested without I/O. Also the
//! HTTP client every call to a provider uses.

use std::time::Duration;

use std::sync::Arc;

use async_trait::async_trait;

use super::discovery::Discovery;
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

/// Keys over HTTPS: from the configured `jwks_uri`, or the one discovery gives.
pub struct HttpKeySource {
    client: reqwest::Client,
    jwks_uri: Option<String>,
    discovery: Arc<Discovery>,
}

// === impl HttpKeySource ===

/// An HTTP client for a provider: timeouts, no redirects, `ca_pem` replacing the system roots.
pub fn client(ca_pem: Option<&[u8]>, timeout: Duration) -> Result<reqwest::Client, String> {
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
    builder.build().map_err(|e| e.to_string())
}

impl HttpKeySource {
    /// Keys from `jwks_uri`, or from the provider's discovery document.
    pub fn new(
        client: reqwest::Client,
        jwks_uri: Option<&str>,
        discovery: Arc<Discovery>,
    ) -> HttpKeySource {
        HttpKeySource {
            client,
            jwks_uri: jwks_uri.map(str::to_string),
            discovery,
        }
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
}

#[async_trait]
impl KeySource for HttpKeySource {
    async fn fetch(&self) -> Result<Fetched, FetchError> {
        let url = match &self.jwks_uri {
            Some(u) => u.clone(),
            None => self.discovery.metadata().await?.jwks_uri.clone(),
        };
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
