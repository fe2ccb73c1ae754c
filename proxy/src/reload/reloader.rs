//! The reloader: a background service that rebuilds the generation on SIGHUP and when the
//! config file's content changes (polled, which also sees Kubernetes ConfigMap symlink swaps).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use tokio::signal::unix::{SignalKind, signal};

use super::{Generation, Generations};
use crate::admin::Readiness;
use crate::config::{self, Config, ConfigErrors};
use crate::listeners::tls::CertStore;
use crate::metrics::Metrics;

/// Rebuilds the current generation; see the module docs.
pub struct Reloader {
    state: Arc<State>,
    interval: Option<Duration>,
}

struct State {
    path: PathBuf,
    generations: Arc<Generations>,
    metrics: Arc<Metrics>,
    certs: Vec<(String, Arc<CertStore>)>,
    readiness: Arc<Readiness>,
    /// Hash of the file content last tried (loaded or refused), to notice the next change.
    last_seen: Mutex<u64>,
}

// === impl Reloader ===

impl Reloader {
    /// A reloader of the file at `path`, which the current generation was loaded from.
    /// `certs` are the certificate stores of the HTTPS listeners, by listener name.
    pub fn new(
        path: PathBuf,
        generations: Arc<Generations>,
        metrics: Arc<Metrics>,
        certs: Vec<(String, Arc<CertStore>)>,
        readiness: Arc<Readiness>,
    ) -> Reloader {
        let current = generations.current();
        let interval = current.config.server.watch_interval;
        // What the generation was built from, not the file now: it may have changed since.
        let last_seen = current.config.text_hash;
        Reloader {
            state: Arc::new(State {
                path,
                generations,
                metrics,
                certs,
                readiness,
                last_seen: Mutex::new(last_seen),
            }),
            interval,
        }
    }

    async fn reload_in_background(&self, why: &'static str, only_if_changed: bool) {
        let state = self.state.clone();
        let done = tokio::task::spawn_blocking(move || {
            if only_if_changed && !state.changed() {
                return;
            }
            // The outcome is logged and counted inside.
            let _ = state.reload(why);
        });
        let _ = done.await;
        self.state.generations.current().start_plugin_services();
    }
}

#[async_trait]
impl BackgroundService for Reloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP; reload by file change only");
                return;
            }
        };
        self.state.readiness.signals.store(true, Ordering::Release);
        self.state.generations.current().start_plugin_services();
        let poll = self.interval.unwrap_or(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = hangup.recv() => self.reload_in_background("SIGHUP", false).await,
                _ = tokio::time::sleep(poll), if self.interval.is_some() => {
                    self.reload_in_background("file changed", true).await;
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

// === impl State ===

impl State {
    fn changed(&self) -> bool {
        match std::fs::read(&self.path) {
            Ok(text) => *self.last_seen.lock() != config::text_hash(&text),
            Err(_) => false,
        }
    }

    /// Loads the file and, if valid, installs a new generation; returns its id.
    fn reload(&self, why: &str) -> Result<u64, ConfigErrors> {
        let current = self.generations.current();
        let loaded = config::read(&self.path).and_then(|text| {
            *self.last_seen.lock() = config::text_hash(text.as_bytes());
            config::parse(
                &text,
                Some(&self.path),
                self.path.parent().unwrap_or(Path::new(".")),
            )
        });
        let config = match loaded {
            Ok(c) => c,
            Err(errors) => {
                self.metrics.config_reload(false);
                tracing::error!(
                    trigger = why,
                    generation = current.id,
                    errors = %errors,
                    "configuration refused; the current configuration keeps serving"
                );
                return Err(errors);
            }
        };
        warn_restart_only(&current.config, &config);
        for (name, store) in &self.certs {
            let tls = config
                .listeners
                .iter()
                .find(|l| l.name == *name)
                .and_then(|l| l.tls.as_ref());
            if let Some(tls) = tls {
                store.replace(tls.key.clone());
            }
        }
        let id = current.id + 1;
        let next = Generation::build(id, config, Some(&current), &self.metrics);
        self.generations.install(next);
        self.metrics.config_reload(true);
        self.metrics.config_generation.set(id as i64);
        self.metrics.config_loaded_at.set(unix_now());
        tracing::info!(trigger = why, generation = id, "configuration reloaded");
        Ok(id)
    }
}

/// Logs the settings a reload cannot apply to a running process.
fn warn_restart_only(old: &Config, new: &Config) {
    let listeners = |c: &Config| {
        c.listeners
            .iter()
            .map(|l| (l.name.clone(), l.address, l.tls.is_some()))
            .collect::<Vec<_>>()
    };
    let mut changed = Vec::new();
    if listeners(old) != listeners(new) {
        changed.push("listeners (names, addresses, HTTP or HTTPS)");
    }
    if old.admin != new.admin {
        changed.push("admin");
    }
    if old.server != new.server {
        changed.push("server");
    }
    if old.logging != new.logging {
        changed.push("logging");
    }
    if old.sessions != new.sessions {
        changed.push("sessions");
    }
    if old.limits.max_requests_per_connection != new.limits.max_requests_per_connection
        || old.limits.h2_idle_timeout != new.limits.h2_idle_timeout
    {
        changed.push("limits.max_requests_per_connection and limits.h2_idle_timeout");
    }
    if !changed.is_empty() {
        tracing::warn!(
            sections = changed.join(", "),
            "these changes take effect at the next restart"
        );
    }
}

/// Seconds since the Unix epoch, for the reload timestamp metric.
pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
