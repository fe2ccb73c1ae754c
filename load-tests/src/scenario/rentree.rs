//! Rentrée morning: parents with a session browse while newcomers log in, the arrival rate
//! ramps tenfold in a minute and holds, so logins run ten times over the provider's
//! admission rate. What must hold: session holders see no errors and a p99 within twice the
//! unloaded one; the provider never receives more than its admission rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::load::{self, Phase, Samples, busiest_window};
use super::stack::{Stack, client_address};
use crate::parent::{self, Login};

/// The scenario's shape.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Arrivals per second before the ramp.
    pub base_rate: f64,
    /// How many times `base_rate` the ramp reaches.
    pub peak_factor: f64,
    /// Unloaded time before the ramp.
    pub calm: Duration,
    /// Time of the ramp.
    pub ramp: Duration,
    /// Time at the peak.
    pub hold: Duration,
    /// Share of arrivals that are newcomers logging in.
    pub login_share: f64,
    /// Share of newcomers who leave after their first waiting page.
    pub abandon_share: f64,
}

impl Settings {
    /// The provider's admission rate: the logins arriving before the ramp, so that at the
    /// peak logins arrive `peak_factor` times over it.
    pub fn admission_rate(&self) -> u32 {
        (self.base_rate * self.login_share).round().max(1.0) as u32
    }

    /// The waiting room's burst (the default: a tenth of a second of the rate).
    pub fn burst(&self) -> u32 {
        self.admission_rate().div_ceil(10)
    }

    /// The `waiting_room:` of the run.
    pub fn waiting_room(&self) -> String {
        let rate = self.admission_rate();
        format!("{{ admission_rate: {rate}/s, refresh: 2s, ticket_ttl: 10s }}")
    }

    fn phases(&self) -> [Phase; 3] {
        let peak = self.base_rate * self.peak_factor;
        [
            Phase {
                name: "calm (unloaded)",
                length: self.calm,
                from: self.base_rate,
                to: self.base_rate,
            },
            Phase {
                name: "ramp ×10",
                length: self.ramp,
                from: self.base_rate,
                to: peak,
            },
            Phase {
                name: "peak",
                length: self.hold,
                from: peak,
                to: peak,
            },
        ]
    }
}

/// What a run measured, besides its report.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The Markdown report.
    pub report: String,
    /// Session requests that did not get a 200, over the whole run.
    pub session_errors: usize,
    /// Session requests sent.
    pub session_requests: usize,
    /// Most logins the provider received in one second.
    pub busiest_second: usize,
    /// Newcomers who logged in.
    pub logged_in: usize,
    /// Logins that went wrong (not waiting, not abandoned: an error).
    pub failed: usize,
}

/// Runs the scenario against `stack` whose parents hold `sessions`.
pub async fn run(stack: &Stack, settings: &Settings, sessions: Arc<Vec<String>>) -> Outcome {
    let http = parent::client();
    let samples = Samples::default();
    let logins: Arc<Mutex<Vec<(Duration, Login)>>> = Arc::default();
    let phases = settings.phases();
    let start = Instant::now();
    let livret = format!("{}/livret/eleve", stack.base);
    let mut newcomers = 0;
    load::drive(&phases, Duration::from_secs(5), |n, at, tasks| {
        let http = http.clone();
        if is_login(n, settings.login_share) {
            newcomers += 1;
            let (base, issuer, logins) =
                (stack.base.clone(), stack.idp.issuer.clone(), logins.clone());
            let patience = if is_login(n / 7, settings.abandon_share) {
                1
            } else {
                1000
            };
            tasks.spawn(async move {
                let address = client_address(1_000_000 + n as u32);
                let login =
                    parent::log_in(&http, &base, &issuer, "parent-martin", &address, patience)
                        .await;
                logins.lock().push((at, login));
            });
        } else {
            let i = (n as usize * 7919) % sessions.len();
            let req = http
                .get(&livret)
                .header("cookie", sessions[i].as_str())
                .header("x-forwarded-for", client_address(i as u32));
            let samples = samples.clone();
            tasks.spawn(async move {
                if let Some(resp) = load::timed(&samples, "session", start, req).await {
                    let _ = resp.bytes().await;
                }
            });
        }
    })
    .await;
    report(
        stack,
        settings,
        &samples,
        &logins.lock(),
        newcomers,
        start,
        &phases,
    )
}

/// Whether arrival `n` is a newcomer logging in (spread evenly, deterministic).
fn is_login(n: u64, share: f64) -> bool {
    let spread = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
    spread < share
}

fn report(
    stack: &Stack,
    s: &Settings,
    samples: &Samples,
    logins: &[(Duration, Login)],
    newcomers: usize,
    start: Instant,
    phases: &[Phase],
) -> Outcome {
    let mut out = String::new();
    out.push_str("| window | arrivals/s | logins/s arriving | session requests | errors | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|---|\n");
    let mut p99 = Vec::new();
    for (p, st) in load::per_phase(samples, "session", phases) {
        out.push_str(&format!(
            "| {} | {:.0}→{:.0} | {:.0}→{:.0} | {} |\n",
            p.name,
            p.from,
            p.to,
            p.from * s.login_share,
            p.to * s.login_share,
            st.cells()
        ));
        p99.push(st.p99);
    }
    let ratio = p99[2].as_secs_f64() / p99[0].as_secs_f64().max(1e-6);
    let rate = s.admission_rate();
    let burst = s.burst();
    let mut at_idp: Vec<Instant> = stack
        .idp
        .authorizations()
        .into_iter()
        .filter(|t| *t >= start)
        .collect();
    at_idp.sort_unstable();
    let busiest_1s = busiest_window(&at_idp, Duration::from_secs(1));
    let busiest_10s = busiest_window(&at_idp, Duration::from_secs(10));
    let done: Vec<Duration> = logins
        .iter()
        .filter_map(|(_, l)| match l {
            Login::Done { waited, .. } => Some(*waited),
            _ => None,
        })
        .collect();
    let queued = logins
        .iter()
        .filter(|(_, l)| matches!(l, Login::Done { pages, .. } if *pages > 0))
        .count();
    let abandoned = logins
        .iter()
        .filter(|(_, l)| matches!(l, Login::Abandoned(_)))
        .count();
    let failed: Vec<&Login> = logins
        .iter()
        .filter(|(_, l)| matches!(l, Login::Failed(_)))
        .map(|(_, l)| l)
        .collect();
    let mut waits = done.clone();
    waits.sort_unstable();
    let median_wait = waits.get(waits.len() / 2).copied().unwrap_or_default();
    out.push_str(&format!(
        "\nSession holders' p99 at the peak: **{ratio:.2}×** the unloaded p99 (target ≤ 2×).\n\
         The provider's admission rate: {rate}/s (burst {burst}). It received {} logins during the run; \
         busiest second: **{busiest_1s}** (at most {} allowed: burst + 1 s of the rate), \
         busiest 10 s: **{busiest_10s}** (at most {}).\n\
         Newcomers: {} arrived, {} logged in ({} after waiting; median time to the provider {:.1} s, longest {:.1} s), \
         {abandoned} left after one waiting page, {} failed, {} still waiting when the run ended.\n",
        at_idp.len(),
        burst + rate,
        burst + rate * 10,
        newcomers,
        done.len(),
        queued,
        median_wait.as_secs_f64(),
        waits.last().copied().unwrap_or_default().as_secs_f64(),
        failed.len(),
        newcomers.saturating_sub(logins.len()),
    ));
    let statuses = samples.statuses("session", Duration::ZERO, Duration::MAX);
    out.push_str(&format!(
        "Session requests by status: {}.\n",
        statuses
            .iter()
            .map(|(st, n)| format!("{st}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some(first) = failed.first() {
        out.push_str(&format!("First failure: {first:?}\n"));
    }
    let whole = samples.stats("session", Duration::ZERO, Duration::MAX, |status| {
        status == 200
    });
    Outcome {
        report: out,
        session_errors: whole.errors,
        session_requests: whole.count,
        busiest_second: busiest_1s,
        logged_in: done.len(),
        failed: failed.len(),
    }
}
