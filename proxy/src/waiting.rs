//! `identity_providers.NAME.waiting_room:`: on a peak day, newcomers queue for the identity
//! provider instead of overwhelming it.
//!
//! Each provider with a room has an admission rate. Starting a login (`/vigie/login/NAME`)
//! is a visit: while logins arrive under the rate, the visit goes straight on; beyond it, the
//! newcomer gets a waiting page holding a sealed ticket (AES-GCM, so it cannot be forged or
//! edited) that reloads itself, and is admitted first come, first served ([`room`]). People
//! who already have a session never queue; abandoned tickets expire; a used ticket is gone.
//!
//! With sessions in Redis, the queue lives there ([`shared`]): one queue and one admission
//! rate for the fleet. When Redis cannot answer, each node keeps admitting on its own at its
//! share of the rate (`admission_rate / nodes`) rather than failing logins; tickets issued
//! meanwhile are node-local and join the fleet's queue again (at its end) once Redis answers.

mod page;
mod room;
mod shared;
mod spec;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};
use serde::{Deserialize, Serialize};

pub use page::{COOKIE, Ticket, waiting_page};
pub use room::{Answer, Params, Room};
pub use spec::WaitingRoomSpec;

use crate::sessions::RedisStore;
use shared::SharedRoom;

/// One provider's room; see the module docs.
pub struct WaitingRoom {
    /// What the config says.
    pub spec: WaitingRoomSpec,
    /// This node's own queue, used alone without Redis and as the fallback with it.
    local: Mutex<Room>,
    /// Tells this node's tickets from others' (random per room).
    node: u64,
    metrics: RoomMetrics,
}

/// Where a ticket was issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// In the fleet's queue (Redis).
    Fleet,
    /// In the queue of the node with this id.
    Node(u64),
}

/// The outcome of a visit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Go on to the provider.
    Admitted,
    /// Wait, holding `ticket`.
    Wait {
        /// The ticket to keep (in the cookie).
        ticket: Ticket,
        /// Tickets ahead of it.
        ahead: u64,
        /// A rough estimate of the wait.
        estimate: Duration,
        /// When the browser should come back.
        refresh: Duration,
    },
    /// The room is full (`max_waiting`): come back later.
    Full,
}

/// The room's Prometheus handles.
#[derive(Clone)]
pub struct RoomMetrics {
    admitted_direct: IntCounter,
    admitted_queued: IntCounter,
    queued: IntCounter,
    length: IntGauge,
    wait: Histogram,
    fallback: IntCounter,
    unknown: IntCounter,
    full: IntCounter,
}

/// The rooms' metric families, registered once per process.
#[derive(Clone)]
pub struct RoomFamilies {
    admitted: IntCounterVec,
    queued: IntCounterVec,
    length: IntGaugeVec,
    wait: HistogramVec,
    fallback: IntCounterVec,
    unknown: IntCounterVec,
    full: IntCounterVec,
}

/// Milliseconds since the Unix epoch: the rooms' clock (shared by the fleet through Redis).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

// === impl WaitingRoom ===

impl WaitingRoom {
    /// A room for `spec`, empty at `now` (ms).
    pub fn new(spec: WaitingRoomSpec, metrics: RoomMetrics, now: u64) -> WaitingRoom {
        WaitingRoom {
            local: Mutex::new(Room::new(&spec.node_params(), now)),
            node: rand::random(),
            spec,
            metrics,
        }
    }

    /// A visit at `now` (ms) with the ticket the browser holds, if any; `redis` is the
    /// sessions' Redis when sessions live there.
    pub async fn visit(
        &self,
        ticket: Option<&Ticket>,
        redis: Option<&RedisStore>,
        now: u64,
    ) -> Admission {
        let held = ticket.filter(|t| t.provider == self.spec.provider);
        let (answer, scope) = match redis {
            Some(redis) => match self.visit_fleet(redis, held, now).await {
                Some(answer) => (answer, Scope::Fleet),
                None => {
                    self.metrics.fallback.inc();
                    (self.visit_node(held, now), Scope::Node(self.node))
                }
            },
            None => (self.visit_node(held, now), Scope::Node(self.node)),
        };
        match answer {
            Answer::Admitted => {
                match held {
                    Some(t) => {
                        self.metrics.admitted_queued.inc();
                        self.metrics
                            .wait
                            .observe(now.saturating_sub(t.issued) as f64 / 1000.0);
                    }
                    None => self.metrics.admitted_direct.inc(),
                }
                Admission::Admitted
            }
            Answer::Full => {
                self.metrics.full.inc();
                Admission::Full
            }
            Answer::Waiting { ticket, ahead } => {
                let issued = held
                    .filter(|t| t.scope == scope && t.number == ticket)
                    .map_or(now, |t| t.issued);
                if issued == now {
                    self.metrics.queued.inc();
                }
                self.metrics.length.set(ahead as i64 + 1);
                let per_second = self.spec.admission_rate.per_second();
                Admission::Wait {
                    ticket: Ticket {
                        provider: self.spec.provider.clone(),
                        scope,
                        number: ticket,
                        issued,
                    },
                    ahead,
                    estimate: Duration::from_secs_f64((ahead + 1) as f64 / per_second),
                    refresh: self.spec.refresh_for(ahead),
                }
            }
        }
    }

    /// The visit in the fleet's queue; `None` when Redis cannot answer.
    async fn visit_fleet(
        &self,
        redis: &RedisStore,
        held: Option<&Ticket>,
        now: u64,
    ) -> Option<Answer> {
        let room = SharedRoom::new(redis, &self.spec.provider);
        let p = self.spec.fleet_params();
        let answer = match held.filter(|t| t.scope == Scope::Fleet) {
            Some(t) => match room.poll(redis, &p, t.number, now).await {
                Ok(Some(answer)) => Ok(answer),
                Ok(None) => {
                    self.metrics.unknown.inc();
                    room.enter(redis, &p, now).await
                }
                Err(e) => Err(e),
            },
            None => room.enter(redis, &p, now).await,
        };
        answer
            .map_err(|e| tracing::warn!(provider = %self.spec.provider, error = %e, "waiting room: Redis failed; this node admits its share alone"))
            .ok()
    }

    /// The visit in this node's queue.
    fn visit_node(&self, held: Option<&Ticket>, now: u64) -> Answer {
        let p = self.spec.node_params();
        let mut room = self.local.lock();
        if let Some(t) = held.filter(|t| t.scope == Scope::Node(self.node)) {
            match room.poll(&p, t.number, now) {
                Some(answer) => return answer,
                None => self.metrics.unknown.inc(),
            }
        }
        room.enter(&p, now)
    }
}

impl std::fmt::Debug for WaitingRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitingRoom")
            .field("spec", &self.spec)
            .finish()
    }
}

// === impl RoomFamilies ===

impl RoomFamilies {
    /// Creates the families and registers them with `register`.
    pub fn register(
        register: impl Fn(Box<dyn prometheus::core::Collector>) -> prometheus::Result<()>,
    ) -> prometheus::Result<RoomFamilies> {
        let by_provider = ["provider"];
        let admitted = IntCounterVec::new(
            Opts::new(
                "waiting_room_admitted_total",
                "Logins sent on to the provider, by how (direct: nobody was waiting; queue: after waiting).",
            ),
            &["provider", "via"],
        )?;
        let queued = IntCounterVec::new(
            Opts::new(
                "waiting_room_tickets_issued_total",
                "Newcomers given a waiting-room ticket.",
            ),
            &by_provider,
        )?;
        let length = IntGaugeVec::new(
            Opts::new(
                "waiting_room_queue_length",
                "Position of the last person seen waiting (tickets ahead of them, plus one).",
            ),
            &by_provider,
        )?;
        let wait = HistogramVec::new(
            HistogramOpts::new(
                "waiting_room_wait_seconds",
                "Time from ticket to admission of the people who waited.",
            )
            .buckets(vec![
                1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0,
            ]),
            &by_provider,
        )?;
        let fallback = IntCounterVec::new(
            Opts::new(
                "waiting_room_local_decisions_total",
                "Visits decided by this node alone because Redis could not answer.",
            ),
            &by_provider,
        )?;
        let unknown = IntCounterVec::new(
            Opts::new(
                "waiting_room_unknown_tickets_total",
                "Tickets presented that the room no longer holds (expired, or already used).",
            ),
            &by_provider,
        )?;
        let full = IntCounterVec::new(
            Opts::new(
                "waiting_room_turned_away_total",
                "Newcomers turned away because max_waiting people were waiting.",
            ),
            &by_provider,
        )?;
        register(Box::new(full.clone()))?;
        register(Box::new(admitted.clone()))?;
        register(Box::new(queued.clone()))?;
        register(Box::new(length.clone()))?;
        register(Box::new(wait.clone()))?;
        register(Box::new(fallback.clone()))?;
        register(Box::new(unknown.clone()))?;
        Ok(RoomFamilies {
            admitted,
            queued,
            length,
            wait,
            fallback,
            unknown,
            full,
        })
    }

    /// The handles of `provider`'s room.
    pub fn for_provider(&self, provider: &str) -> RoomMetrics {
        RoomMetrics {
            admitted_direct: self.admitted.with_label_values(&[provider, "direct"]),
            admitted_queued: self.admitted.with_label_values(&[provider, "queue"]),
            queued: self.queued.with_label_values(&[provider]),
            length: self.length.with_label_values(&[provider]),
            wait: self.wait.with_label_values(&[provider]),
            fallback: self.fallback.with_label_values(&[provider]),
            unknown: self.unknown.with_label_values(&[provider]),
            full: self.full.with_label_values(&[provider]),
        }
    }
}

#[cfg(test)]
mod tests;
