//! Open-loop load: arrivals follow a rate profile over time, each arrival a task of its own,
//! and every answer recorded with its class, time and latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::task::JoinSet;

/// A stretch of the run whose arrival rate goes linearly from `from` to `to` per second.
#[derive(Clone, Debug)]
pub struct Phase {
    /// Its name in the report.
    pub name: &'static str,
    /// How long it lasts.
    pub length: Duration,
    /// Arrivals per second at its start.
    pub from: f64,
    /// Arrivals per second at its end.
    pub to: f64,
}

/// One recorded answer.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// What kind of request (`session`, `login`, `spray`...).
    pub class: &'static str,
    /// Time since the run started, when it was sent.
    pub at: Duration,
    /// Time to the answer's head.
    pub latency: Duration,
    /// Status, or 0 when no answer came.
    pub status: u16,
}

/// Every answer of a run.
#[derive(Clone, Default)]
pub struct Samples(Arc<Mutex<Vec<Sample>>>);

/// Percentiles of a set of samples.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Answers.
    pub count: usize,
    /// Answers that were not `ok` by the caller's rule.
    pub errors: usize,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Slowest answer.
    pub max: Duration,
}

/// Runs `phases` one after the other, calling `arrive(n, at)` for the n-th arrival (`at`: its
/// time since the start); the tasks it returns are awaited at the end, at most `grace` more.
pub async fn drive(
    phases: &[Phase],
    grace: Duration,
    mut arrive: impl FnMut(u64, Duration, &mut JoinSet<()>),
) {
    let start = Instant::now();
    let total: Duration = phases.iter().map(|p| p.length).sum();
    let mut tasks = JoinSet::new();
    let mut sent = 0u64;
    loop {
        let now = start.elapsed().min(total);
        let due = arrivals_by(phases, now) as u64;
        while sent < due {
            arrive(sent, now, &mut tasks);
            sent += 1;
        }
        while tasks.try_join_next().is_some() {}
        if now >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let _ = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    tasks.abort_all();
}

/// Arrivals expected from the start until `t`: the integral of the rate.
pub fn arrivals_by(phases: &[Phase], t: Duration) -> f64 {
    let mut left = t.as_secs_f64();
    let mut total = 0.0;
    for p in phases {
        let len = p.length.as_secs_f64();
        let span = left.min(len);
        if span <= 0.0 {
            break;
        }
        let rate_at_span = p.from + (p.to - p.from) * span / len;
        total += (p.from + rate_at_span) / 2.0 * span;
        left -= span;
    }
    total
}

/// The phase running at time `t`, and when it started.
pub fn phase_at(phases: &[Phase], t: Duration) -> Option<(&Phase, Duration)> {
    let mut start = Duration::ZERO;
    for p in phases {
        if t < start + p.length {
            return Some((p, start));
        }
        start += p.length;
    }
    None
}

impl Samples {
    /// Records one answer.
    pub fn push(&self, sample: Sample) {
        self.0.lock().push(sample);
    }

    /// Statistics of the samples of `class` sent within `[from, to)`; `ok` says which
    /// statuses are not errors.
    pub fn stats(
        &self,
        class: &str,
        from: Duration,
        to: Duration,
        ok: impl Fn(u16) -> bool,
    ) -> Stats {
        let samples = self.0.lock();
        let mut latencies: Vec<Duration> = Vec::new();
        let mut errors = 0;
        for s in samples
            .iter()
            .filter(|s| s.class == class && s.at >= from && s.at < to)
        {
            latencies.push(s.latency);
            errors += usize::from(!ok(s.status));
        }
        latencies.sort_unstable();
        let pick = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        Stats {
            count: latencies.len(),
            errors,
            p50: pick(0.50),
            p99: pick(0.99),
            max: latencies.last().copied().unwrap_or_default(),
        }
    }

    /// Statuses of `class` within `[from, to)`, counted.
    pub fn statuses(&self, class: &str, from: Duration, to: Duration) -> Vec<(u16, usize)> {
        let mut counts = std::collections::BTreeMap::new();
        for s in self
            .0
            .lock()
            .iter()
            .filter(|s| s.class == class && s.at >= from && s.at < to)
        {
            *counts.entry(s.status).or_insert(0) += 1;
        }
        counts.into_iter().collect()
    }
}

impl Stats {
    /// `count | errors | p50 | p99 | max` cells of a Markdown row (milliseconds).
    pub fn cells(&self) -> String {
        format!(
            "{} | {} | {} | {} | {}",
            self.count,
            self.errors,
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// The statistics of `class` in each phase, answers counted ok when 200.
pub fn per_phase<'p>(
    samples: &Samples,
    class: &str,
    phases: &'p [Phase],
) -> Vec<(&'p Phase, Stats)> {
    let mut from = Duration::ZERO;
    phases
        .iter()
        .map(|p| {
            let st = samples.stats(class, from, from + p.length, |status| status == 200);
            from += p.length;
            (p, st)
        })
        .collect()
}

/// Sends `req`, recording its class, time since `start`, latency and status in `samples`.
pub async fn timed(
    samples: &Samples,
    class: &'static str,
    start: Instant,
    req: reqwest::RequestBuilder,
) -> Option<reqwest::Response> {
    let at = start.elapsed();
    let sent = Instant::now();
    let resp = req.send().await.ok();
    samples.push(Sample {
        class,
        at,
        latency: sent.elapsed(),
        status: resp.as_ref().map_or(0, |r| r.status().as_u16()),
    });
    resp
}

/// The most events that fell in any window of `window` (sorted times).
pub fn busiest_window(times: &[Instant], window: Duration) -> usize {
    let mut best = 0;
    let mut first = 0;
    for (i, t) in times.iter().enumerate() {
        while *t - times[first] >= window {
            first += 1;
        }
        best = best.max(i + 1 - first);
    }
    best
}

/// `d` in milliseconds with one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_integrate_the_ramp() {
        let phases = [
            Phase {
                name: "calm",
                length: Duration::from_secs(10),
                from: 100.0,
                to: 100.0,
            },
            Phase {
                name: "ramp",
                length: Duration::from_secs(60),
                from: 100.0,
                to: 1000.0,
            },
        ];
        assert_eq!(arrivals_by(&phases, Duration::from_secs(10)), 1000.0);
        assert_eq!(
            arrivals_by(&phases, Duration::from_secs(70)),
            1000.0 + 33_000.0
        );
        assert_eq!(arrivals_by(&phases, Duration::from_secs(100)), 34_000.0);
        assert_eq!(
            phase_at(&phases, Duration::from_secs(11)).map(|p| p.0.name),
            Some("ramp")
        );
    }

    #[test]
    fn the_busiest_window_is_found() {
        let t0 = Instant::now();
        let times: Vec<Instant> = [0, 100, 900, 1000, 1050, 1099, 2500]
            .iter()
            .map(|ms| t0 + Duration::from_millis(*ms))
            .collect();
        assert_eq!(busiest_window(&times, Duration::from_secs(1)), 5);
    }
}
