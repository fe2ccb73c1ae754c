//! Logins against a provider that misbehaves on demand (the development FranceConnect of
//! `load-tests`): every way an ID token or a userinfo can be wrong is refused with a clear
//! page and counted by reason; the three client authentications work.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use jsonwebtoken::Algorithm;
use serde_json::Value;
use support::{TempDir, Upstream, Vigie, attr_after, hidden_fields, plain_browser, upstream};
use vigie_load_tests::franceconnect::{Client, ClientAuth, DevProvider, Fault};
use vigie_load_tests::keys::TestKey;

struct Env {
    vigie: Vigie,
    op: DevProvider,
    base: String,
    _upstream: Upstream,
}

/// Vigie (plain HTTP, as in the demo) with providers `fc` (client_secret_post), `fc-basic`
/// (client_secret_basic) and `fc-jwt` (private_key_jwt), all at one development provider.
async fn env() -> Env {
    let op = DevProvider::start("127.0.0.1:0".parse().unwrap(), None, vec![])
        .await
        .unwrap();
    let up = upstream("teleservices").await;
    let dir = TempDir::new();
    dir.write("fc-secret", "dev-secret");
    let rp_key = TestKey::generate(Algorithm::ES256, "vigie-rp");
    dir.write("rp-key.pem", &rp_key.pem);
    let provider = |name: &str, auth: &str| {
        support::provider_yaml(name, &op.issuer, &format!("{name}-client"), "eidas1", auth)
    };
    let providers = format!(
        "identity_providers:{}{}{}",
        provider("fc", "client_secret_file: fc-secret"),
        provider(
            "fc-basic",
            "token_auth: client_secret_basic\n      client_secret_file: fc-secret"
        ),
        provider(
            "fc-jwt",
            "token_auth: private_key_jwt\n      private_key_file: rp-key.pem"
        ),
    );
    let yaml = support::site_yaml(up.addr, false, &providers);
    let vigie = Vigie::start_in(dir, &yaml);
    let base = format!("http://127.0.0.1:{}", vigie.addr("public").port());
    for (name, auth) in [
        ("fc", ClientAuth::Secret("dev-secret".into())),
        ("fc-basic", ClientAuth::Secret("dev-secret".into())),
        (
            "fc-jwt",
            ClientAuth::PrivateKeyJwt(Box::new(rp_key.jwk.clone())),
        ),
    ] {
        op.add_client(Client {
            id: format!("{name}-client"),
            auth,
            redirect_uris: vec![format!("{base}/vigie/callback/{name}")],
            post_logout_redirect_uris: vec![format!("{base}/vigie/logged-out")],
        });
    }
    vigie.wait_ready();
    Env {
        vigie,
        op,
        base,
        _upstream: up,
    }
}

/// Logs in with `provider` through the provider's page, pressing `action` (`login` or
/// `cancel`); the final response.
async fn login(env: &Env, provider: &str, action: &str) -> reqwest::Response {
    let b = plain_browser();
    let page = b
        .get(format!(
            "{}/vigie/login/{provider}?return_to=%2Flivret%2Feleve",
            env.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Je me connecte en tant que"), "{html}");
    let action_url = attr_after(&html, "<form", "action").unwrap();
    let mut form = hidden_fields(&html);
    form.push(("account".into(), "parent-diallo".into()));
    form.push(("action".into(), action.into()));
    b.post(format!("{}{action_url}", env.op.issuer))
        .form(&form)
        .send()
        .await
        .unwrap()
}

fn logins(env: &Env, provider: &str, result: &str) -> f64 {
    env.vigie.metric(&format!(
        "vigie_logins_total{{provider=\"{provider}\",result=\"{result}\"}}"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_authentication_logs_in() {
    let env = env().await;
    for provider in ["fc", "fc-basic", "fc-jwt"] {
        let resp = login(&env, provider, "login").await;
        assert_eq!(resp.status(), 200, "{provider}");
        assert_eq!(resp.url().path(), "/livret/eleve");
        let echo: Value = resp.json().await.unwrap();
        assert_eq!(
            echo["headers"]["x-vigie-subject"][0], "parent-diallo",
            "{provider}"
        );
        assert_eq!(echo["headers"]["x-vigie-name"][0], "Moussa", "{provider}");
        assert_eq!(logins(&env, provider, "success"), 1.0, "{provider}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_answer_of_the_provider_is_refused() {
    let env = env().await;
    let table = [
        (Fault::WrongNonce, "nonce"),
        (Fault::NoNonce, "nonce"),
        (Fault::WrongIssuer, "id_token"),
        (Fault::WrongAudience, "id_token"),
        (Fault::ExpiredIdToken, "id_token"),
        (Fault::ForgedSignature, "id_token"),
        (Fault::JsonUserinfo, "userinfo"),
        (Fault::UserinfoOtherSubject, "userinfo"),
    ];
    for (fault, reason) in table {
        env.op.set_fault(fault);
        let before = logins(&env, "fc", reason);
        let resp = login(&env, "fc", "login").await;
        assert_eq!(resp.status(), 401, "{fault:?}");
        assert_ne!(
            resp.url().path(),
            "/livret/eleve",
            "{fault:?} must not reach the service"
        );
        let html = resp.text().await.unwrap();
        assert!(html.contains("Connexion impossible"), "{fault:?}: {html}");
        assert_eq!(
            logins(&env, "fc", reason),
            before + 1.0,
            "{fault:?} counted as {reason}"
        );
    }
    assert_eq!(logins(&env, "fc", "success"), 0.0);

    // The person cancels at the provider: a page saying so, nothing else.
    env.op.set_fault(Fault::None);
    let resp = login(&env, "fc", "cancel").await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("Connexion annulée"));
}
