//! End to end through the real binary: routing, rewriting, header rules, forwarding headers,
//! request ids, hop-by-hop headers, WebSocket, failure pages, metrics and the access log.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Vigie, client, upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(ts: &support::Upstream, ent: &support::Upstream, extra: &str) -> String {
    format!(
        r#"
logging: {{ level: info }}
listeners:
  - name: public
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
{extra}
upstreams:
  teleservices:
    backends: ["{ts}"]
    read_timeout: 500ms
  ent:
    backends: ["{ent}"]
  nowhere:
    backends: ["127.0.0.1:1"]
    connect_timeout: 500ms
routes:
  - name: teleservices
    path_prefix: /ts
    upstream: teleservices
    access: public
    rewrite_prefix: /
    request_headers:
      add: {{ X-Teleservice: livret }}
      remove: [X-Debug]
    response_headers:
      add: {{ X-Frame-Options: DENY }}
      remove: [X-Powered-By]
  - name: ent
    hosts: ["ent.localhost"]
    path_prefix: /
    upstream: ent
    access: public
  - name: bourses
    path_prefix: /ts/bourses
    upstream: ent
    access: public
  - name: down
    path_prefix: /down
    upstream: nowhere
    access: public
"#,
        ts = ts.addr,
        ent = ent.addr
    )
}

async fn echo(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 200, "expected the upstream's answer");
    resp.json().await.expect("echo json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_by_host_and_longest_prefix_with_rewrite_and_header_rules() {
    let ts = upstream("teleservices").await;
    let ent = upstream("ent").await;
    let vigie = Vigie::start(&config(&ts, &ent, ""));
    let http = client();

    let resp = http
        .get(vigie.url("/ts/livret/eleve?annee=2026"))
        .header("X-Debug", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    let e = echo(resp).await;
    assert_eq!(e["server"], "teleservices");
    assert_eq!(e["path"], "/livret/eleve", "prefix /ts rewritten to /");
    assert_eq!(e["query"], "annee=2026");
    assert_eq!(e["headers"]["x-teleservice"][0], "livret");
    assert!(
        e["headers"].get("x-debug").is_none(),
        "X-Debug must be removed"
    );

    let e = echo(
        http.get(vigie.url("/ts/bourses/demande"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(e["server"], "ent", "the longer prefix /ts/bourses wins");
    assert_eq!(e["path"], "/ts/bourses/demande", "no rewrite on that route");

    let e = echo(http.get(vigie.url("/ts")).send().await.unwrap()).await;
    assert_eq!(e["path"], "/");

    let e = echo(
        http.get(vigie.url("/anything"))
            .header("Host", "ent.localhost")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(e["server"], "ent", "routed by host");

    let resp = http.get(vigie.url("/tsx")).send().await.unwrap();
    assert_eq!(resp.status(), 404, "prefixes match whole segments");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_without_trusted_proxies_ignore_the_client() {
    let ts = upstream("teleservices").await;
    let ent = upstream("ent").await;
    let vigie = Vigie::start(&config(&ts, &ent, ""));
    let e = echo(
        client()
            .get(vigie.url("/ts/x"))
            .header("X-Forwarded-For", "6.6.6.6")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "evil.example")
            .header("X-Real-IP", "6.6.6.6")
            .header("Forwarded", "for=6.6.6.6")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let h = &e["headers"];
    assert_eq!(h["x-forwarded-for"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(h["x-forwarded-proto"][0], "http");
    assert_eq!(
        h["x-forwarded-host"][0],
        vigie.url("").trim_start_matches("http://")
    );
    assert_eq!(h["x-real-ip"][0], "127.0.0.1");
    assert!(
        h.get("forwarded").is_none(),
        "an untrusted Forwarded header is dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_from_a_trusted_proxy_are_kept_and_extended() {
    let ts = upstream("teleservices").await;
    let ent = upstream("ent").await;
    let vigie = Vigie::start(&config(&ts, &ent, "trusted_proxies: [127.0.0.0/8]"));
    let e = echo(
        client()
            .get(vigie.url("/ts/x"))
            .header("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "teleservices.education.gouv.fr")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let h = &e["headers"];
    assert_eq!(h["x-forwarded-for"][0], "6.6.6.6, 203.0.113.7, 127.0.0.1");
    assert_eq!(
        h["x-real-ip"][0], "203.0.113.7",
        "the first untrusted hop from the right"
    );
    assert_eq!(h["x-forwarded-proto"][0], "https");
    assert_eq!(h["x-forwarded-host"][0], "teleservices.education.gouv.fr");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_kept_when_valid_and_returned() {
    let ts = upstream("teleservices").await;
    let ent = upstream("ent").await;
    let vigie = Vigie::start(&config(&ts, &ent, ""));
    let resp = client()
        .get(vigie.url("/ts/x"))
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    assert_eq!(echo(resp).await["headers"]["x-request-id"][0], "abc-123");

    let resp = client()
        .get(vigie.url("/ts/x"))
        .header("X-Request-Id", "bad id <script>")
        .send()
        .await
        .unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 32, "an invalid id is replaced by a generated one");
    assert_eq!(echo(resp).await["headers"]["x-request-id"][0], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_response_headers_are_removed() {
    let ts = upstream("teleservices").await;
    let ent = upstream("ent").await;
    let vigie = Vigie::start(&config(&ts, &ent, ""));
    let resp = client().get(vigie.url("/ts/__hop")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-kept"], "yes");
    for name in ["keep-alive", "proxy-connection", "x-secret"] {
        assert!(
            resp.headers().get(name).is_none(),
            "{name} must not reach the client"
        );
    }
    let resp = client()
        .get(vigie.url("/ts/x"))
        .header("Connection", "keep-alive, X-Secret")
        .header("X-Secret", "s")
        .send()
        .await
        .unwrap();
    let e = echo(resp).await;
    assert!(
        e["headers"].get("x-secret").is_none(),
        "a Connection-nominated request header is not forwarded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_pages_404_502_504_and_bad_paths() {
    let ts = upstream("teleservices").await;
    let ent = upstream("ent").await;
    let vigie = Vigie::start(&config(&ts, &ent, ""));
    let http = client();

    let resp = http
        .get(vigie.url("/nulle-part"))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("Page non trouvée") && body.contains(&id),
        "French page with the request id"
    );

    let resp = http
        .get(vigie.url("/nulle-part"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["status"], 404);

    let resp = http.get(vigie.url("/down/x")).send().await.unwrap();
    assert_eq!(resp.status(), 502, "nothing listens on the backend");
    assert_eq!(
        resp.headers()["connection"],
        "close",
        "the connection is not reused after a failure"
    );
    assert!(resp.text().await.unwrap().contains("Service injoignable"));

    let resp = http
        .get(vigie.url("/ts/__slow/3000"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504, "read_timeout is 500ms");
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["type"], "urn:vigie:probleme:delai-depasse");

    for path in ["/ts/a/../../admin", "/ts/%2e%2e/admin", "/ts/a%2Fb"] {
        let status = support::http_status_blocking(vigie.addr("public"), path);
        assert_eq!(status, Some(400), "{path}");
    }

    vigie.poll_until("upstream errors to be counted", || {
        vigie.metric("vigie_upstream_errors_total{kind=\"timeout\",upstream=\"teleservices\"}")
            >= 1.0
            && vigie.metric("vigie_upstream_errors_total{kind=\"connect\",upstream=\"nowhere\"}")
                >= 1.0
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_upstream_gets_503_and_readiness_says_why() {
    let ts = upstream("teleservices").await;
    let ent = upstream("ent").await;
    ts.set_healthy(false);
    let yaml = config(&ts, &ent, "").replace(
        "    read_timeout: 500ms\n",
        "    read_timeout: 500ms\n    health_check: { http_path: /healthz, interval: 100ms, unhealthy_after: 1 }\n",
    );
    let vigie = Vigie::start(&yaml);
    let unhealthy = format!(
        "vigie_upstream_backend_healthy{{backend=\"{}\",upstream=\"teleservices\"}} 0",
        ts.addr
    );
    vigie.poll_until("the backend to be marked unhealthy", || {
        support::http_get_blocking(vigie.admin, "/metrics")
            .unwrap_or_default()
            .contains(&unhealthy)
    });
    let resp = client().get(vigie.url("/ts/x")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");
    let ready = support::http_get_blocking(vigie.admin, "/readyz").unwrap();
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    assert!(
        ready.contains("upstream \"teleservices\" has no healthy backend"),
        "{ready}"
    );

    ts.set_healthy(true);
    vigie.wait_ready();
    let resp = client().get(vigie.url("/ts/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "back in service once healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_passes_through() {
    let ts = upstream("teleservices").await;
    let ent = upstream("ent").await;
    let vigie = Vigie::start(&config(&ts, &ent, ""));
    let mut s = tokio::net::TcpStream::connect(vigie.addr("public"))
        .await
        .unwrap();
    s.write_all(
        b"GET /ts/__ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    s.write_all(b"bonjour").await.unwrap();
    let mut echoed = [0u8; 7];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echoed, b"bonjour");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_access_log_record_each_request() {
    let ts = upstream("teleservices").await;
    let ent = upstream("ent").await;
    let vigie = Vigie::start(&config(&ts, &ent, ""));
    for _ in 0..3 {
        client()
            .get(vigie.url("/ts/x?secret=token"))
            .header("X-Request-Id", "log-me")
            .send()
            .await
            .unwrap();
    }
    client().get(vigie.url("/nulle-part")).send().await.unwrap();
    vigie.poll_until("requests to be counted", || {
        vigie.metric("vigie_requests_total{route=\"teleservices\",status_class=\"2xx\"}") == 3.0
            && vigie.metric("vigie_requests_total{route=\"\",status_class=\"4xx\"}") == 1.0
    });
    let text = support::http_get_blocking(vigie.admin, "/metrics").unwrap();
    for name in [
        "vigie_request_duration_seconds_bucket{route=\"teleservices\"",
        "vigie_active_connections",
        "vigie_config_reloads_total{result=\"success\"} 1",
        "vigie_build_info{version=",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
    vigie.poll_until("access log lines", || {
        vigie
            .json_logs(|v| v["target"] == "vigie::access" && v["request_id"] == "log-me")
            .len()
            == 3
    });
    let line =
        &vigie.json_logs(|v| v["target"] == "vigie::access" && v["request_id"] == "log-me")[0];
    assert_eq!(line["route"], "teleservices");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/ts/x", "no query string in logs");
    assert_eq!(line["status"], 200);
    assert_eq!(line["upstream"], ts.addr.to_string());
    assert!(line["bytes"].as_u64().unwrap() > 0);
    assert!(line["duration_ms"].as_f64().is_some());
    assert!(line["timestamp"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_pass_whole_and_never_count_as_request_heads() {
    let ts = upstream("teleservices").await;
    let ent = upstream("ent").await;
    // An 8 KiB head limit, and bodies of 256 KiB full of blank lines and CRLFs.
    let vigie = Vigie::start(&config(
        &ts,
        &ent,
        "limits: { max_request_header_size: 8KiB }",
    ));
    let body = "\r\n\r\n".repeat(64 * 1024);
    let e = echo(
        client()
            .post(vigie.url("/ts/depot"))
            .body(body.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(e["method"], "POST");
    assert_eq!(e["body_len"], body.len());

    // Chunked, then a second request on the same connection once the first is answered.
    let mut s = tokio::net::TcpStream::connect(vigie.addr("public"))
        .await
        .unwrap();
    let chunk = "x".repeat(100_000);
    let post = format!(
        "POST /ts/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    s.write_all(post.as_bytes()).await.unwrap();
    let first = read_response(&mut s).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.contains("\"body_len\":100000"), "{first}");
    s.write_all(b"GET /ts/b HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let second = read_response(&mut s).await;
    assert!(
        second.starts_with("HTTP/1.1 200") && second.contains("\"path\":\"/b\""),
        "{second}"
    );
}

/// Reads one HTTP/1.1 response with a Content-Length body.
async fn read_response(s: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut byte))
            .await
            .unwrap()
            .unwrap();
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("a content-length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.unwrap();
    buf.extend_from_slice(&body);
    String::from_utf8_lossy(&buf).into_owned()
}
