//! Every example in `config/` is loaded and validated, and `vigie check` reports on files the
//! way an operator needs: a summary and exit 0, or every error with path and line and exit 2.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use jsonwebtoken::Algorithm;
use support::{Certs, TempDir};
use vigie_load_tests::keys::TestKey;

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config")
}

/// Files an example refers to that are mounted in production; generated here.
fn prepare(name: &str) -> TempDir {
    let dir = TempDir::new();
    if name == "demo.yaml" {
        // The demo's own (demo-only) client secret, committed next to it.
        std::fs::create_dir_all(dir.path().join("demo-secrets")).unwrap();
        for secret in [
            "franceconnect-client-secret",
            "saml-signing.key",
            "saml-signing.crt",
            "saml-encryption.key",
            "saml-encryption.crt",
        ] {
            let secret = format!("demo-secrets/{secret}");
            dir.write(&secret, std::fs::read(config_dir().join(&secret)).unwrap());
        }
    }
    if name == "full.yaml" {
        let certs = Certs::generate();
        std::fs::create_dir_all(dir.path().join("tls")).unwrap();
        dir.write("tls/vigie.pem", &certs.cert_pem);
        dir.write("tls/vigie.key", &certs.key_pem);
        dir.write("tls/ca.pem", &certs.ca_pem);
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        dir.write(
            "keys/assertion.pem",
            &TestKey::generate(Algorithm::ES256, "a").pem,
        );
        dir.write(
            "keys/assertion-next.pem",
            &TestKey::generate(Algorithm::ES256, "b").pem,
        );
        std::fs::create_dir_all(dir.path().join("secrets")).unwrap();
        dir.write("secrets/franceconnect-client-secret", "client-secret");
        dir.write("secrets/session-secret", "0123456789abcdef0123456789abcdef");
        dir.write("secrets/redis-password", "redis-password");
        for name in ["saml-signing", "saml-signing-next", "saml-encryption"] {
            let pair = vigie_load_tests::saml::RsaIdentity::generate(name);
            dir.write(&format!("keys/{name}.key"), &pair.key_pem);
            dir.write(&format!("keys/{name}.crt"), &pair.cert_pem);
        }
    }
    dir
}

#[test]
fn every_example_config_is_valid() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(config_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let dir = prepare(&name);
        let text = std::fs::read_to_string(&path).unwrap();
        let config = vigie::config::parse(&text, Some(&path), dir.path())
            .unwrap_or_else(|e| panic!("config/{name} must be valid:\n{e}"));
        assert!(!config.routes.is_empty(), "{name}");
        seen.push(name);
    }
    seen.sort();
    assert_eq!(
        seen,
        ["demo.yaml", "docker.yaml", "full.yaml", "minimal.yaml"],
        "a new example needs its files prepared here"
    );
}

#[test]
fn check_prints_a_line_per_route_and_exits_0() {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["check", "-c"])
        .arg(config_dir().join("demo.yaml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("route teleservices: */teleservices (rewritten to /) -> teleservices"),
        "{stdout}"
    );
    assert!(
        stdout.contains("route ent: ent.localhost/ -> ent"),
        "{stdout}"
    );
    assert!(
        stdout.contains("upstream teleservices: round_robin, 2 backend(s)"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("valid"), "{stdout}");
}

#[test]
fn check_lists_every_error_and_exits_2() {
    let dir = TempDir::new();
    let file = dir.write(
        "broken.yaml",
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n\
         upstreams:\n  teleservices:\n    backends: [\"127.0.0.1:9101\"]\n  ent-rennes:\n    backends: [\"127.0.0.1:9201\"]\n\
         routes:\n  - name: a\n    path_prefix: /\n    upstream: ent-nantes\n    access: public\n  - name: b\n    path_prefix: /\n    upstream: teleservices\n    access: public\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["check", "-c"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(":14:15: routes[0].upstream: no upstream named \"ent-nantes\"; known: ent-rennes, teleservices"),
        "{stderr}"
    );
    assert!(
        stderr.contains(":16:11: routes[1]: duplicate route: any host with path_prefix \"/\""),
        "{stderr}"
    );
    assert!(stderr.contains("2 error(s); nothing started"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["check", "-c", "/nonexistent/vigie.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("/nonexistent/vigie.yaml: cannot read the file")
    );
}

#[test]
fn version_is_printed() {
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("vigie {}", env!("CARGO_PKG_VERSION"))
    );
}
