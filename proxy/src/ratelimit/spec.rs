//! Validation of `rate_limits:` into [`RateLimitSpec`]s.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;
use serde_saphyr::Spanned;

use crate::config::Problems;
use crate::config::file::{LimitKeyPart, RateLimitSection};
use crate::config::values::Rate;

/// Keys remembered by a limit when `max_keys` is not set.
const DEFAULT_MAX_KEYS: u64 = 100_000;

/// One validated limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitSpec {
    /// Its name in the config, in metrics and in the RateLimit header fields.
    pub name: String,
    /// What is counted separately, sorted, without repeats; empty means one shared count.
    pub key: Vec<LimitKeyPart>,
    /// Sustained rate per key.
    pub rate: Rate,
    /// Requests at once after an idle period (at least 1).
    pub burst: u32,
    /// Bound of the key table.
    pub max_keys: u64,
}

impl RateLimitSpec {
    /// Validates every entry of `rate_limits:`.
    pub(crate) fn from_file(
        raw: &BTreeMap<String, Spanned<RateLimitSection>>,
        problems: &mut Problems,
    ) -> BTreeMap<String, RateLimitSpec> {
        let mut specs = BTreeMap::new();
        for (name, section) in raw {
            let path = format!("rate_limits.{name}");
            let s = &section.value;
            if !valid_name(name) {
                problems.report(
                    &path,
                    &section.referenced,
                    format!("invalid limit name {name:?}: use letters, digits, '-' and '_'"),
                );
            }
            let mut key: Vec<LimitKeyPart> = s.key.iter().map(|k| k.value).collect();
            key.sort();
            key.dedup();
            let burst = s.burst.as_ref().map_or(s.rate.value.count, |b| b.value);
            if let Some(b) = s.burst.as_ref().filter(|b| b.value == 0) {
                problems.report(
                    format!("{path}.burst"),
                    &b.referenced,
                    "burst must be at least 1",
                );
            }
            let max_keys = s.max_keys.as_ref().map_or(DEFAULT_MAX_KEYS, |m| m.value);
            if let Some(m) = s.max_keys.as_ref().filter(|m| m.value == 0) {
                problems.report(
                    format!("{path}.max_keys"),
                    &m.referenced,
                    "max_keys must be at least 1",
                );
            }
            // A broken limit is still recorded (the config is refused anyway), so the routes
            // naming it are not reported as well.
            let spec = RateLimitSpec {
                name: name.clone(),
                key,
                rate: s.rate.value,
                burst: burst.max(1),
                max_keys: max_keys.max(1),
            };
            if spec.interval().is_zero() {
                problems.report(
                    format!("{path}.rate"),
                    &s.rate.referenced,
                    format!(
                        "rate {} is too high: at most one request per nanosecond",
                        s.rate.value
                    ),
                );
            }
            specs.insert(name.clone(), spec);
        }
        specs
    }

    /// Whether the key names the person, so the limit runs after authentication.
    pub fn needs_identity(&self) -> bool {
        self.key.contains(&LimitKeyPart::Subject)
    }

    /// Time between two requests at the sustained rate.
    pub fn interval(&self) -> Duration {
        self.rate.period / self.rate.count
    }

    /// Time for an emptied key to be whole again.
    pub fn window(&self) -> Duration {
        self.interval() * self.burst
    }

    /// The governor quota (validation ensured a non-zero interval and burst).
    pub(super) fn quota(&self) -> Quota {
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        Quota::with_period(self.interval())
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst)
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}
