//! `upstreams.NAME.concurrency:`: a bound on the requests sent to an upstream at once, a
//! short bounded queue beyond it, and a share of the slots kept for essential routes.
//!
//! A request takes a slot before its upstream request starts and keeps it until the request
//! ends (the permit lives in the request's context). When every slot is taken it waits, at most
//! `queue_timeout`, among at most `max_waiting` others; beyond either it gets 503 with
//! `Retry-After`. Routes not marked `essential` may use only `100 - reserved_for_essential`
//! percent of the slots, so when an upstream saturates, optional traffic is shed first and
//! the essential services (the livret, the bourse) keep their share.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};
use serde_saphyr::Spanned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Problems;
use crate::config::file::ConcurrencySection;

/// Validated `concurrency:` of one upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConcurrencySpec {
    /// Slots.
    pub max_in_flight: u32,
    /// Waiters at most.
    pub max_waiting: u32,
    /// Longest wait for a slot.
    pub queue_timeout: Duration,
    /// Slots (out of `max_in_flight`) only essential routes may take.
    pub reserved: u32,
}

/// The live gate of one upstream; see the module docs.
pub struct Gate {
    /// What the config says.
    pub spec: ConcurrencySpec,
    all: Arc<Semaphore>,
    optional: Arc<Semaphore>,
    waiting: AtomicUsize,
    metrics: GateMetrics,
}

/// The gate's Prometheus handles.
#[derive(Clone)]
pub struct GateMetrics {
    in_flight: IntGauge,
    waiting: IntGauge,
    wait: Histogram,
    /// By priority (optional, essential) then reason (queue_full, timeout).
    shed: [IntCounter; 4],
}

/// The gates' metric families, registered once per process.
#[derive(Clone)]
pub struct GateFamilies {
    in_flight: IntGaugeVec,
    waiting: IntGaugeVec,
    wait: HistogramVec,
    shed: IntCounterVec,
}

/// A held slot; dropping it frees the slot.
pub struct Permit {
    _all: OwnedSemaphorePermit,
    _optional: Option<OwnedSemaphorePermit>,
    in_flight: IntGauge,
}

/// Why no slot was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shed {
    /// `max_waiting` requests wait already.
    QueueFull = 0,
    /// No slot within `queue_timeout`.
    Timeout = 1,
}

// === impl ConcurrencySpec ===

impl ConcurrencySpec {
    /// Validates `upstreams.NAME.concurrency` (`path`).
    pub(crate) fn from_file(
        section: &Spanned<ConcurrencySection>,
        path: &str,
        problems: &mut Problems,
    ) -> ConcurrencySpec {
        let c = &section.value;
        let max = c.max_in_flight.value;
        if max == 0 {
            problems.report(
                format!("{path}.max_in_flight"),
                &c.max_in_flight.referenced,
                "max_in_flight must be at least 1",
            );
        }
        let percent = c.reserved_for_essential.as_ref().map_or(20, |p| p.value);
        if let Some(p) = c.reserved_for_essential.as_ref().filter(|p| p.value > 100) {
            problems.report(
                format!("{path}.reserved_for_essential"),
                &p.referenced,
                format!("{} is not a percentage (0 to 100)", p.value),
            );
        }
        ConcurrencySpec {
            max_in_flight: max.max(1),
            max_waiting: c.max_waiting.unwrap_or(max),
            queue_timeout: c.queue_timeout.map_or(Duration::from_secs(2), |d| d.0),
            reserved: (u64::from(max) * u64::from(percent.min(100)) / 100) as u32,
        }
    }
}

// === impl Gate ===

impl Gate {
    /// A gate for `spec`, reporting through `metrics`.
    pub fn new(spec: ConcurrencySpec, metrics: GateMetrics) -> Gate {
        let optional = spec.max_in_flight.saturating_sub(spec.reserved) as usize;
        Gate {
            all: Arc::new(Semaphore::new(spec.max_in_flight as usize)),
            optional: Arc::new(Semaphore::new(optional)),
            waiting: AtomicUsize::new(0),
            spec,
            metrics,
        }
    }

    /// A slot for a request of an essential route or not, waiting within the spec's bounds.
    pub async fn enter(&self, essential: bool) -> Result<Permit, Shed> {
        if let Some(permit) = self.try_enter(essential) {
            return Ok(permit);
        }
        let shed = |reason: Shed| {
            self.metrics.shed[usize::from(essential) * 2 + reason as usize].inc();
            reason
        };
        let queued = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = Waiting(&self.waiting, &self.metrics.waiting);
        self.metrics.waiting.inc();
        if queued >= self.spec.max_waiting as usize {
            return Err(shed(Shed::QueueFull));
        }
        let started = Instant::now();
        let acquire = async {
            let optional = if essential {
                None
            } else {
                Some(self.optional.clone().acquire_owned().await.ok()?)
            };
            let all = self.all.clone().acquire_owned().await.ok()?;
            Some((all, optional))
        };
        match tokio::time::timeout(self.spec.queue_timeout, acquire).await {
            Ok(Some((all, optional))) => {
                self.metrics.wait.observe(started.elapsed().as_secs_f64());
                Ok(self.permit(all, optional))
            }
            _ => Err(shed(Shed::Timeout)),
        }
    }

    /// A slot at once, if one is free to this priority.
    fn try_enter(&self, essential: bool) -> Option<Permit> {
        let optional = if essential {
            None
        } else {
            Some(self.optional.clone().try_acquire_owned().ok()?)
        };
        let all = self.all.clone().try_acquire_owned().ok()?;
        Some(self.permit(all, optional))
    }

    fn permit(&self, all: OwnedSemaphorePermit, optional: Option<OwnedSemaphorePermit>) -> Permit {
        self.metrics.in_flight.inc();
        Permit {
            _all: all,
            _optional: optional,
            in_flight: self.metrics.in_flight.clone(),
        }
    }
}

// === impl GateFamilies ===

impl GateFamilies {
    /// Creates the families and registers them with `register`.
    pub fn register(
        register: impl Fn(Box<dyn prometheus::core::Collector>) -> prometheus::Result<()>,
    ) -> prometheus::Result<GateFamilies> {
        let in_flight = IntGaugeVec::new(
            Opts::new(
                "upstream_in_flight",
                "Requests holding a concurrency slot of the upstream.",
            ),
            &["upstream"],
        )?;
        let waiting = IntGaugeVec::new(
            Opts::new(
                "upstream_queue_length",
                "Requests waiting for a slot of the upstream.",
            ),
            &["upstream"],
        )?;
        let wait = HistogramVec::new(
            HistogramOpts::new(
                "upstream_queue_wait_seconds",
                "How long requests given a slot waited for it.",
            )
            .buckets(vec![
                0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["upstream"],
        )?;
        let shed = IntCounterVec::new(
            Opts::new(
                "shed_requests_total",
                "Requests refused with 503 by an upstream's concurrency limit, by priority and reason.",
            ),
            &["upstream", "priority", "reason"],
        )?;
        register(Box::new(in_flight.clone()))?;
        register(Box::new(waiting.clone()))?;
        register(Box::new(wait.clone()))?;
        register(Box::new(shed.clone()))?;
        Ok(GateFamilies {
            in_flight,
            waiting,
            wait,
            shed,
        })
    }

    /// The handles of `upstream`'s gate.
    pub fn for_upstream(&self, upstream: &str) -> GateMetrics {
        GateMetrics {
            in_flight: self.in_flight.with_label_values(&[upstream]),
            waiting: self.waiting.with_label_values(&[upstream]),
            wait: self.wait.with_label_values(&[upstream]),
            shed: [
                ("optional", "queue_full"),
                ("optional", "timeout"),
                ("essential", "queue_full"),
                ("essential", "timeout"),
            ]
            .map(|(priority, reason)| self.shed.with_label_values(&[upstream, priority, reason])),
        }
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").field("spec", &self.spec).finish()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.in_flight.dec();
    }
}

/// Leaves the queue when dropped (admitted, shed or cancelled).
struct Waiting<'a>(&'a AtomicUsize, &'a IntGauge);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
        self.1.dec();
    }
}

#[cfg(test)]
mod tests;
