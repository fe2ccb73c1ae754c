//! Upstream pools end to end: round robin, consistent hashing, and HTTPS to backends with
//! SNI and a private CA (the backend here is a second Vigie with an HTTPS listener).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::HashMap;

use support::{Certs, TempDir, Vigie, client, upstream};

async fn server_of(vigie: &Vigie, path: &str, header: Option<(&str, &str)>) -> String {
    let mut req = client().get(vigie.url(path));
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    let echo: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
    echo["server"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_and_consistent_hashing() {
    let one = upstream("one").await;
    let two = upstream("two").await;
    let vigie = Vigie::start(&format!(
        r#"
listeners: [{{ name: public, address: "127.0.0.1:0" }}]
admin: {{ address: "127.0.0.1:0" }}
upstreams:
  rr:
    backends: ["{one}", "{two}"]
  sticky:
    backends: ["{one}", "{two}"]
    balancing: consistent_hash
    hash_key: header:X-Eleve
routes:
  - {{ name: rr, path_prefix: /rr, upstream: rr, access: public }}
  - {{ name: sticky, path_prefix: /sticky, upstream: sticky, access: public }}
"#,
        one = one.addr,
        two = two.addr
    ));
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(server_of(&vigie, "/rr", None).await);
    }
    for pair in seen.windows(2) {
        assert_ne!(pair[0], pair[1], "round robin alternates: {seen:?}");
    }

    let mut by_key: HashMap<String, String> = HashMap::new();
    for round in 0..3 {
        for key in 0..20 {
            let key = format!("eleve-{key}");
            let server = server_of(&vigie, "/sticky", Some(("X-Eleve", &key))).await;
            let first = by_key.entry(key.clone()).or_insert_with(|| server.clone());
            assert_eq!(
                *first, server,
                "round {round}: {key} must stay on one backend"
            );
        }
    }
    let spread: std::collections::HashSet<_> = by_key.values().collect();
    assert_eq!(spread.len(), 2, "20 keys use both backends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_backends_verifies_sni_and_ca() {
    let echo = upstream("behind-tls").await;
    // The backend: a Vigie terminating TLS with a certificate from `backend_ca`.
    let backend_certs = Certs::generate();
    let dir = TempDir::new();
    backend_certs.write_to(&dir);
    let backend = Vigie::start_in(
        dir,
        &format!(
            "listeners:\n  - name: secure\n    address: 127.0.0.1:0\n    tls: {{ certificate: cert.pem, private_key: key.pem }}\n\
             admin: {{ address: \"127.0.0.1:0\" }}\nupstreams:\n  e: {{ backends: [\"{}\"] }}\n\
             routes: [{{ name: e, path_prefix: /, upstream: e, access: public }}]\n",
            echo.addr
        ),
    );
    let backend_addr = backend.addr("secure");

    // The edge: trusts the backend's CA for one upstream, another CA for the other.
    let other = Certs::generate();
    let dir = TempDir::new();
    dir.write("backend-ca.pem", &backend_certs.ca_pem);
    dir.write("other-ca.pem", &other.ca_pem);
    let edge = Vigie::start_in(
        dir,
        &format!(
            r#"
listeners: [{{ name: public, address: "127.0.0.1:0" }}]
admin: {{ address: "127.0.0.1:0" }}
upstreams:
  good:
    backends: ["{backend_addr}"]
    tls: {{ sni: localhost, ca_file: backend-ca.pem }}
  wrong-ca:
    backends: ["{backend_addr}"]
    tls: {{ sni: localhost, ca_file: other-ca.pem }}
  wrong-name:
    backends: ["{backend_addr}"]
    tls: {{ sni: teleservices.example, ca_file: backend-ca.pem }}
routes:
  - {{ name: good, path_prefix: /good, upstream: good, access: public }}
  - {{ name: wrong-ca, path_prefix: /wrong-ca, upstream: wrong-ca, access: public }}
  - {{ name: wrong-name, path_prefix: /wrong-name, upstream: wrong-name, access: public }}
"#
        ),
    );
    let resp = client().get(edge.url("/good/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["server"], "behind-tls");
    assert_eq!(
        body["headers"]["x-forwarded-proto"][0], "https",
        "the backend saw TLS"
    );

    for path in ["/wrong-ca/x", "/wrong-name/x"] {
        let resp = client().get(edge.url(path)).send().await.unwrap();
        assert_eq!(
            resp.status(),
            502,
            "{path}: an unverifiable backend is refused"
        );
    }
}
