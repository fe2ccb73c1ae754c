//! The container pieces: the Dockerfile passes hadolint, and `vigie health` (its HEALTHCHECK)
//! tells a live admin endpoint from a dead one.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::Path;
use std::process::Command;

use support::{Vigie, upstream};

#[test]
fn dockerfile_passes_hadolint() {
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Dockerfile");
    let out = Command::new("hadolint")
        .arg(&dockerfile)
        .output()
        .unwrap_or_else(|e| panic!("hadolint is needed ({e}); `.ci/prepare` installs it"));
    assert!(
        out.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_subcommand_reports_liveness() {
    let up = upstream("ts").await;
    let vigie = Vigie::start(&format!(
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n\
         upstreams:\n  ts:\n    backends: [\"{}\"]\nroutes:\n  - name: ts\n    path_prefix: /\n    upstream: ts\n    access: public\n",
        up.addr
    ));
    let health = |address: String, path: &str| {
        Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(["health", "--address", &address, "--path", path])
            .output()
            .unwrap()
    };
    assert_eq!(
        health(vigie.admin.to_string(), "/healthz").status.code(),
        Some(0)
    );
    vigie.wait_ready();
    assert_eq!(
        health(vigie.admin.to_string(), "/readyz").status.code(),
        Some(0)
    );
    let missing = health(vigie.admin.to_string(), "/nope");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("HTTP 404"));
    drop(vigie);
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    assert_eq!(
        health(dead.to_string(), "/healthz").status.code(),
        Some(1),
        "nothing listens there"
    );
}
