//! Traffic shaping over HTTP, on the built binary: rate limits answer 429 with `Retry-After`
//! and the RateLimit fields (a French page for browsers, problem+json for APIs), counted per
//! real client behind a trusted proxy; an upstream at its concurrency limit queues briefly,
//! then sheds optional routes while essential ones keep their reserved slots.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use support::{Vigie, client, upstream};

fn config(backend: std::net::SocketAddr) -> String {
    format!(
        r#"
listeners:
  - name: public
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
trusted_proxies: ["127.0.0.1/32"]
rate_limits:
  per_client: {{ key: [client_address], rate: 1/min, burst: 2 }}
upstreams:
  ts:
    backends: ["{backend}"]
    concurrency:
      max_in_flight: 2
      max_waiting: 1
      queue_timeout: 300ms
      reserved_for_essential: 50
routes:
  - name: limited
    path_prefix: /limited
    upstream: ts
    access: public
    rate_limits: [per_client]
  - name: optional
    path_prefix: /optional
    rewrite_prefix: /
    upstream: ts
    access: public
  - name: essential
    path_prefix: /essential
    rewrite_prefix: /
    upstream: ts
    access: public
    essential: true
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_rate_limit_clients_get_429_with_the_header_fields() {
    let up = upstream("ts").await;
    let vigie = Vigie::start(&config(up.addr));
    let http = client();
    let get = |from: &'static str, accept: &'static str| {
        http.get(vigie.url("/limited/page"))
            .header("x-forwarded-for", from)
            .header("accept", accept)
            .send()
    };
    for remaining in [1, 0] {
        let r = get("198.51.100.7", "text/html").await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["ratelimit-policy"], r#""per_client";q=2;w=120"#);
        let state = r.headers()["ratelimit"].to_str().unwrap().to_string();
        assert!(
            state.starts_with(&format!(r#""per_client";r={remaining};t="#)),
            "{state}"
        );
    }
    let refused = get("198.51.100.7", "text/html").await.unwrap();
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (50..=60).contains(&retry),
        "one request a minute after a burst of 2: {retry}"
    );
    assert!(
        refused.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .contains("r=0")
    );
    assert!(
        refused.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = refused.text().await.unwrap();
    assert!(page.contains("Trop de demandes"), "{page}");
    assert!(page.contains("lang=\"fr\""));

    let api = get("198.51.100.7", "application/json").await.unwrap();
    assert_eq!(api.status(), 429);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = api.json().await.unwrap();
    assert_eq!(problem["type"], "urn:vigie:probleme:trop-de-requetes");
    assert_eq!(problem["status"], 429);

    // Another parent behind the same load balancer has a count of its own.
    assert_eq!(
        get("198.51.100.8", "text/html").await.unwrap().status(),
        200
    );
    // Routes without the limit are not counted.
    let other = http
        .get(vigie.url("/optional/x"))
        .header("x-forwarded-for", "198.51.100.7");
    assert_eq!(other.send().await.unwrap().status(), 200);
    assert_eq!(
        vigie.metric(r#"vigie_rate_limited_total{limit="per_client"}"#),
        2.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_upstream_sheds_optional_routes_first() {
    let up = upstream("ts").await;
    let vigie = Vigie::start(&config(up.addr));
    let http = client();
    // One slow optional request holds the optional share (one slot of two).
    let slow = tokio::spawn(http.get(vigie.url("/optional/__slow/2000")).send());
    vigie.poll_until("the slow request holds its slot", || {
        vigie.metric(r#"vigie_upstream_in_flight{upstream="ts"}"#) == 1.0
    });
    let started = Instant::now();
    let shed = http.get(vigie.url("/optional/x")).send().await.unwrap();
    assert_eq!(shed.status(), 503);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "it waited its queue timeout"
    );
    assert!(shed.headers().contains_key("retry-after"));
    assert!(
        shed.text()
            .await
            .unwrap()
            .contains("Service très sollicité")
    );
    // The essential route still has its reserved slot, at once.
    let started = Instant::now();
    let kept = http.get(vigie.url("/essential/x")).send().await.unwrap();
    assert_eq!(kept.status(), 200);
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(slow.await.unwrap().unwrap().status(), 200);
    assert_eq!(
        vigie.metric(
            r#"vigie_shed_requests_total{priority="optional",reason="timeout",upstream="ts"}"#
        ),
        1.0
    );
    // Once the slow request is over, optional requests pass again.
    assert_eq!(
        http.get(vigie.url("/optional/x"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The slot is freed when the request's context ends, just after the answer is sent.
    vigie.poll_until("every slot is free", || {
        vigie.metric(r#"vigie_upstream_in_flight{upstream="ts"}"#) == 0.0
    });
}
