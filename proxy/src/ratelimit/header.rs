//! The RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-09): structured-field
//! lists with one item per limit checked, named by the limit.
//!
//! `RateLimit-Policy: "per_client";q=40;w=2` (quota `q` requests per window of `w` seconds)
//! and `RateLimit: "per_client";r=39;t=1` (`r` requests remain; the quota is whole again in
//! `t` seconds).

use std::fmt::Write as _;
use std::time::Duration;

use super::RateLimitSpec;

/// The two field values for a response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// `RateLimit-Policy`.
    pub policy: String,
    /// `RateLimit`.
    pub state: String,
}

impl RateHeaders {
    /// Adds the items of limit `name` (its `policy` item made by [`policy_item`]), with
    /// `remaining` requests and `reset` until whole.
    pub(super) fn push(&mut self, name: &str, policy: &str, remaining: u32, reset: Duration) {
        if !self.policy.is_empty() {
            self.policy.push_str(", ");
            self.state.push_str(", ");
        }
        self.policy.push_str(policy);
        let _ = write!(
            self.state,
            "\"{name}\";r={remaining};t={}",
            ceil_secs(reset)
        );
    }

    /// Whether no limit was checked.
    pub fn is_empty(&self) -> bool {
        self.policy.is_empty()
    }

    /// `(name, value)` pairs to add to a response.
    pub fn fields(&self) -> [(&'static str, &str); 2] {
        [
            ("ratelimit-policy", self.policy.as_str()),
            ("ratelimit", self.state.as_str()),
        ]
    }
}

/// The `RateLimit-Policy` item of a limit: `"name";q=BURST;w=WINDOW`.
pub(super) fn policy_item(spec: &RateLimitSpec) -> String {
    format!(
        "\"{}\";q={};w={}",
        spec.name,
        spec.burst,
        ceil_secs(spec.window())
    )
}

/// Whole seconds, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}
