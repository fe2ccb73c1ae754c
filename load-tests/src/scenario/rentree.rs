//! Rentrée morning: parents and pupils with a session browse while newcomers log in (parents
//! through FranceConnect, pupils through ÉduConnect, half each), the arrival rate ramps
//! tenfold in a minute and holds, so logins run ten times over each provider's admission
//! rate. What must hold: session holders see no errors and a p99 within twice the unloaded
//! one; no provider receives more than its admission rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::load::{self, Phase, Samples, busiest_window};
use super::stack::{Stack, client_address};
use crate::browser::{self, Idp, Login};

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
    /// Each provider's admission rate: its logins arriving before the ramp (newcomers are
    /// split evenly between the two), so that at the peak they arrive `peak_factor` times
    /// over it.
    pub fn admission_rate(&self) -> u32 {
        (self.base_rate * self.login_share / 2.0).round().max(1.0) as u32
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
    /// What each provider received.
    pub providers: Vec<AtProvider>,
    /// Newcomers who logged in.
    pub logged_in: usize,
    /// Logins that went wrong (not waiting, not abandoned: an error).
    pub failed: usize,
}

/// What one provider received during a run.
#[derive(Clone, Debug)]
pub struct AtProvider {
    /// Its name.
    pub name: &'static str,
    /// Logins it received.
    pub received: usize,
    /// The most in one second.
    pub busiest_second: usize,
    /// The most in ten seconds.
    pub busiest_10s: usize,
}

/// Runs the scenario against `stack` whose people hold `sessions`.
pub async fn run(stack: &Stack, settings: &Settings, sessions: Arc<Vec<String>>) -> Outcome {
    let http = browser::client();
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
            let (pupil, account) = match stack.person(newcomers) {
                (Idp::EduConnect, account) => (true, account),
                (_, account) => (false, account),
            };
            let patience = if is_login(n / 7, settings.abandon_share) {
                1
            } else {
                1000
            };
            tasks.spawn(async move {
                let address = client_address(1_000_000 + n as u32);
                let idp = if pupil {
                    Idp::EduConnect
                } else {
                    Idp::FranceConnect { issuer: &issuer }
                };
                let login = browser::log_in(&http, &base, idp, &account, &address, patience).await;
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
    let mut rooms = String::new();
    for provider in ["fc", "educonnect"] {
        let m = |name: &str, via: &str| {
            let label = if via.is_empty() {
                String::new()
            } else {
                format!(",via=\"{via}\"")
            };
            format!("vigie_waiting_room_{name}{{provider=\"{provider}\"{label}}}")
        };
        rooms.push_str(&format!(
            "Room `{provider}`: {} sent at once, {} after waiting, {} tickets issued, {} turned away.\n",
            stack.metric(&m("admitted_total", "direct")).await,
            stack.metric(&m("admitted_total", "queue")).await,
            stack.metric(&m("tickets_issued_total", "")).await,
            stack.metric(&m("turned_away_total", "")).await,
        ));
    }
    let mut outcome = report(
        stack,
        settings,
        &samples,
        &logins.lock(),
        newcomers,
        start,
        &phases,
    );
    outcome.report.push_str(&rooms);
    outcome
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
    let (rate, burst) = (s.admission_rate(), s.burst());
    let providers: Vec<AtProvider> = [
        ("FranceConnect", stack.idp.authorizations()),
        ("ÉduConnect", stack.educonnect.authn_requests()),
    ]
    .into_iter()
    .map(|(name, times)| {
        let mut times: Vec<Instant> = times.into_iter().filter(|t| *t >= start).collect();
        times.sort_unstable();
        AtProvider {
            name,
            received: times.len(),
            busiest_second: busiest_window(&times, Duration::from_secs(1)),
            busiest_10s: busiest_window(&times, Duration::from_secs(10)),
        }
    })
    .collect();
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
        "\nSession holders' p99 at the peak: **{ratio:.2}×** the unloaded p99 (target ≤ 2×).\n\n\
         | provider | admission rate | logins received | busiest second | busiest 10 s |\n|---|---|---|---|---|\n{}\n\
         (at most burst + rate × t in any t seconds: {} in a second, {} in ten).\n\
         Newcomers: {} arrived, {} logged in ({} after waiting; median time to the provider {:.1} s, longest {:.1} s), \
         {abandoned} left after one waiting page, {} failed, {} still waiting when the run ended.\n",
        providers
            .iter()
            .map(|p| format!(
                "| {} | {rate}/s, burst {burst} | {} | **{}** | **{}** |",
                p.name, p.received, p.busiest_second, p.busiest_10s
            ))
            .collect::<Vec<_>>()
            .join("\n"),
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
        providers,
        logged_in: done.len(),
        failed: failed.len(),
    }
}
