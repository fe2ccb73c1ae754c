//! Verified tokens, so a token seen again costs a hash and a lookup instead of a signature
//! check. Keyed by the SHA-256 of the token; an entry lives until the token's `exp` at the
//! latest (and `max_ttl`); the cache is bounded in bytes and shared by every worker thread.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moka::Expiry;
use moka::sync::Cache;
use prometheus::IntCounter;

use super::Identity;

/// The cache key of a token.
pub type TokenKey = [u8; 32];

/// The SHA-256 of `token`.
pub fn key_of(token: &str) -> TokenKey {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

/// See the module docs; a disabled cache never hits.
pub struct TokenCache {
    entries: Option<Cache<TokenKey, Arc<Identity>>>,
    hits: IntCounter,
    misses: IntCounter,
}

/// Hit and miss counters.
#[derive(Clone)]
pub struct CacheCounters {
    /// Lookups that found a verified token.
    pub hits: IntCounter,
    /// Lookups that did not.
    pub misses: IntCounter,
}

struct UntilExp {
    max_ttl: Duration,
}

// === impl TokenCache ===

impl TokenCache {
    /// A cache holding at most `max_bytes`, each entry at most `max_ttl`.
    pub fn new(
        enabled: bool,
        max_bytes: u64,
        max_ttl: Duration,
        counters: CacheCounters,
    ) -> TokenCache {
        let entries = enabled.then(|| {
            Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_k, v: &Arc<Identity>| u32::try_from(v.weight() + 64).unwrap_or(u32::MAX))
                .expire_after(UntilExp { max_ttl })
                .build()
        });
        TokenCache {
            entries,
            hits: counters.hits,
            misses: counters.misses,
        }
    }

    /// The identity of an already verified token still valid at Unix time `now` (not counted:
    /// a request may look in several providers' caches; see [`TokenCache::count`]).
    pub fn get(&self, key: &TokenKey, now: u64) -> Option<Arc<Identity>> {
        self.entries
            .as_ref()?
            .get(key)
            .filter(|id| id.expires_at >= now)
    }

    /// Counts one request's lookup as a hit or a miss.
    pub fn count(&self, hit: bool) {
        if hit {
            self.hits.inc();
        } else {
            self.misses.inc();
        }
    }

    /// Remembers a verified token.
    pub fn insert(&self, key: TokenKey, identity: Arc<Identity>) {
        if let Some(entries) = &self.entries {
            entries.insert(key, identity);
        }
    }
}

impl Expiry<TokenKey, Arc<Identity>> for UntilExp {
    fn expire_after_create(
        &self,
        _key: &TokenKey,
        value: &Arc<Identity>,
        _created_at: Instant,
    ) -> Option<Duration> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let left = Duration::from_secs(value.expires_at.saturating_sub(now));
        Some(left.min(self.max_ttl))
    }
}
