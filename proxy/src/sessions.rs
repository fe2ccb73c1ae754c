//! `sessions:`: the sessions the edge owns once a person has logged in.
//!
//! The browser holds only an opaque random id in the `__Host-vigie_session` cookie; the
//! record (identity, raw ID token for logout, provider, timestamps) lives in a
//! [`SessionStore`]: in-process (the default, one node) or Redis (a fleet, see `redis`).
//! Owns ids, records, stores and timeouts; not the login flows that create sessions (`login`).

pub mod cookie;
mod embedded;
pub mod redis;
pub mod seal;
mod settings;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

pub use embedded::EmbeddedStore;
pub use redis::{RedisSettings, RedisStore};
pub use settings::{SessionSettings, Sessions};

use crate::auth::Identity;

/// An opaque session id: 256 random bits, base64url. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

/// What the edge remembers about a logged-in person.
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Who it is.
    pub identity: Arc<Identity>,
    /// The raw ID token, sent back as `id_token_hint` at logout.
    pub id_token: Option<String>,
    /// Unix time of the login.
    pub created_at: u64,
    /// For a SAML login: whom the IdP named, for single logout.
    #[serde(default)]
    pub saml: Option<SamlSession>,
}

/// What single logout needs of a SAML login.
#[derive(Clone, Serialize, Deserialize)]
pub struct SamlSession {
    /// NameID, its format and the IdP's session index.
    pub subject: crate::saml::messages::Subject,
    /// `FrEduUrlRetour`: where the IdP wants the browser at logout, when it gave one.
    pub logout_url: Option<String>,
}

/// Why the session store could not answer (the request gets a 503, never an anonymous pass).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("the session store is unavailable: {0}")]
pub struct StoreError(pub String);

/// Where session records live; the same contract for every backend.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The record of `id`, if the session exists and has not timed out; reading it counts
    /// as activity (idle timeout).
    async fn get(&self, id: &SessionId) -> Result<Option<Arc<SessionRecord>>, StoreError>;
    /// Stores a new session.
    async fn create(&self, id: &SessionId, record: SessionRecord) -> Result<(), StoreError>;
    /// Ends a session everywhere.
    async fn delete(&self, id: &SessionId) -> Result<(), StoreError>;
    /// Records that `key` (such as a SAML assertion ID) was used, until Unix time `until`:
    /// `true` the first time, `false` for every later call while it is remembered, on any
    /// node sharing the store. The replay cache of one-time credentials.
    async fn first_use(&self, key: &str, until: u64) -> Result<bool, StoreError>;
}

/// Session lifetimes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session ends this long after login, used or not.
    pub absolute: Duration,
}

/// Seconds since the Unix epoch: the clock of sessions and tokens.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// === impl SessionId ===

impl SessionId {
    /// A fresh random id.
    pub fn generate() -> SessionId {
        let mut bytes = [0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), &mut bytes);
        SessionId(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// An id read from a cookie, if it has the shape of one.
    pub fn parse(value: &str) -> Option<SessionId> {
        (value.len() == 43
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| SessionId(value.to_string()))
    }

    /// The value for the cookie.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(…)")
    }
}

impl fmt::Debug for SessionRecord {
    // The ID token is a credential: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("identity", &self.identity)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
