//! HTTPS listeners: HTTP/1.1 and h2 over TLS with a generated certificate, TLS 1.1 refused,
//! certificates rotated by a reload.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::Duration;

use support::{Certs, TempDir, Vigie, upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(backend: std::net::SocketAddr) -> String {
    format!(
        r#"
listeners:
  - name: public
    address: 127.0.0.1:0
  - name: secure
    address: 127.0.0.1:0
    tls:
      certificate: cert.pem
      private_key: key.pem
admin:
  address: 127.0.0.1:0
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

fn https_client(ca_pem: &str, h1_only: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    let b = reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10));
    if h1_only { b.http1_only() } else { b }.build().unwrap()
}

/// The status of a GET to `url` over HTTPS/1.1 trusting only `ca_pem`.
async fn status(ca_pem: &str, url: &str) -> u16 {
    https_client(ca_pem, true)
        .get(url)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn start(certs: &Certs, backend: std::net::SocketAddr) -> Vigie {
    let dir = TempDir::new();
    certs.write_to(&dir);
    Vigie::start_in(dir, &config(backend))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_http1_and_h2_and_tells_the_upstream() {
    let ts = upstream("ts").await;
    let certs = Certs::generate();
    let vigie = start(&certs, ts.addr);
    let url = format!("https://localhost:{}/x", vigie.addr("secure").port());

    let resp = https_client(&certs.ca_pem, true)
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    let echo: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(echo["headers"]["x-forwarded-proto"][0], "https");

    let resp = https_client(&certs.ca_pem, false)
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.version(),
        reqwest::Version::HTTP_2,
        "ALPN must offer h2"
    );
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-request-id"].len(),
        32,
        "h2 requests go through the same pipeline"
    );
    let resp = https_client(&certs.ca_pem, false)
        .get(&url)
        .header("x-request-id", "h2-id")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let echo: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(echo["headers"]["x-request-id"][0], "h2-id");

    // The plain listener still answers plain HTTP.
    let resp = support::client().get(vigie.url("/x")).send().await.unwrap();
    let echo: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(echo["headers"]["x-forwarded-proto"][0], "http");
}

/// A ClientHello for `localhost` offering only `version` (no supported_versions extension),
/// with AEAD suites, groups and signature schemes a TLS 1.2 server accepts.
fn client_hello(version: [u8; 2]) -> Vec<u8> {
    fn ext(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(data);
    }
    let sni = b"localhost";
    let mut server_name = ((sni.len() + 3) as u16).to_be_bytes().to_vec();
    server_name.push(0);
    server_name.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    server_name.extend_from_slice(sni);
    let mut exts = Vec::new();
    ext(&mut exts, 0x0000, &server_name);
    ext(&mut exts, 0x000a, &[0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]); // x25519, secp256r1
    ext(&mut exts, 0x000b, &[0x01, 0x00]); // uncompressed points
    ext(
        &mut exts,
        0x000d,
        &[0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01],
    ); // ecdsa/rsa-pss/rsa sha256
    let mut body = version.to_vec();
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x2f]); // ECDHE-{ECDSA,RSA}-AES128-GCM
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut handshake = vec![0x01];
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Sends `hello` and returns the first bytes the server answers.
async fn first_answer(addr: std::net::SocketAddr, hello: &[u8]) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(hello).await.unwrap();
    let mut answer = vec![0u8; 7];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut answer))
        .await
        .expect("the server must answer, not hang")
        .expect("at least a record header and two bytes");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_1_is_refused_with_a_protocol_version_alert() {
    let ts = upstream("ts").await;
    let certs = Certs::generate();
    let vigie = start(&certs, ts.addr);
    // Control: the same hello at TLS 1.2 gets a ServerHello.
    let answer = first_answer(vigie.addr("secure"), &client_hello([0x03, 0x03])).await;
    assert_eq!(
        (answer[0], answer[5]),
        (0x16, 0x02),
        "a handshake record with a ServerHello: {answer:?}"
    );
    // At TLS 1.1 it gets a fatal protocol_version alert.
    let answer = first_answer(vigie.addr("secure"), &client_hello([0x03, 0x02])).await;
    assert_eq!(
        answer[0], 0x15,
        "an alert record, not a ServerHello: {answer:?}"
    );
    assert_eq!(
        (answer[5], answer[6]),
        (2, 70),
        "fatal alert protocol_version: {answer:?}"
    );

    // A modern client is still served after that.
    let url = format!("https://localhost:{}/x", vigie.addr("secure").port());
    assert_eq!(status(&certs.ca_pem, &url).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_rotated_by_a_reload() {
    let ts = upstream("ts").await;
    let old = Certs::generate();
    let vigie = start(&old, ts.addr);
    vigie.wait_ready();
    let url = format!("https://localhost:{}/x", vigie.addr("secure").port());
    assert_eq!(status(&old.ca_pem, &url).await, 200);

    let new = Certs::generate();
    vigie.dir.write("cert.pem", &new.cert_pem);
    vigie.dir.write("key.pem", &new.key_pem);
    vigie.signal("HUP");
    vigie.poll_until("the new certificate to be served", || {
        vigie.metric("vigie_config_reloads_total{result=\"success\"}") >= 2.0
    });
    let fresh = https_client(&new.ca_pem, true).get(&url).send().await;
    assert_eq!(
        fresh.unwrap().status(),
        200,
        "new connections get the new certificate"
    );
    let stale = https_client(&old.ca_pem, true).get(&url).send().await;
    assert!(stale.is_err(), "the old certificate is no longer served");
}
