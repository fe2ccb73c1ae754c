//! The bounded table of per-key limiter state behind every [`super::Limiter`].
//!
//! governor's own keyed stores grow with every new key until pruned. This one is a moka cache:
//! at most `max_keys` entries (its admission policy keeps frequently seen keys when a flood of
//! one-off keys arrives), and an entry idle for the limit's window is dropped, which loses
//! nothing: by then its state is that of a new key.

use std::sync::Arc;
use std::time::Duration;

use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use moka::sync::Cache;

use super::LimitKey;

/// See the module docs. Clones share the table.
#[derive(Clone)]
pub(super) struct BoundedKeys {
    cache: Cache<LimitKey, Arc<InMemoryState>>,
}

impl BoundedKeys {
    /// A table of at most `max_keys`, forgetting keys idle for `window`.
    pub(super) fn new(max_keys: u64, window: Duration) -> BoundedKeys {
        BoundedKeys {
            cache: Cache::builder()
                .max_capacity(max_keys)
                .time_to_idle(window.max(Duration::from_millis(1)))
                .build(),
        }
    }

    /// Entries held, once pending evictions have run.
    pub(super) fn len(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

impl StateStore for BoundedKeys {
    type Key = LimitKey;

    fn measure_and_replace<T, F, E>(&self, key: &LimitKey, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let state = self
            .cache
            .get_with_by_ref(key, || Arc::new(InMemoryState::default()));
        state.measure_and_replace(&NotKeyed::NonKey, f)
    }
}
