//! A fleet: two Vigie processes sharing sessions in a real `redis-server`. A login on one
//! node is a session on every node, a logout anywhere ends it everywhere within a second,
//! and a Redis outage is a clear 503 on session routes until Redis is back, sessions intact.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Certs, OidcProvider, TempDir, Upstream, Vigie, browser, login_through, upstream};
use vigie_load_tests::redis::RedisServer;

struct Fleet {
    a: Vigie,
    b: Vigie,
    base_a: String,
    base_b: String,
    op: OidcProvider,
    certs: Certs,
    redis: RedisServer,
    _upstream: Upstream,
}

async fn fleet() -> Fleet {
    let redis = RedisServer::start().expect("redis-server (installed by .ci/prepare)");
    let op = OidcProvider::start();
    let up = upstream("teleservices").await;
    let certs = Certs::generate();
    let more = format!(
        r#"
sessions:
  store: redis
  secret_file: session-secret
  redis:
    urls: ["{redis}"]
    timeout: 300ms
    # Long enough that only the revocation channel can explain a logout seen at once.
    local_cache: {{ ttl: 60s }}
identity_providers:{fc}"#,
        redis = redis.url(),
        fc = op.provider_yaml("fc", "vigie", "eidas1"),
    );
    let yaml = support::site_yaml(up.addr, true, &more);
    let node = || {
        let dir = TempDir::new();
        certs.write_to(&dir);
        dir.write("fc-secret", support::CLIENT_SECRET);
        dir.write("session-secret", "the same 32+ byte secret on every node");
        Vigie::start_in(dir, &yaml)
    };
    let (a, b) = (node(), node());
    let base = |v: &Vigie| format!("https://localhost:{}", v.addr("secure").port());
    let (base_a, base_b) = (base(&a), base(&b));
    op.configure(json!([OidcProvider::client(
        &[&base_a, &base_b],
        "vigie",
        "fc",
        true
    )]));
    a.wait_ready();
    b.wait_ready();
    Fleet {
        a,
        b,
        base_a,
        base_b,
        op,
        certs,
        redis,
        _upstream: up,
    }
}

/// GET the protected page as an API client would (no redirect to the login page).
async fn livret(b: &reqwest::Client, base: &str) -> reqwest::Response {
    b.get(format!("{base}/livret/eleve"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
}

/// Polls until the protected page at `base` answers `status`; returns how long it took.
async fn until_status(b: &reqwest::Client, base: &str, status: u16, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let got = livret(b, base).await.status().as_u16();
        if got == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{base} still answers {got}, not {status}, after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_one_for_the_fleet_and_a_logout_ends_it_everywhere() {
    let f = fleet().await;
    let b = browser(&f.certs.ca_pem);

    // Login on A; the session works on B (and is now cached by both).
    let resp = login_through(&b, &f.base_a, &f.op, "fc", "parent-martin", "eidas1").await;
    assert_eq!(resp.status(), 200);
    let resp = livret(&b, &f.base_b).await;
    assert_eq!(resp.status(), 200);
    let echo: Value = resp.json().await.unwrap();
    assert_eq!(echo["headers"]["x-vigie-subject"][0], "parent-martin");
    assert_eq!(livret(&b, &f.base_a).await.status(), 200);

    // Logout on B (confirmation page, CSRF token); A refuses within a second.
    let resp = support::logout(&b, &f.base_b).await;
    assert!(
        resp.url().as_str().starts_with(&f.op.issuer),
        "on to the provider's end_session"
    );
    let took = until_status(&b, &f.base_a, 401, Duration::from_secs(1)).await;
    eprintln!("A refused the revoked session after {took:?}");
    assert!(f.a.metric("vigie_session_revocations_received_total") >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_a_clear_503_and_sessions_survive_it() {
    let mut f = fleet().await;
    let b = browser(&f.certs.ca_pem);
    let resp = login_through(&b, &f.base_a, &f.op, "fc", "parent-martin", "eidas1").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(livret(&b, &f.base_b).await.status(), 200);

    f.redis.stop();
    until_status(&b, &f.base_a, 503, Duration::from_secs(2)).await;
    until_status(&b, &f.base_b, 503, Duration::from_secs(2)).await;
    let page = b
        .get(format!("{}/livret/eleve", f.base_a))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 503);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Service momentanément indisponible"),
        "{html}"
    );
    assert!(html.contains("Vos données ne sont pas perdues"));
    let problem: Value = livret(&b, &f.base_a).await.json().await.unwrap();
    assert_eq!(problem["status"], 503);
    // Public routes do not need Redis.
    let home = b.get(format!("{}/", f.base_a)).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(f.a.metric("vigie_session_store_errors_total{op=\"get\"}") >= 1.0);
    assert!(f.b.metric("vigie_session_store_errors_total{op=\"get\"}") >= 1.0);

    // Back: the same session works again on both nodes, without logging in again.
    f.redis.restart().unwrap();
    until_status(&b, &f.base_a, 200, Duration::from_secs(10)).await;
    until_status(&b, &f.base_b, 200, Duration::from_secs(10)).await;
}
