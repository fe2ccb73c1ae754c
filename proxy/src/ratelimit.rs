//! `rate_limits:`: how many requests a key (a client address, a person, a route, or a
//! combination) may make, with [`governor`]'s GCRA.
//!
//! A route lists the limits it applies. Limits whose key names the `subject` run after
//! authentication; the others before it, so a flood of bad tokens is limited before any
//! signature is checked. A refused request gets 429 with `Retry-After` and the RateLimit
//! header fields (`RateLimit-Policy`, `RateLimit`, draft-ietf-httpapi-ratelimit-headers-09);
//! admitted requests carry the same fields on their response.
//!
//! Keys live in a bounded table ([`store`]): under a flood of distinct keys the least used are
//! forgotten, and a key idle long enough to be full again is dropped (nothing is lost by it).
//! Limiter state survives a reload when the limit's settings did not change.

mod header;
mod spec;
mod store;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter};
use prometheus::IntCounter;

pub use header::RateHeaders;
pub use spec::RateLimitSpec;

use crate::auth::Identity;
use crate::config::file::LimitKeyPart;
use store::BoundedKeys;

/// A limit of the running proxy, on the real clock.
pub type RateLimit = Limiter<MonotonicClock>;

/// One configured limit and its per-key state; see the module docs.
pub struct Limiter<C: Clock> {
    /// What the config says.
    pub spec: RateLimitSpec,
    limiter: RateLimiter<LimitKey, BoundedKeys, C, StateInformationMiddleware>,
    keys: BoundedKeys,
    limited: IntCounter,
    /// Hashes people into keys (SipHash, keys random per process).
    people: std::hash::RandomState,
    /// This limit's `RateLimit-Policy` item, the same for every response.
    policy: String,
}

/// What a request is counted under, for one limit: only the parts the limit's key names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LimitKey {
    client: Option<IpAddr>,
    /// A keyed hash of the issuer and subject (64 bits: a collision merges two people's
    /// counts, with odds of about 10⁻⁷ among a million people).
    subject: Option<u64>,
    route: Option<Arc<str>>,
}

/// What a request is: the inputs of every key.
#[derive(Clone, Copy, Debug)]
pub struct Requester<'a> {
    /// The client's address (already resolved behind trusted proxies).
    pub client: IpAddr,
    /// Who it is, after authentication.
    pub identity: Option<&'a Identity>,
    /// The route's name.
    pub route: &'a Arc<str>,
}

/// One limit's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit: requests left now, and time until the key is full again.
    Allowed {
        /// Requests that may still be made at once.
        remaining: u32,
        /// Time until the whole burst is available again.
        reset: Duration,
    },
    /// Over the limit: the earliest time the next request may succeed.
    Limited {
        /// How long to wait.
        retry_after: Duration,
    },
}

/// Why a request was refused: the limit, when to retry, and the header fields to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Name of the limit that refused.
    pub limit: String,
    /// Whole seconds to wait (at least 1), for `Retry-After`.
    pub retry_after: u64,
    /// `RateLimit-Policy` and `RateLimit` values.
    pub headers: RateHeaders,
}

// === impl Limiter ===

impl RateLimit {
    /// A limit for `spec` on the monotonic clock, counting refusals in `limited`.
    pub fn build(spec: RateLimitSpec, limited: IntCounter) -> RateLimit {
        Limiter::with_clock(spec, MonotonicClock, limited)
    }
}

impl<C: Clock> Limiter<C> {
    /// A limit for `spec` reading time from `clock` (a fake one in tests).
    pub fn with_clock(spec: RateLimitSpec, clock: C, limited: IntCounter) -> Limiter<C> {
        let quota = spec.quota();
        let keys = BoundedKeys::new(spec.max_keys, window(&quota));
        Limiter {
            limiter: RateLimiter::new(quota, keys.clone(), clock),
            keys,
            policy: header::policy_item(&spec),
            spec,
            limited,
            people: std::hash::RandomState::new(),
        }
    }

    /// The key of `who` for this limit; `None` when the limit needs an identity and there is
    /// none (configuration prevents this on routes).
    pub fn key(&self, who: &Requester<'_>) -> Option<LimitKey> {
        let mut key = LimitKey::default();
        for part in &self.spec.key {
            match part {
                LimitKeyPart::ClientAddress => key.client = Some(client_key(who.client)),
                LimitKeyPart::Subject => {
                    let id = who.identity?;
                    key.subject = Some(std::hash::BuildHasher::hash_one(
                        &self.people,
                        (&*id.provider, &id.subject),
                    ));
                }
                LimitKeyPart::Route => key.route = Some(who.route.clone()),
            }
        }
        Some(key)
    }

    /// Counts one request under `key`.
    pub fn check(&self, key: &LimitKey) -> Verdict {
        match self.limiter.check_key(key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = self.spec.burst.saturating_sub(remaining);
                Verdict::Allowed {
                    remaining,
                    reset: snapshot.quota().replenish_interval() * used,
                }
            }
            Err(not_until) => {
                self.limited.inc();
                Verdict::Limited {
                    retry_after: not_until.wait_time_from(self.limiter_clock_now()),
                }
            }
        }
    }

    fn limiter_clock_now(&self) -> C::Instant {
        self.limiter.clock().now()
    }

    /// Keys remembered now (after pending evictions ran).
    pub fn tracked_keys(&self) -> u64 {
        self.keys.len()
    }
}

impl<C: Clock> std::fmt::Debug for Limiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("spec", &self.spec).finish()
    }
}

/// Counts a request against each of `limits` in turn, adding each one's item to `headers`;
/// the first refusal stops it.
pub fn check_all<C: Clock>(
    limits: &[Arc<Limiter<C>>],
    who: &Requester<'_>,
    headers: &mut RateHeaders,
) -> Result<(), Refusal> {
    for limit in limits {
        let Some(key) = limit.key(who) else { continue };
        match limit.check(&key) {
            Verdict::Allowed { remaining, reset } => {
                headers.push(&limit.spec.name, &limit.policy, remaining, reset);
            }
            Verdict::Limited { retry_after } => {
                headers.push(&limit.spec.name, &limit.policy, 0, retry_after);
                return Err(Refusal {
                    limit: limit.spec.name.clone(),
                    retry_after: retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0),
                    headers: std::mem::take(headers),
                });
            }
        }
    }
    Ok(())
}

/// The address a client is counted under: IPv4 as is, IPv6 by its /64 (one subscriber's
/// network), IPv4-mapped IPv6 as the IPv4 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

/// Time for an emptied key to be full again: the burst times the interval between cells.
fn window(quota: &Quota) -> Duration {
    quota.replenish_interval() * quota.burst_size().get()
}

#[cfg(test)]
mod tests;
