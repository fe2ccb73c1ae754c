//! Token spray: session holders browse while clients spray random invalid bearer tokens,
//! each with a random key id, at an API route. What must hold: session holders unaffected;
//! sprayers refused (401, then 429 once their rate limit is spent); the provider's JWKS
//! fetched at most once per `unknown_kid_interval`, however many unknown key ids arrive.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;

use super::load::{self, Phase, Samples};
use super::stack::{Stack, client_address};
use crate::browser;

/// The scenario's shape.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Session requests per second, all along.
    pub browse_rate: f64,
    /// Sprayed requests per second during the spray.
    pub spray_rate: f64,
    /// Unloaded time before the spray.
    pub calm: Duration,
    /// Time of the spray.
    pub spray: Duration,
    /// Distinct addresses the spray comes from.
    pub sprayers: u32,
}

/// The extra YAML of the run: a per-client limit on the API route.
pub const RATE_LIMITS: &str =
    "rate_limits:\n  per_client: { key: [client_address], rate: 20/s, burst: 40 }";
/// The API route, for bearer tokens from `fc`.
pub const API_ROUTE: &str = "  - name: api\n    path_prefix: /api\n    upstream: ts\n    access: { bearer: [fc] }\n    rate_limits: [per_client]";

/// What a run measured, besides its report.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The Markdown report.
    pub report: String,
    /// Session requests that did not get a 200.
    pub session_errors: usize,
    /// Session requests sent.
    pub session_requests: usize,
    /// Sprayed requests by status.
    pub sprayed: Vec<(u16, usize)>,
    /// JWKS fetches during the run.
    pub jwks_fetches: u64,
}

/// Runs the scenario against `stack` whose parents hold `sessions`.
pub async fn run(stack: &Stack, s: &Settings, sessions: Arc<Vec<String>>) -> Outcome {
    let http = browser::client();
    let samples = Samples::default();
    let phases = [
        Phase {
            name: "calm",
            length: s.calm,
            from: s.browse_rate,
            to: s.browse_rate,
        },
        Phase {
            name: "spray",
            length: s.spray,
            from: s.browse_rate + s.spray_rate,
            to: s.browse_rate + s.spray_rate,
        },
    ];
    let share = s.spray_rate / (s.browse_rate + s.spray_rate);
    let jwks_before = stack.idp.jwks_fetches();
    let start = Instant::now();
    let (livret, api) = (
        format!("{}/livret/eleve", stack.base),
        format!("{}/api/dossiers", stack.base),
    );
    load::drive(&phases, Duration::from_secs(5), |n, at, tasks| {
        let spraying = at >= s.calm && (n as f64 * 0.618_034).fract() < share;
        let req = if spraying {
            let from = client_address(2_000_000 + (n as u32 % s.sprayers));
            http.get(&api)
                .header(
                    "authorization",
                    format!("Bearer {}", junk_token(&stack.idp.issuer)),
                )
                .header("x-forwarded-for", from)
        } else {
            let i = (n as usize * 7919) % sessions.len();
            http.get(&livret)
                .header("cookie", sessions[i].as_str())
                .header("x-forwarded-for", client_address(i as u32))
        };
        let (samples, class) = (samples.clone(), if spraying { "spray" } else { "session" });
        tasks.spawn(async move {
            if let Some(resp) = load::timed(&samples, class, start, req).await {
                let _ = resp.bytes().await;
            }
        });
    })
    .await;
    let jwks = stack.idp.jwks_fetches() - jwks_before;
    let mut out = String::from(
        "| window | session requests | errors | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n",
    );
    let mut p99 = Vec::new();
    for (p, st) in load::per_phase(&samples, "session", &phases) {
        out.push_str(&format!("| {} | {} |\n", p.name, st.cells()));
        p99.push(st.p99);
    }
    let from: Duration = phases.iter().map(|p| p.length).sum();
    let sprayed = samples.statuses("spray", Duration::ZERO, from);
    out.push_str(&format!(
        "\nSession holders' p99 during the spray: **{:.2}×** the calm p99. Sprayed requests by status: {}. \
         JWKS fetches during the run: **{jwks}** (unknown_kid_interval 10s over {:.0} s).\n",
        p99[1].as_secs_f64() / p99[0].as_secs_f64().max(1e-6),
        sprayed.iter().map(|(st, n)| format!("{st}: {n}")).collect::<Vec<_>>().join(", "),
        (s.calm + s.spray).as_secs_f64(),
    ));
    let whole = samples.stats("session", Duration::ZERO, from, |status| status == 200);
    Outcome {
        report: out,
        session_errors: whole.errors,
        session_requests: whole.count,
        sprayed,
        jwks_fetches: jwks,
    }
}

/// A JWT-shaped token with a random key id and a random signature, naming the real issuer.
fn junk_token(issuer: &str) -> String {
    let mut rng = rand::thread_rng();
    let kid: u64 = rng.r#gen();
    let header = format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid:016x}"}}"#);
    let claims = format!(r#"{{"iss":"{issuer}","sub":"x","aud":"vigie","exp":4102444800}}"#);
    let sig: [u8; 64] = std::array::from_fn(|_| rng.r#gen());
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims),
        URL_SAFE_NO_PAD.encode(sig)
    )
}
