//! Validation of `identity_providers.NAME.waiting_room:` into [`WaitingRoomSpec`]s.

use std::time::Duration;

use serde_saphyr::Spanned;

use std::collections::BTreeMap;

use super::Params;
use crate::config::Problems;
use crate::config::file::WaitingRoomSection;
use crate::config::values::Rate;
use crate::ratelimit::RateLimitSpec;

/// One provider's validated waiting room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingRoomSpec {
    /// The provider's name.
    pub provider: String,
    /// Logins sent to the provider, at most, by the whole fleet.
    pub admission_rate: Rate,
    /// Logins let through at once after a quiet period.
    pub burst: u32,
    /// Nodes sharing the rate when Redis cannot answer.
    pub nodes: u32,
    /// How often the waiting page reloads.
    pub refresh: Duration,
    /// Life of a ticket without a refresh.
    pub ticket_ttl: Duration,
    /// Live tickets at most.
    pub max_waiting: u64,
    /// Rate limits applied to each visit (known to exist, none keyed by subject).
    pub rate_limits: Vec<String>,
}

impl WaitingRoomSpec {
    /// Validates the waiting room of provider `name` (`path` is the provider's YAML path).
    pub(crate) fn from_file(
        name: &str,
        section: &Spanned<WaitingRoomSection>,
        path: &str,
        limits: &BTreeMap<String, RateLimitSpec>,
        problems: &mut Problems,
    ) -> WaitingRoomSpec {
        let w = &section.value;
        let path = format!("{path}.waiting_room");
        let rate = w.admission_rate.value;
        // A tenth of a second of the rate: the provider's seconds stay even.
        let default_burst = (rate.per_second() / 10.0).ceil().max(1.0) as u32;
        let burst = w.burst.as_ref().map_or(default_burst, |b| b.value);
        if let Some(b) = w.burst.as_ref().filter(|b| b.value == 0) {
            problems.report(
                format!("{path}.burst"),
                &b.referenced,
                "burst must be at least 1",
            );
        }
        let nodes = w.nodes.as_ref().map_or(1, |n| n.value);
        if let Some(n) = w.nodes.as_ref().filter(|n| n.value == 0) {
            problems.report(
                format!("{path}.nodes"),
                &n.referenced,
                "nodes must be at least 1",
            );
        }
        let refresh = w.refresh.map_or(Duration::from_secs(5), |d| d.0);
        let ticket_ttl = w.ticket_ttl.map_or(Duration::from_secs(30), |d| d.0);
        if refresh < Duration::from_secs(1) {
            problems.report(
                format!("{path}.refresh"),
                &section.referenced,
                "refresh must be at least 1s (each refresh is a request to Vigie)",
            );
        }
        if ticket_ttl < refresh * 2 {
            problems.report(
                format!("{path}.ticket_ttl"),
                &section.referenced,
                format!(
                    "ticket_ttl ({}) must be at least twice refresh ({}), or a person still waiting loses their place between two refreshes",
                    crate::config::Duration(ticket_ttl),
                    crate::config::Duration(refresh)
                ),
            );
        }
        let max_waiting = w.max_waiting.as_ref().map_or(1_000_000, |m| m.value);
        if let Some(m) = w.max_waiting.as_ref().filter(|m| m.value == 0) {
            problems.report(
                format!("{path}.max_waiting"),
                &m.referenced,
                "max_waiting must be at least 1",
            );
        }
        for (i, l) in w.rate_limits.iter().enumerate() {
            let at = format!("{path}.rate_limits[{i}]");
            match limits.get(&l.value) {
                None => problems.report(
                    at,
                    &l.referenced,
                    format!("no rate limit named {:?}", l.value),
                ),
                Some(spec) if spec.needs_identity() => problems.report(
                    at,
                    &l.referenced,
                    format!(
                        "limit {:?} counts by subject: nobody is logged in yet at a login",
                        l.value
                    ),
                ),
                Some(_) => {}
            }
        }
        WaitingRoomSpec {
            max_waiting: max_waiting.max(1),
            rate_limits: w.rate_limits.iter().map(|l| l.value.clone()).collect(),
            provider: name.to_string(),
            admission_rate: rate,
            burst: burst.max(1),
            nodes: nodes.max(1),
            refresh,
            ticket_ttl,
        }
    }

    /// When a browser with `ahead` tickets before it should come back: in a second once its
    /// turn came (it waits for a send token), otherwise after `refresh`, or later when its
    /// turn is far (a quarter of the estimated wait, so a long queue does not flood Vigie
    /// with reloads), never later than half the ticket's life.
    pub fn refresh_for(&self, ahead: u64) -> Duration {
        if ahead == 0 {
            return Duration::from_secs(1);
        }
        let quarter =
            Duration::from_secs_f64(ahead as f64 / self.admission_rate.per_second() / 4.0);
        quarter
            .max(self.refresh)
            .min(self.ticket_ttl / 2)
            .max(Duration::from_secs(1))
    }

    /// The machine's settings for the whole fleet.
    pub fn fleet_params(&self) -> Params {
        Params {
            rate_per_ms: self.admission_rate.per_second() / 1000.0,
            burst: f64::from(self.burst),
            ttl_ms: self.ticket_ttl.as_millis() as u64,
            capacity: self.max_waiting,
        }
    }

    /// The machine's settings for one node deciding alone: its share of the fleet's.
    pub fn node_params(&self) -> Params {
        let share = f64::from(self.nodes);
        Params {
            rate_per_ms: self.admission_rate.per_second() / 1000.0 / share,
            burst: (f64::from(self.burst) / share).max(1.0),
            ttl_ms: self.ticket_ttl.as_millis() as u64,
            capacity: self.max_waiting,
        }
    }
}
