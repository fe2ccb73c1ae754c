//! The validated `sessions:` section, and the process-wide [`Sessions`] built from it once
//! at start-up (sessions outlive reloads; changing these settings needs a restart).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::redis::{RedisSettings, RedisStore, StoreMetrics};
use super::seal::{MIN_SECRET, Sealer};
use super::{EmbeddedStore, SessionStore, Timeouts};
use crate::config::Problems;
use crate::config::file::{SessionsSection, StoreKind};
use crate::metrics::Metrics;

/// Validated `sessions:`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// Which store.
    pub store: StoreKind,
    /// Where the Redis store is (with `store: redis`).
    pub redis: Option<RedisSettings>,
    /// Lifetimes.
    pub timeouts: Timeouts,
    /// Bound of the embedded store.
    pub max_sessions: u64,
    /// The sealing secret, when configured.
    secret: Option<Vec<u8>>,
}

/// The sessions of the process: their store and the sealer of login cookies.
pub struct Sessions {
    /// Where records live.
    pub store: Arc<dyn SessionStore>,
    /// Seals login and logout cookies.
    pub sealer: Sealer,
    /// Lifetimes.
    pub timeouts: Timeouts,
    /// The Redis store when sessions are in Redis, for features shared by the fleet.
    pub redis: Option<Arc<RedisStore>>,
}

impl std::fmt::Debug for SessionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSettings")
            .field("store", &self.store)
            .field("redis", &self.redis)
            .field("timeouts", &self.timeouts)
            .field("max_sessions", &self.max_sessions)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .finish()
    }
}

impl SessionSettings {
    pub(crate) fn from_file(
        section: &SessionsSection,
        base: &Path,
        problems: &mut Problems,
    ) -> SessionSettings {
        let secret = section.secret_file.as_ref().and_then(|f| {
            let file = base.join(&f.value);
            match std::fs::read(&file) {
                Ok(bytes) if bytes.len() >= MIN_SECRET => Some(bytes),
                Ok(bytes) => {
                    problems.report(
                        "sessions.secret_file",
                        &f.referenced,
                        format!(
                            "{} holds {} bytes; at least {MIN_SECRET} random bytes are needed",
                            file.display(),
                            bytes.len()
                        ),
                    );
                    None
                }
                Err(e) => {
                    problems.report(
                        "sessions.secret_file",
                        &f.referenced,
                        format!("cannot read {}: {e}", file.display()),
                    );
                    None
                }
            }
        });
        let d = |v: Option<crate::config::Duration>, secs: u64| {
            v.map_or(Duration::from_secs(secs), |d| d.0)
        };
        let store = section
            .store
            .as_ref()
            .map_or(StoreKind::default(), |s| s.value);
        let redis = match (store, &section.redis) {
            (StoreKind::Redis, Some(r)) => RedisSettings::from_file(&r.value, base, problems),
            (StoreKind::Redis, None) => {
                if let Some(s) = &section.store {
                    problems.report(
                        "sessions.store",
                        &s.referenced,
                        "`store: redis` needs a `sessions.redis` section naming the server",
                    );
                }
                None
            }
            (StoreKind::Embedded, Some(r)) => {
                problems.report(
                    "sessions.redis",
                    &r.referenced,
                    "used only with `store: redis` (the store is `embedded`)",
                );
                None
            }
            (StoreKind::Embedded, None) => None,
        };
        if store == StoreKind::Redis && secret.is_none() && section.secret_file.is_none() {
            let at = section.redis.as_ref().map(|r| &r.referenced);
            if let Some(at) = at {
                problems.report(
                    "sessions.secret_file",
                    at,
                    "a fleet sharing Redis needs the same `secret_file` on every node (a login may end on another node)",
                );
            }
        }
        SessionSettings {
            store,
            redis,
            timeouts: Timeouts {
                idle: d(section.idle_timeout, 30 * 60),
                absolute: d(section.absolute_timeout, 12 * 3600),
            },
            max_sessions: section.max_sessions.unwrap_or(1_000_000),
            secret,
        }
    }

    /// Builds the process's sessions (the Redis store connects in the background).
    pub fn build(&self, metrics: &Metrics) -> Result<Sessions, String> {
        let sealer = match &self.secret {
            Some(secret) => Sealer::new(secret)?,
            None => Sealer::random()?,
        };
        let (store, redis): (Arc<dyn SessionStore>, _) = match self.store {
            StoreKind::Embedded => (
                Arc::new(EmbeddedStore::new(self.timeouts, self.max_sessions)),
                None,
            ),
            StoreKind::Redis => {
                let settings = self
                    .redis
                    .as_ref()
                    .ok_or("`store: redis` without `redis:`")?;
                let metrics = StoreMetrics::register(metrics).map_err(|e| e.to_string())?;
                let redis = Arc::new(RedisStore::start(settings, self.timeouts, metrics)?);
                (redis.clone(), Some(redis))
            }
        };
        Ok(Sessions {
            store,
            sealer,
            timeouts: self.timeouts,
            redis,
        })
    }
}
