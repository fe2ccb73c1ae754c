//! The Redis session store: one fleet, one set of sessions.
//!
//! A record lives under `{prefix}session:{digest}`, where the digest is SHA-256 of the
//! session id (someone reading Redis cannot replay a cookie), with the idle timeout as its
//! TTL, renewed by every read (`GETEX`); the absolute timeout is checked against the
//! record's login time. Each node keeps recently read sessions for a few seconds, trusted
//! only while it receives revocations: a logout deletes the record and publishes its
//! digest on `{prefix}revoked`, and every node forgets its copy at once.
//!
//! When Redis cannot answer, every operation fails with [`StoreError`] (the request gets a
//! 503, never an anonymous pass), and works again as soon as Redis does.

mod link;
mod settings;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use moka::sync::Cache;
use prometheus::{IntCounter, IntCounterVec, Opts};

pub use settings::RedisSettings;

use self::link::{Event, Link};
use super::{SessionId, SessionRecord, SessionStore, StoreError, Timeouts};

/// See the module docs.
pub struct RedisStore {
    link: Link,
    prefix: String,
    timeouts: Timeouts,
    local: Option<Cache<String, Arc<SessionRecord>>>,
    metrics: StoreMetrics,
    /// Unix seconds now (injected for tests).
    now: fn() -> u64,
}

/// Counters of the Redis store, registered once per process.
#[derive(Clone)]
pub struct StoreMetrics {
    errors: IntCounterVec,
    local: IntCounterVec,
    revocations: IntCounter,
}

// === impl RedisStore ===

impl RedisStore {
    /// A store for `settings`; connects in the background (Redis may be down at start).
    pub fn start(
        settings: &RedisSettings,
        timeouts: Timeouts,
        metrics: StoreMetrics,
    ) -> Result<RedisStore, String> {
        let local = (settings.local_max_entries > 0).then(|| {
            Cache::builder()
                .max_capacity(settings.local_max_entries)
                .time_to_live(settings.local_ttl)
                .build()
        });
        let on_event = {
            let local: Option<Cache<String, Arc<SessionRecord>>> = local.clone();
            let revocations = metrics.revocations.clone();
            move |event: Event| match event {
                Event::Revoked(digest) => {
                    revocations.inc();
                    if let Some(local) = &local {
                        local.invalidate(&digest);
                    }
                }
                Event::Lost => {
                    if let Some(local) = &local {
                        local.invalidate_all();
                    }
                }
            }
        };
        let channel = format!("{}revoked", settings.key_prefix);
        Ok(RedisStore {
            link: Link::start(settings, channel, on_event)?,
            prefix: settings.key_prefix.clone(),
            timeouts,
            local,
            metrics,
            now: super::unix_now,
        })
    }

    /// The digest naming `id` in Redis and in revocations.
    fn digest(id: &SessionId) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, id.as_str().as_bytes()))
    }

    fn key(&self, digest: &str) -> String {
        format!("{}session:{digest}", self.prefix)
    }

    /// Runs a Lua `script` on `keys` (which must share a hash slot on a cluster) with `args`,
    /// for features sharing the sessions' Redis (the waiting rooms); failures are counted
    /// under `op`.
    pub async fn eval(
        &self,
        op: &str,
        script: &str,
        keys: &[String],
        args: &[String],
    ) -> Result<Vec<i64>, StoreError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(keys.len()).arg(keys).arg(args);
        self.link.query(&cmd).await.map_err(|e| self.failed(op, e))
    }

    /// The prefix of every key this store writes.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    fn failed(&self, op: &str, e: StoreError) -> StoreError {
        self.metrics.errors.with_label_values(&[op]).inc();
        e
    }

    /// Reads and renews the record; `None` if absent, unreadable or past its absolute end.
    async fn fetch(&self, digest: &str) -> Result<Option<SessionRecord>, StoreError> {
        let key = self.key(digest);
        let idle = self.timeouts.idle.as_secs().max(1);
        let raw: Option<Vec<u8>> = self
            .link
            .query(redis::cmd("GETEX").arg(&key).arg("EX").arg(idle))
            .await?;
        let Some(raw) = raw else { return Ok(None) };
        let record = match serde_json::from_slice::<SessionRecord>(&raw) {
            Ok(record) => record,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable session record in Redis; the session ends");
                self.link.query::<()>(redis::cmd("DEL").arg(&key)).await?;
                return Ok(None);
            }
        };
        match time_left(record.created_at, (self.now)(), self.timeouts) {
            None => {
                self.link.query::<()>(redis::cmd("DEL").arg(&key)).await?;
                Ok(None)
            }
            Some(left) => {
                if left.as_secs() < idle {
                    let secs = left.as_secs().max(1);
                    self.link
                        .query::<()>(redis::cmd("EXPIRE").arg(&key).arg(secs))
                        .await?;
                }
                Ok(Some(record))
            }
        }
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn get(&self, id: &SessionId) -> Result<Option<Arc<SessionRecord>>, StoreError> {
        let digest = Self::digest(id);
        let trusted = self.local.as_ref().filter(|_| self.link.is_subscribed());
        if let Some(local) = trusted {
            if let Some(record) = local.get(&digest) {
                self.metrics.local.with_label_values(&["hit"]).inc();
                return Ok(Some(record));
            }
            self.metrics.local.with_label_values(&["miss"]).inc();
        }
        let epoch = self.link.epoch();
        let record = self
            .fetch(&digest)
            .await
            .map_err(|e| self.failed("get", e))?
            .map(Arc::new);
        // Keep a copy only if no revocation (or disconnection) arrived meanwhile.
        if let (Some(local), Some(record)) = (trusted, &record)
            && self.link.is_subscribed()
            && self.link.epoch() == epoch
        {
            local.insert(digest, record.clone());
        }
        Ok(record)
    }

    async fn create(&self, id: &SessionId, record: SessionRecord) -> Result<(), StoreError> {
        let ttl = time_left(record.created_at, (self.now)(), self.timeouts)
            .ok_or_else(|| StoreError("the session is already past its end".into()))?;
        let json = serde_json::to_vec(&record)
            .map_err(|e| StoreError(format!("cannot encode the session: {e}")))?;
        let key = self.key(&Self::digest(id));
        let secs = ttl.as_secs().max(1);
        self.link
            .query::<()>(redis::cmd("SET").arg(&key).arg(json).arg("EX").arg(secs))
            .await
            .map_err(|e| self.failed("create", e))
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        let digest = Self::digest(id);
        if let Some(local) = &self.local {
            local.invalidate(&digest);
        }
        self.link
            .query::<()>(redis::cmd("DEL").arg(self.key(&digest)))
            .await
            .map_err(|e| self.failed("delete", e))?;
        let channel = format!("{}revoked", self.prefix);
        self.link
            .query::<()>(redis::cmd("PUBLISH").arg(channel).arg(&digest))
            .await
            .map_err(|e| self.failed("revoke", e))
    }

    async fn first_use(&self, key: &str, until: u64) -> Result<bool, StoreError> {
        let digest = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, key.as_bytes()));
        let set: Option<String> = self
            .link
            .query(
                redis::cmd("SET")
                    .arg(format!("{}used:{digest}", self.prefix))
                    .arg(1)
                    .arg("NX")
                    .arg("EXAT")
                    .arg(until.max((self.now)() + 1)),
            )
            .await
            .map_err(|e| self.failed("first_use", e))?;
        Ok(set.is_some())
    }
}

/// How long a session logged in at `created_at` may still live if used at `now` (unix
/// seconds): the idle timeout, capped by what remains of the absolute one; `None` once over.
pub(super) fn time_left(created_at: u64, now: u64, t: Timeouts) -> Option<Duration> {
    let lived = Duration::from_secs(now.saturating_sub(created_at));
    let remaining = t.absolute.checked_sub(lived).filter(|d| !d.is_zero())?;
    Some(t.idle.min(remaining))
}

// === impl StoreMetrics ===

impl StoreMetrics {
    /// The Redis store's counters, registered in `metrics`.
    pub fn register(metrics: &crate::metrics::Metrics) -> prometheus::Result<StoreMetrics> {
        let errors = IntCounterVec::new(
            Opts::new(
                "session_store_errors_total",
                "Redis session store operations that failed (the request got a 503), by operation.",
            ),
            &["op"],
        )?;
        let local = IntCounterVec::new(
            Opts::new(
                "session_local_cache_total",
                "Lookups in each node's cache of Redis sessions, by result (hit, miss).",
            ),
            &["result"],
        )?;
        let revocations = IntCounter::new(
            "session_revocations_received_total",
            "Logouts announced by any node and received by this one.",
        )?;
        metrics.register(Box::new(errors.clone()))?;
        metrics.register(Box::new(local.clone()))?;
        metrics.register(Box::new(revocations.clone()))?;
        Ok(StoreMetrics {
            errors,
            local,
            revocations,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
