//! One whole login in headless Chromium (Debian's `chromium`, driven by `playwright-core`
//! from `proxy/tests/browser/`, both installed by `.ci/prepare`): Vigie on plain HTTP on the
//! loopback, as in the demo, with the development FranceConnect. The screenshots of the
//! login pages are kept under `target/tmp/screenshots/` (a CI artifact).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{SamlSite, TempDir, Upstream, Vigie, upstream};
use vigie_load_tests::educonnect::{DevIdp, ServiceProvider};
use vigie_load_tests::franceconnect::{Client, ClientAuth, DevProvider};

/// Runs `script` (in `tests/browser/`) against Vigie at `base`: what it saw, and where the
/// screenshots are. The browser runs on a blocking thread while this runtime keeps serving
/// the test's providers.
async fn run(script: &'static str, base: &str) -> (Value, PathBuf) {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        scripts.join("node_modules/playwright-core").exists(),
        "run .ci/prepare (npm ci in {})",
        scripts.display()
    );
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = tokio::task::spawn_blocking({
        let (base, shots) = (base.to_string(), shots.clone());
        move || {
            Command::new("node")
                .arg(script)
                .current_dir(&scripts)
                .env("VIGIE_BASE", base)
                .env("SHOTS", shots)
                .output()
                .expect("node")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let seen: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap_or_else(|_| {
            panic!(
                "the browser script failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(
        out.status.success() && seen.get("error").is_none(),
        "{seen:#}"
    );
    (seen, shots)
}

/// Vigie on plain HTTP with the development FranceConnect as provider `franceconnect` (its
/// YAML followed by `more`, such as a waiting room), ready.
async fn franceconnect_site(more: &str) -> (DevProvider, Vigie, String, Upstream) {
    let op = DevProvider::start("127.0.0.1:0".parse().unwrap(), None, vec![])
        .await
        .unwrap();
    let up = upstream("teleservices").await;
    let dir = TempDir::new();
    dir.write("fc-secret", "dev-secret");
    let fc = support::provider_yaml(
        "franceconnect",
        &op.issuer,
        "vigie",
        "eidas1",
        "client_secret_file: fc-secret",
    );
    let yaml = support::site_yaml(up.addr, false, &format!("identity_providers:{fc}{more}"));
    let vigie = Vigie::start_in(dir, &yaml);
    let base = format!("http://127.0.0.1:{}", vigie.addr("public").port());
    op.add_client(Client {
        id: "vigie".into(),
        auth: ClientAuth::Secret("dev-secret".into()),
        redirect_uris: vec![format!("{base}/vigie/callback/franceconnect")],
        post_logout_redirect_uris: vec![format!("{base}/vigie/logged-out")],
    });
    vigie.wait_ready();
    (op, vigie, base, up)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_logs_in_and_out_in_chromium() {
    let (op, _vigie, base, _up) = franceconnect_site("").await;

    let (seen, shots) = run("login.mjs", &base).await;

    assert_eq!(seen["loginUrl"], "/vigie/login", "{seen:#}");
    assert_eq!(seen["lang"], "fr");
    assert_eq!(seen["heading"], "Connexion");
    assert_eq!(seen["whatIsFc"], 1, "the FranceConnect help link");
    assert_eq!(
        seen["subject"], "parent-diallo",
        "the upstream saw the parent"
    );
    let session = seen["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "__Host-vigie_session")
        .expect("the session cookie");
    assert_eq!(
        (
            &session["secure"],
            &session["httpOnly"],
            &session["sameSite"]
        ),
        (&Value::Bool(true), &Value::Bool(true), &Value::from("Lax"))
    );
    assert_eq!(seen["loggedOut"], "Vous êtes déconnecté");
    assert_eq!(seen["afterLogout"], "/vigie/login", "logged out for good");
    assert_eq!(op.end_session_hints().len(), 1);
    for shot in ["login-profil.png", "login-franceconnect.png"] {
        let png = std::fs::read(shots.join(shot)).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{shot}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_waits_in_the_waiting_room_then_logs_in_in_chromium() {
    let room =
        "\n    waiting_room: { admission_rate: 1/s, burst: 1, refresh: 2s, ticket_ttl: 10s }";
    let (_op, vigie, base, _up) = franceconnect_site(room).await;
    // Someone else takes the one login of this second, two more queue (and never come back:
    // their tickets live 10 s, longer than Chromium takes to start).
    let others = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for expected in [303, 200, 200] {
        let visit = others
            .get(format!("{base}/vigie/login/franceconnect"))
            .send();
        assert_eq!(visit.await.unwrap().status(), expected);
    }

    let (seen, shots) = run("waiting.mjs", &base).await;
    assert_eq!(
        seen["heading"], "Vous êtes dans la file d'attente",
        "{seen:#}"
    );
    assert_eq!(seen["lang"], "fr");
    let status = seen["status"].as_str().unwrap();
    assert!(
        status.contains("Votre rang dans la file d'attente :"),
        "{status}"
    );
    assert!(status.contains("moins d'une minute"), "{status}");
    assert_eq!(seen["reloadLink"], 1);
    assert_eq!(seen["ticket"], true, "the ticket cookie");
    assert_eq!(seen["ticketAfter"], false, "cleared once admitted");
    assert_eq!(seen["landed"], "/livret/eleve");
    let png = std::fs::read(shots.join("waiting-room.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    assert_eq!(
        vigie.metric(r#"vigie_waiting_room_admitted_total{provider="franceconnect",via="queue"}"#),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pupil_logs_in_with_educonnect_and_out_in_chromium() {
    let idp = DevIdp::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let up = upstream("teleservices").await;
    let site = SamlSite::start(
        up.addr,
        "urn:vigie:test:educonnect",
        &idp.entity_id,
        &idp.metadata_url(),
    );
    idp.register(ServiceProvider {
        entity_id: "urn:vigie:test:educonnect".into(),
        acs_url: format!("{}/vigie/saml/educonnect/acs", site.base),
        slo_url: Some(format!("{}/vigie/saml/educonnect/slo", site.base)),
        signing_cert: site.sign.cert_der.clone(),
        encryption_cert: site.enc.cert_der.clone(),
    });
    let (seen, shots) = run("educonnect.mjs", &site.base).await;
    assert_eq!(
        seen["choices"], 1,
        "ÉduConnect is offered to pupils: {seen:#}"
    );
    assert_eq!(seen["franceconnectOffered"], 0, "FranceConnect is not");
    assert_eq!(seen["profile"], "eleve", "{seen:#}");
    assert_eq!(seen["school"], "0350001A");
    assert!(
        seen["cookies"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "__Host-vigie_saml"),
        "the pending login cookie is gone: {seen:#}"
    );
    assert_eq!(seen["loggedOutHeading"], "Vous êtes déconnecté", "{seen:#}");
    assert_eq!(seen["afterLogout"], "/vigie/login", "logged out for good");
    assert_eq!(idp.logouts().len(), 1, "single logout reached the IdP");
    let png = std::fs::read(shots.join("login-educonnect.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
}
