//! Reloads under load: SIGHUP and file changes swap the config atomically, an invalid file is
//! refused while the old config keeps serving, in-flight requests finish on the config they
//! started with, and SIGTERM drains.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{Upstream, Vigie, client, upstream};

fn config(target: &Upstream, label: &str, watch: &str, grace: &str) -> String {
    format!(
        r#"
server:
  watch_interval: {watch}
  grace_period: {grace}
listeners:
  - name: public
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
upstreams:
  a:
    backends: ["{target}"]
routes:
  - name: main
    path_prefix: /
    upstream: a
    access: public
    response_headers:
      add: {{ X-Config: {label} }}
"#,
        target = target.addr
    )
}

const INVALID: &str = "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nupstreams: {}\nroutes:\n  - name: main\n    path_prefix: /\n    upstream: missing\n    access: public\n";

async fn label(vigie: &Vigie, path: &str) -> String {
    let resp = client().get(vigie.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.headers()["x-config"].to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_reloads_under_steady_load_lose_no_request() {
    let up_a = upstream("a").await;
    let up_b = upstream("b").await;
    let config_a = config(&up_a, "a", "0s", "1s");
    let config_b = config(&up_b, "b", "0s", "1s");
    let vigie = Vigie::start(&config_a);
    vigie.wait_ready();

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let mut clients = Vec::new();
    for i in 0..4 {
        let (stop, served, failures, url) = (
            stop.clone(),
            served.clone(),
            failures.clone(),
            vigie.url("/charge"),
        );
        clients.push(tokio::spawn(async move {
            // Half the clients reuse connections, half open one per request.
            let http = if i % 2 == 0 {
                client()
            } else {
                reqwest::Client::builder()
                    .no_proxy()
                    .pool_max_idle_per_host(0)
                    .build()
                    .unwrap()
            };
            while !stop.load(Ordering::Acquire) {
                match http.get(&url).send().await {
                    Ok(r) if r.status() == 200 => {
                        served.fetch_add(1, Ordering::AcqRel);
                    }
                    Ok(r) => failures.lock().push(format!("status {}", r.status())),
                    Err(e) => failures.lock().push(format!("error {e}")),
                }
            }
        }));
    }

    let (mut ok, mut refused) = (1.0, 0.0);
    for i in 0..20 {
        let (yaml, expect) = match i % 3 {
            0 => (config_b.as_str(), Some("b")),
            1 => (INVALID, None),
            _ => (config_a.as_str(), Some("a")),
        };
        let before = served.load(Ordering::Acquire);
        vigie.rewrite_config(yaml);
        vigie.signal("HUP");
        match expect {
            Some(label_expected) => {
                ok += 1.0;
                vigie.poll_until("the reload", || {
                    vigie.metric("vigie_config_reloads_total{result=\"success\"}") == ok
                });
                assert_eq!(
                    label(&vigie, "/apres").await,
                    label_expected,
                    "reload {i}: new requests see the new routes"
                );
            }
            None => {
                refused += 1.0;
                vigie.poll_until("the refusal", || {
                    vigie.metric("vigie_config_reloads_total{result=\"failure\"}") == refused
                });
            }
        }
        // Let traffic flow between reloads.
        vigie.poll_until("traffic", || served.load(Ordering::Acquire) >= before + 20);
    }
    stop.store(true, Ordering::Release);
    for c in clients {
        c.await.unwrap();
    }
    let failures = failures.lock();
    assert!(
        failures.is_empty(),
        "{} failed requests: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        served.load(Ordering::Acquire) >= 400,
        "steady stream: {}",
        served.load(Ordering::Acquire)
    );
    assert_eq!(
        (ok, refused),
        (14.0, 7.0),
        "13 valid reloads after the first load, 7 refused"
    );
    assert_eq!(vigie.metric("vigie_config_generation"), 14.0);
    let refusals = vigie.json_logs(|v| {
        v["level"] == "ERROR"
            && v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("configuration refused"))
    });
    assert_eq!(refusals.len(), 7);
    assert!(
        refusals[0]["errors"]
            .as_str()
            .unwrap()
            .contains("routes[0].upstream: no upstream named \"missing\"")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_finish_on_the_config_they_started_with() {
    let up_a = upstream("a").await;
    let up_b = upstream("b").await;
    let vigie = Vigie::start(&config(&up_a, "a", "0s", "1s"));
    vigie.wait_ready();
    let slow = tokio::spawn({
        let url = vigie.url("/__slow/1500");
        async move { client().get(url).send().await.unwrap() }
    });
    vigie.poll_until("the slow request to reach the upstream", || {
        up_a.requests() >= 1
    });
    vigie.rewrite_config(&config(&up_b, "b", "0s", "1s"));
    vigie.signal("HUP");
    vigie.poll_until("the reload", || {
        vigie.metric("vigie_config_generation") == 2.0
    });
    assert_eq!(label(&vigie, "/x").await, "b");
    let slow = slow.await.unwrap();
    assert_eq!(slow.status(), 200);
    assert_eq!(
        slow.headers()["x-config"],
        "a",
        "the slow request keeps its generation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_is_picked_up_without_a_signal() {
    let up_a = upstream("a").await;
    let up_b = upstream("b").await;
    let vigie = Vigie::start(&config(&up_a, "a", "100ms", "1s"));
    assert_eq!(label(&vigie, "/x").await, "a");
    vigie.rewrite_config(&config(&up_b, "b", "100ms", "1s"));
    vigie.poll_until("the file change to be applied", || {
        vigie.metric("vigie_config_generation") == 2.0
    });
    assert_eq!(label(&vigie, "/x").await, "b");
    vigie.rewrite_config(INVALID);
    vigie.poll_until("the invalid file to be refused", || {
        vigie.metric("vigie_config_reloads_total{result=\"failure\"}") == 1.0
    });
    assert_eq!(
        label(&vigie, "/x").await,
        "b",
        "the last good config keeps serving"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_then_exits_early() {
    let up = upstream("a").await;
    let mut vigie = Vigie::start(&config(&up, "a", "0s", "20s"));
    vigie.wait_ready();
    let slow = tokio::spawn({
        let url = vigie.url("/__slow/1000");
        async move { client().get(url).send().await }
    });
    vigie.poll_until("the slow request to reach the upstream", || {
        up.requests() >= 1
    });
    let sent = Instant::now();
    vigie.signal("TERM");
    let resp = slow
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(resp.status(), 200);
    let exited = vigie.wait_exit(Duration::from_secs(15));
    assert!(exited.is_some(), "vigie must exit once drained");
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "exit well before the 20s grace period: {:?}",
        sent.elapsed()
    );
    assert!(
        std::net::TcpStream::connect(vigie.addr("public")).is_err(),
        "nothing listens after exit"
    );
}
