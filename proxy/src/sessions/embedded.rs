//! The in-process session store: the default for one node. Bounded in entries; a session
//! ends after `idle` without use or `absolute` after login, whichever comes first. The idle
//! timeout is counted with a resolution of 1/60 of itself: a session may end up to that much
//! before `idle` has passed since its last use, never after.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::sync::Cache;

use super::{SessionId, SessionRecord, SessionStore, StoreError, Timeouts};

/// See the module docs.
pub struct EmbeddedStore {
    sessions: Cache<SessionId, Arc<Stored>>,
    used: Cache<String, u64>,
}

pub(super) struct Stored {
    pub(super) record: Arc<SessionRecord>,
    pub(super) created: Instant,
}

pub(super) struct IdleOrAbsolute(pub(super) Timeouts);

// === impl EmbeddedStore ===

impl EmbeddedStore {
    /// A store holding at most `max_sessions`.
    pub fn new(timeouts: Timeouts, max_sessions: u64) -> EmbeddedStore {
        EmbeddedStore {
            sessions: Cache::builder()
                .max_capacity(max_sessions)
                .expire_after(IdleOrAbsolute(timeouts))
                .build(),
            used: Cache::builder()
                .max_capacity(max_sessions)
                .expire_after(UntilDeadline)
                .build(),
        }
    }
}

#[async_trait]
impl SessionStore for EmbeddedStore {
    async fn get(&self, id: &SessionId) -> Result<Option<Arc<SessionRecord>>, StoreError> {
        Ok(self.sessions.get(id).map(|s| s.record.clone()))
    }

    async fn create(&self, id: &SessionId, record: SessionRecord) -> Result<(), StoreError> {
        let stored = Stored {
            record: Arc::new(record),
            created: Instant::now(),
        };
        self.sessions.insert(id.clone(), Arc::new(stored));
        Ok(())
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        self.sessions.invalidate(id);
        Ok(())
    }

    async fn first_use(&self, key: &str, until: u64) -> Result<bool, StoreError> {
        let entry = self.used.entry(key.to_string()).or_insert(until);
        Ok(entry.is_fresh())
    }
}

/// Keys of the replay cache live until their own deadline (Unix seconds).
struct UntilDeadline;

impl Expiry<String, u64> for UntilDeadline {
    fn expire_after_create(&self, _key: &String, until: &u64, _now: Instant) -> Option<Duration> {
        Some(Duration::from_secs(
            until.saturating_sub(super::unix_now()).max(1),
        ))
    }
}

// === impl IdleOrAbsolute ===

impl IdleOrAbsolute {
    /// How much earlier than `idle` after its last use a session may end: 1/60 of `idle`
    /// (30 s for 30 min), so that most reads need not move its timer.
    pub(super) fn resolution(&self) -> Duration {
        self.0.idle / 60
    }

    /// Time left: `idle`, capped by what remains of `absolute`.
    pub(super) fn left(&self, stored: &Stored, now: Instant) -> Duration {
        let lived = now.saturating_duration_since(stored.created);
        self.0.idle.min(self.0.absolute.saturating_sub(lived))
    }
}

impl Expiry<SessionId, Arc<Stored>> for IdleOrAbsolute {
    fn expire_after_create(
        &self,
        _id: &SessionId,
        stored: &Arc<Stored>,
        now: Instant,
    ) -> Option<Duration> {
        Some(self.left(stored, now))
    }

    fn expire_after_read(
        &self,
        _id: &SessionId,
        stored: &Arc<Stored>,
        now: Instant,
        current: Option<Duration>,
        _last_modified: Instant,
    ) -> Option<Duration> {
        let left = self.left(stored, now);
        match current {
            // Within the resolution, the timer stays as it is: rescheduling it on every read
            // was a third of a session lookup's cost (bench/RESULTS.md, sessions).
            Some(c) if left >= c && left - c < self.resolution() => current,
            _ => Some(left),
        }
    }
}
