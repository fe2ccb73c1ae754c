//! The waiting room over HTTP, with the development FranceConnect: with admission at N/s and
//! ten times as many logins, the provider is sent at most about N a second, tickets are
//! admitted in arrival order, forged and replayed tickets get no admission, people with a
//! session never queue; two nodes on one Redis share one queue, and when Redis stops each
//! node admits its share alone.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::redirect::Policy;
use support::{TempDir, Upstream, Vigie, attr_after, hidden_fields, upstream};
use vigie_load_tests::franceconnect::{Client, ClientAuth, DevProvider};
use vigie_load_tests::redis::RedisServer;

struct Node {
    vigie: Vigie,
    base: String,
}

/// A Vigie node whose provider `fc` has a waiting room (`room` is its settings).
async fn node(op: &DevProvider, up: &Upstream, room: &str, sessions: &str) -> Node {
    let dir = TempDir::new();
    dir.write("fc-secret", "dev-secret");
    dir.write("session-secret", "the same 32+ byte secret on every node");
    let provider = support::provider_yaml(
        "fc",
        &op.issuer,
        "fc-client",
        "eidas1",
        "client_secret_file: fc-secret",
    );
    let more = format!("identity_providers:{provider}\n    waiting_room: {room}\n{sessions}");
    let vigie = Vigie::start_in(dir, &support::site_yaml(up.addr, false, &more));
    let base = format!("http://127.0.0.1:{}", vigie.addr("public").port());
    op.add_client(Client {
        id: "fc-client".into(),
        auth: ClientAuth::Secret("dev-secret".into()),
        redirect_uris: vec![format!("{base}/vigie/callback/fc")],
        post_logout_redirect_uris: vec![format!("{base}/vigie/logged-out")],
    });
    vigie.wait_ready();
    Node { vigie, base }
}

/// What a visit to the login start gave.
#[derive(Debug, PartialEq)]
enum Visit {
    /// Sent on to the provider.
    Admitted,
    /// The waiting page: the ticket cookie and the position shown.
    Wait(String, u64),
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// One visit to `/vigie/login/fc`, with the ticket `cookie` if given.
async fn visit(http: &reqwest::Client, node: &Node, issuer: &str, cookie: Option<&str>) -> Visit {
    let mut req = http.get(format!("{}/vigie/login/fc?return_to=%2Flivret", node.base));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    match resp.status().as_u16() {
        302 | 303 => {
            let location = resp.headers()["location"].to_str().unwrap();
            assert!(
                location.starts_with(&format!("{issuer}/authorize")),
                "{location}"
            );
            Visit::Admitted
        }
        200 => {
            let cookie = resp
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.starts_with("__Host-vigie_wait="))
                .expect("the waiting page sets the ticket")
                .split(';')
                .next()
                .unwrap()
                .to_string();
            let html = resp.text().await.unwrap();
            assert!(html.contains("<meta http-equiv=\"refresh\""), "{html}");
            assert!(html.contains("role=\"status\""));
            let shown = html
                .split("Votre rang dans la file d'attente : <strong>")
                .nth(1)
                .and_then(|rest| rest.split("</strong>").next())
                .expect("the position");
            let position = shown
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>();
            Visit::Wait(cookie, position.parse().unwrap())
        }
        other => panic!("unexpected {other}: {}", resp.text().await.unwrap()),
    }
}

/// Logs a parent in completely (through the provider's page); the cookie jar holds the session.
async fn log_in(node: &Node, op: &DevProvider, jar: &Arc<reqwest::cookie::Jar>) {
    let b = reqwest::Client::builder()
        .no_proxy()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let page = b
        .get(format!("{}/vigie/login/fc?return_to=%2Flivret", node.base))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    let action = attr_after(&html, "<form", "action").expect("the provider's page");
    let mut form = hidden_fields(&html);
    form.push(("account".into(), "parent-diallo".into()));
    form.push(("action".into(), "login".into()));
    let landed = b
        .post(format!("{}{action}", op.issuer))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), 200);
    assert!(
        landed.url().path().starts_with("/livret"),
        "{}",
        landed.url()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_beyond_the_admission_rate_queue_and_pass_in_arrival_order() {
    let op = DevProvider::start("127.0.0.1:0".parse().unwrap(), None, vec![])
        .await
        .unwrap();
    let up = upstream("teleservices").await;
    let room = "{ admission_rate: 10/s, burst: 5, refresh: 1s, ticket_ttl: 10s }";
    let site = node(&op, &up, room, "").await;
    let jar = Arc::new(reqwest::cookie::Jar::default());
    log_in(&site, &op, &jar).await;

    // 60 newcomers at once: ten times the admission rate, and more.
    let http = no_redirects();
    let started = Instant::now();
    let mut admitted_at = Vec::new();
    let mut waiting = Vec::new();
    for i in 0..60 {
        match visit(&http, &site, &op.issuer, None).await {
            Visit::Admitted => admitted_at.push(started.elapsed()),
            Visit::Wait(cookie, position) => waiting.push((i, cookie, position)),
        }
    }
    assert!(
        admitted_at.len() <= 6,
        "only the burst passes at once: {}",
        admitted_at.len()
    );
    // Each newcomer is told how many wait before them: never more than arrived before them,
    // fewer when turns came meanwhile (the queue moves while they arrive), and the last one
    // sees about the whole queue.
    let positions: Vec<u64> = waiting.iter().map(|w| w.2).collect();
    for (i, p) in positions.iter().enumerate() {
        assert!((1..=i as u64 + 1).contains(p), "{positions:?}");
    }
    let last = *positions.last().unwrap();
    assert!(last + 15 >= positions.len() as u64, "{positions:?}");

    // Someone with a session is never queued.
    let holder = reqwest::Client::builder()
        .no_proxy()
        .cookie_provider(jar.clone())
        .redirect(Policy::none())
        .build()
        .unwrap();
    assert_eq!(
        visit(&holder, &site, &op.issuer, None).await,
        Visit::Admitted
    );
    // A forged ticket (the last one, edited) is a newcomer's visit: to the back of the queue.
    let (_, last_cookie, last_position) = waiting.last().unwrap().clone();
    let forged = format!(
        "{}{}",
        &last_cookie[..last_cookie.len() - 2],
        if last_cookie.ends_with("AA") {
            "BB"
        } else {
            "AA"
        }
    );
    let Visit::Wait(_, at) = visit(&http, &site, &op.issuer, Some(&forged)).await else {
        panic!("a forged ticket must not be admitted")
    };
    assert!(at > last_position, "{at} > {last_position}");

    // Everyone waiting comes back every 200 ms, in arrival order.
    let mut used = Vec::new();
    let mut replayed = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !waiting.is_empty() {
        assert!(Instant::now() < deadline, "{} still waiting", waiting.len());
        let mut still = Vec::new();
        for (i, cookie, _) in waiting {
            match visit(&http, &site, &op.issuer, Some(&cookie)).await {
                Visit::Admitted => {
                    admitted_at.push(started.elapsed());
                    used.push((i, cookie));
                }
                Visit::Wait(cookie, position) => still.push((i, cookie, position)),
            }
        }
        // First come, first served: nobody waits behind someone admitted after them.
        if let (Some(first_waiting), Some(last_admitted)) = (still.first(), used.last()) {
            assert!(
                first_waiting.0 > last_admitted.0,
                "{} waits, {} got in",
                first_waiting.0,
                last_admitted.0
            );
        }
        // A used ticket, presented again while others wait, is a newcomer's visit: it queues.
        if !replayed
            && still.len() > 10
            && let Some((_, used_cookie)) = used.first()
        {
            let again = visit(&http, &site, &op.issuer, Some(used_cookie)).await;
            assert!(
                matches!(again, Visit::Wait(..)),
                "a replayed ticket got {again:?}"
            );
            replayed = true;
        }
        waiting = still;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The provider was sent at most the burst plus 10 a second.
    for (n, at) in admitted_at.iter().enumerate() {
        let allowed = 5.0 + 1.0 + 10.0 * at.as_secs_f64();
        assert!(
            (n + 1) as f64 <= allowed + 1.0,
            "admission {} at {at:?}: over the rate",
            n + 1
        );
    }
    // In any one second, at most the burst plus one second of the rate.
    for (i, first) in admitted_at.iter().enumerate() {
        let within = admitted_at[i..]
            .iter()
            .filter(|t| **t < *first + Duration::from_secs(1))
            .count();
        assert!(
            within <= 15,
            "{within} admissions in the second from {first:?}"
        );
    }
    let elapsed = admitted_at.last().unwrap().as_secs_f64();
    assert!(
        elapsed >= 4.0,
        "60 logins at 10/s after a burst of 5 take time: {elapsed}"
    );
    assert!(replayed, "the replay was tried");
    let v = &site.vigie;
    assert_eq!(
        v.metric(r#"vigie_waiting_room_admitted_total{provider="fc",via="queue"}"#),
        used.len() as f64
    );
    assert!(v.metric(r#"vigie_waiting_room_unknown_tickets_total{provider="fc"}"#) >= 1.0);
    assert!(v.metric("vigie_waiting_room_wait_seconds_count") >= used.len() as f64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_queue_and_each_falls_back_to_its_share() {
    let mut redis = RedisServer::start().expect("redis-server (installed by .ci/prepare)");
    let op = DevProvider::start("127.0.0.1:0".parse().unwrap(), None, vec![])
        .await
        .unwrap();
    let up = upstream("teleservices").await;
    let room = "{ admission_rate: 4/s, burst: 4, nodes: 2, refresh: 1s, ticket_ttl: 10s }";
    let sessions = format!(
        "sessions:\n  store: redis\n  secret_file: session-secret\n  redis: {{ urls: [\"{}\"], timeout: 300ms }}",
        redis.url()
    );
    let a = node(&op, &up, room, &sessions).await;
    let b = node(&op, &up, room, &sessions).await;
    let http = no_redirects();
    for _ in 0..4 {
        assert_eq!(visit(&http, &a, &op.issuer, None).await, Visit::Admitted);
    }
    // Node b's newcomer finds the burst spent on node a: one queue.
    let Visit::Wait(cookie, 1) = visit(&http, &b, &op.issuer, None).await else {
        panic!("b's newcomer must wait first in line")
    };
    // Its ticket is good on node a too.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut cookie = cookie;
    loop {
        match visit(&http, &a, &op.issuer, Some(&cookie)).await {
            Visit::Admitted => break,
            Visit::Wait(next, _) => cookie = next,
        }
        assert!(Instant::now() < deadline, "the ticket was never admitted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Redis stops: logins go on, each node admitting its share (a burst of 4 / 2).
    redis.stop();
    for n in [&a, &b] {
        let visits = (0..6).map(|_| visit(&http, n, &op.issuer, None));
        let outcomes = futures::future::join_all(visits).await;
        let admitted = outcomes.iter().filter(|v| **v == Visit::Admitted).count();
        assert!(
            (2..=3).contains(&admitted),
            "{admitted} of 6 admitted; the node's share is a burst of 2 and 2/s"
        );
        assert!(n.vigie.metric("vigie_waiting_room_local_decisions_total") >= 6.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_room_and_a_greedy_client_are_turned_away() {
    let op = DevProvider::start("127.0.0.1:0".parse().unwrap(), None, vec![])
        .await
        .unwrap();
    let up = upstream("teleservices").await;
    let room = "{ admission_rate: 1/min, burst: 1, max_waiting: 2, rate_limits: [per_client] }";
    let limits = "rate_limits:\n  per_client: { key: [client_address], rate: 1/min, burst: 5 }";
    let site = node(&op, &up, room, limits).await;
    let http = no_redirects();
    let url = format!("{}/vigie/login/fc", site.base);
    let status = |n: u16| {
        let req = http.get(&url).header("accept", "text/html");
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), n);
            resp.text().await.unwrap()
        }
    };
    status(303).await; // the burst
    status(200).await; // two places
    status(200).await;
    let full = status(503).await;
    assert!(full.contains("Service très sollicité"), "{full}");
    status(503).await;
    // Five visits were this client's burst: the sixth is refused before the room.
    let limited = status(429).await;
    assert!(limited.contains("Trop de demandes"), "{limited}");
    let v = &site.vigie;
    assert_eq!(
        v.metric(r#"vigie_waiting_room_turned_away_total{provider="fc"}"#),
        2.0
    );
    assert_eq!(
        v.metric(r#"vigie_rate_limited_total{limit="per_client"}"#),
        1.0
    );
}
