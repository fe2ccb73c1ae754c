//! Client limits: oversized request heads get 431, a client sending its head byte by byte
//! slower than the header timeout is cut off with 408 while others are served, idle
//! connections are closed.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use support::{Vigie, upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(backend: std::net::SocketAddr) -> String {
    format!(
        r#"
listeners:
  - name: public
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
limits:
  max_request_header_size: 8KiB
  header_read_timeout: 1s
  keepalive_timeout: 1s
upstreams:
  ts:
    backends: ["{backend}"]
routes:
  - name: ts
    path_prefix: /
    upstream: ts
    access: public
"#
    )
}

/// Reads until the server closes (or 10 s pass), returning what it sent.
async fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn request_with_header_of(size: usize) -> Vec<u8> {
    format!(
        "GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
        "a".repeat(size)
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_heads_get_431() {
    let up = upstream("ts").await;
    let vigie = Vigie::start(&config(up.addr));
    let addr = vigie.addr("public");

    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&request_with_header_of(7 * 1024))
        .await
        .unwrap();
    assert!(
        read_all(&mut s).await.starts_with("HTTP/1.1 200"),
        "a head under the limit is served"
    );

    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&request_with_header_of(20 * 1024))
        .await
        .unwrap();
    let answer = read_all(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert!(
        answer.contains("Requête trop volumineuse"),
        "the French page"
    );
    assert_eq!(
        up.requests(),
        1,
        "the oversized request never reached the upstream"
    );
    assert!(vigie.metric("vigie_request_head_rejections_total{reason=\"too_large\"}") >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_is_cut_off_while_others_are_served() {
    let up = upstream("ts").await;
    let vigie = Vigie::start(&config(up.addr));
    let addr = vigie.addr("public");

    // Twenty clients each send one byte every 150 ms: each byte is well within any per-read
    // timeout, but the head as a whole takes longer than the 1 s header timeout.
    let mut slow = Vec::new();
    for _ in 0..20 {
        slow.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let started = Instant::now();
            for b in
                b"GET /x HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
            {
                if s.write_all(&[*b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
                if started.elapsed() > Duration::from_secs(8) {
                    break;
                }
            }
            (read_all(&mut s).await, started.elapsed())
        }));
    }
    // Meanwhile a normal client is served at once, several times.
    for _ in 0..5 {
        let started = Instant::now();
        let resp = support::client()
            .get(vigie.url("/ok"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "served while slow clients hang on"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for task in slow {
        let (answer, elapsed) = task.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            elapsed < Duration::from_secs(4),
            "cut off near the 1 s header timeout, not later: {elapsed:?}"
        );
    }
    assert_eq!(
        vigie.metric("vigie_request_head_rejections_total{reason=\"too_slow\"}"),
        20.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_after_the_keepalive_timeout() {
    let up = upstream("ts").await;
    let vigie = Vigie::start(&config(up.addr));
    let mut s = TcpStream::connect(vigie.addr("public")).await.unwrap();
    s.write_all(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Now idle: the server closes the connection after about a second.
    let started = Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the idle connection must be closed by the server"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "not before the timeout: {:?}",
        started.elapsed()
    );
}
