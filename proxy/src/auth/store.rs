//! One provider's keys in memory: loaded before the proxy is ready, refreshed in the
//! background before they go stale, kept when the provider fails (stale-if-error), and
//! refetched at most once per interval when a token names an unknown `kid` (single-flight).
//!
//! The time is a parameter of every method, so the policy is tested without waiting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;
use prometheus::{Gauge, IntCounter};

use super::keys::KeySet;
use super::source::KeySource;

/// How keys are kept fresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Shortest freshness granted, whatever the provider's Cache-Control says.
    pub min_refresh: Duration,
    /// Longest freshness granted.
    pub max_refresh: Duration,
    /// At most one refetch per interval for unknown `kid`s.
    pub unknown_kid_interval: Duration,
}

/// Metrics of one provider's keys.
#[derive(Clone)]
pub struct KeyMetrics {
    /// Successful fetches.
    pub fetched: IntCounter,
    /// Failed fetches.
    pub failed: IntCounter,
    /// Tokens naming a `kid` not in the key set.
    pub unknown_kid: IntCounter,
    /// Seconds since the keys were last fetched.
    pub age: Gauge,
}

/// See the module docs.
pub struct KeyStore {
    source: Box<dyn KeySource>,
    policy: KeyPolicy,
    keys: ArcSwapOption<KeySet>,
    state: Mutex<State>,
    /// Held while a fetch runs, so concurrent triggers share one fetch.
    fetching: tokio::sync::Mutex<()>,
    metrics: KeyMetrics,
    name: String,
}

#[derive(Debug)]
struct State {
    fetched_at: Option<Instant>,
    fresh_for: Duration,
    /// No attempt before this (backoff after a failure).
    not_before: Option<Instant>,
    last_kid_refetch: Option<Instant>,
}

/// Time between attempts while a provider fails.
const RETRY: Duration = Duration::from_secs(5);

// === impl KeyStore ===

impl KeyStore {
    /// An empty store for provider `name`, filled by [`KeyStore::refresh_if_due`].
    pub fn new(
        name: &str,
        source: Box<dyn KeySource>,
        policy: KeyPolicy,
        metrics: KeyMetrics,
    ) -> KeyStore {
        KeyStore {
            source,
            policy,
            keys: ArcSwapOption::empty(),
            state: Mutex::new(State {
                fetched_at: None,
                fresh_for: policy.min_refresh,
                not_before: None,
                last_kid_refetch: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
            metrics,
            name: name.to_string(),
        }
    }

    /// The current keys; `None` until the first successful fetch.
    pub fn keys(&self) -> Option<Arc<KeySet>> {
        self.keys.load_full()
    }

    /// Whether keys were ever loaded.
    pub fn is_loaded(&self) -> bool {
        self.keys.load().is_some()
    }

    /// Fetches when the keys are missing, or past 80% of their freshness; after a failure,
    /// waits [`RETRY`] before trying again. Returns whether a fetch was attempted.
    pub async fn refresh_if_due(&self, now: Instant) -> bool {
        {
            let state = self.state.lock();
            if let Some(age) = state.fetched_at.map(|t| now.saturating_duration_since(t)) {
                self.metrics.age.set(age.as_secs_f64());
            }
            if state.not_before.is_some_and(|t| now < t) {
                return false;
            }
            if let Some(at) = state.fetched_at
                && now < at + state.fresh_for.mul_f64(0.8)
            {
                return false;
            }
        }
        let _one_at_a_time = self.fetching.lock().await;
        self.fetch(now).await;
        true
    }

    /// Called when a token names `kid` and the keys lack it, or when no keys were ever
    /// loaded (`kid` is then `None` if the token names none): refetches once per
    /// `unknown_kid_interval` at most, shared by every concurrent caller. Returns the keys
    /// if they now have `kid` (any keys, for `None`).
    pub async fn refetch_for(&self, kid: Option<&str>, now: Instant) -> Option<Arc<KeySet>> {
        self.metrics.unknown_kid.inc();
        if self.kid_refetch_too_soon(now) {
            return None;
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Another caller may have fetched while this one waited.
        let wanted = |k: &Arc<KeySet>| kid.is_none_or(|kid| k.has_kid(kid));
        if let Some(keys) = self.keys().filter(wanted) {
            return Some(keys);
        }
        {
            let mut state = self.state.lock();
            if state
                .last_kid_refetch
                .is_some_and(|t| now < t + self.policy.unknown_kid_interval)
            {
                return None;
            }
            state.last_kid_refetch = Some(now);
        }
        self.fetch(now).await;
        self.keys().filter(wanted)
    }

    fn kid_refetch_too_soon(&self, now: Instant) -> bool {
        let state = self.state.lock();
        state
            .last_kid_refetch
            .is_some_and(|t| now < t + self.policy.unknown_kid_interval)
    }

    /// Fetches now; keeps the old keys on failure. The caller holds `fetching`.
    async fn fetch(&self, now: Instant) {
        match self.source.fetch().await {
            Ok(fetched) => {
                let fresh_for = fetched
                    .max_age
                    .unwrap_or(self.policy.max_refresh)
                    .clamp(self.policy.min_refresh, self.policy.max_refresh);
                self.keys.store(Some(Arc::new(fetched.keys)));
                let mut state = self.state.lock();
                state.fetched_at = Some(now);
                state.fresh_for = fresh_for;
                state.not_before = None;
                self.metrics.fetched.inc();
                self.metrics.age.set(0.0);
            }
            Err(e) => {
                self.metrics.failed.inc();
                self.state.lock().not_before = Some(now + RETRY);
                if self.is_loaded() {
                    tracing::warn!(provider = %self.name, error = %e, "cannot refresh keys; the known keys stay in use");
                } else {
                    tracing::error!(provider = %self.name, error = %e, "cannot load keys; tokens of this provider are refused");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
