//! The serde mirror of the traffic-shaping settings: `rate_limits:`, an upstream's
//! `concurrency:` and an identity provider's `waiting_room:`.

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::config::values::{Duration, Rate};

/// One entry of `rate_limits:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    /// What is counted separately: any of `client_address` (IPv6 by /64), `subject`, `route`;
    /// empty (the default) means one count shared by every request the limit applies to.
    #[serde(default)]
    pub key: Vec<Spanned<LimitKeyPart>>,
    /// Sustained rate per key, such as `20/s` or `600/min`.
    pub rate: Spanned<Rate>,
    /// Requests a key may make at once after being idle (default: the rate's count).
    pub burst: Option<Spanned<u32>>,
    /// Keys remembered at most; beyond, the least used are forgotten (default 100000).
    pub max_keys: Option<Spanned<u64>>,
}

/// A part of a rate limit's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKeyPart {
    /// The client's address (behind trusted proxies, the first untrusted hop); IPv6 by /64.
    ClientAddress,
    /// The authenticated person (issuer and subject); only on protected routes.
    Subject,
    /// The route's name.
    Route,
}

/// `upstreams.NAME.concurrency:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencySection {
    /// Requests sent to the upstream at once, at most.
    pub max_in_flight: Spanned<u32>,
    /// Requests waiting for a slot, at most; more get 503 at once (default: `max_in_flight`).
    pub max_waiting: Option<u32>,
    /// How long a request may wait for a slot before it gets 503 (default 2s).
    pub queue_timeout: Option<Duration>,
    /// Percentage of the slots only routes marked `essential` may use (default 20).
    pub reserved_for_essential: Option<Spanned<u8>>,
}

/// `identity_providers.NAME.waiting_room:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitingRoomSection {
    /// Logins sent to the provider, at most, for the whole fleet (such as `50/s`).
    pub admission_rate: Spanned<Rate>,
    /// Logins sent at once after a quiet period (default: a tenth of a second of
    /// `admission_rate`, so the provider never gets much more than the rate in a second).
    pub burst: Option<Spanned<u32>>,
    /// Nodes of the fleet: when Redis cannot answer, each admits `admission_rate / nodes`
    /// (default 1).
    pub nodes: Option<Spanned<u32>>,
    /// How often the waiting page reloads itself (default 5s).
    pub refresh: Option<Duration>,
    /// A ticket not refreshed for this long is given up, and one admitted but unused for
    /// this long expires (default 30s).
    pub ticket_ttl: Option<Duration>,
    /// People waiting at most; newcomers beyond get a "come back later" page (default 1000000).
    pub max_waiting: Option<Spanned<u64>>,
    /// Names of `rate_limits:` applied to each visit (keyed by client address or route only).
    #[serde(default)]
    pub rate_limits: Vec<Spanned<String>>,
}
