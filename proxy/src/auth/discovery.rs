//! OpenID provider metadata (`{issuer}/.well-known/openid-configuration`), fetched once and
//! kept; shared by the key source (its `jwks_uri`) and the login flow (its endpoints).

use std::sync::Arc;

use parking_lot::Mutex;

use super::source::FetchError;

/// The endpoints Vigie uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// Where the signing keys are.
    pub jwks_uri: String,
    /// Where browsers are sent to log in.
    pub authorization_endpoint: Option<String>,
    /// Where codes are exchanged.
    pub token_endpoint: Option<String>,
    /// Where the userinfo is asked.
    pub userinfo_endpoint: Option<String>,
    /// Where browsers are sent to log out.
    pub end_session_endpoint: Option<String>,
}

/// A provider's metadata, fetched on first use.
pub struct Discovery {
    client: reqwest::Client,
    issuer: String,
    cached: Mutex<Option<Arc<Metadata>>>,
}

/// Largest discovery document accepted.
const MAX_SIZE: usize = 256 * 1024;

impl Discovery {
    /// Discovery for `issuer` over `client`.
    pub fn new(client: reqwest::Client, issuer: &str) -> Discovery {
        Discovery {
            client,
            issuer: issuer.to_string(),
            cached: Mutex::new(None),
        }
    }

    /// The metadata, fetched now if never fetched. Its `issuer` must be exactly ours, and
    /// every endpoint https (or http on loopback).
    pub async fn metadata(&self) -> Result<Arc<Metadata>, FetchError> {
        if let Some(m) = self.cached.lock().clone() {
            return Ok(m);
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let bad = |reason: &str| FetchError::Discovery {
            url: url.clone(),
            reason: reason.to_string(),
        };
        let resp = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| FetchError::Request {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status {
                url: url.clone(),
                status: resp.status().as_u16(),
            });
        }
        let body = resp.bytes().await.map_err(|e| FetchError::Request {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        if body.len() > MAX_SIZE {
            return Err(bad("larger than 256 KiB"));
        }
        let doc: serde_json::Value = serde_json::from_slice(&body).map_err(|_| bad("not JSON"))?;
        if doc["issuer"].as_str() != Some(self.issuer.as_str()) {
            return Err(bad("its `issuer` is not the configured issuer"));
        }
        let endpoint = |name: &str| -> Result<Option<String>, FetchError> {
            match doc[name].as_str() {
                None => Ok(None),
                Some(u) if super::provider::is_acceptable_url(u) => Ok(Some(u.to_string())),
                Some(_) => Err(bad(&format!(
                    "`{name}` must be https (or http on loopback)"
                ))),
            }
        };
        let metadata = Arc::new(Metadata {
            jwks_uri: endpoint("jwks_uri")?.ok_or_else(|| bad("no `jwks_uri`"))?,
            authorization_endpoint: endpoint("authorization_endpoint")?,
            token_endpoint: endpoint("token_endpoint")?,
            userinfo_endpoint: endpoint("userinfo_endpoint")?,
            end_session_endpoint: endpoint("end_session_endpoint")?,
        });
        *self.cached.lock() = Some(metadata.clone());
        Ok(metadata)
    }
}
