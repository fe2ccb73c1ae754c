//! The validated `sessions:` section, and the process-wide [`Sessions`] built from it once
//! at start-up (sessions outlive reloads; changing these settings needs a restart).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::seal::{MIN_SECRET, Sealer};
use super::{EmbeddedStore, SessionStore, Timeouts};
use crate::config::Problems;
use crate::config::file::{SessionsSection, StoreKind};

/// Validated `sessions:`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// Which store.
    pub store: StoreKind,
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
}

impl std::fmt::Debug for SessionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSettings")
            .field("store", &self.store)
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
        SessionSettings {
            store: section.store.unwrap_or_default(),
            timeouts: Timeouts {
                idle: d(section.idle_timeout, 30 * 60),
                absolute: d(section.absolute_timeout, 12 * 3600),
            },
            max_sessions: section.max_sessions.unwrap_or(1_000_000),
            secret,
        }
    }

    /// Builds the process's sessions.
    pub fn build(&self) -> Result<Sessions, String> {
        let sealer = match &self.secret {
            Some(secret) => Sealer::new(secret)?,
            None => Sealer::random()?,
        };
        let store: Arc<dyn SessionStore> = match self.store {
            StoreKind::Embedded => Arc::new(EmbeddedStore::new(self.timeouts, self.max_sessions)),
        };
        Ok(Sessions {
            store,
            sealer,
            timeouts: self.timeouts,
        })
    }
}
