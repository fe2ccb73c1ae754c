//! Vigie against a SAML IdP nobody here wrote: pysaml2 with Debian's xmlsec1
//! (`tests/pysaml2/idp.py`, installed by `.ci/prepare`). SP- and IdP-initiated logins for a
//! pupil (`eleve2d`) and a parent (`resp2d`), AES-128-GCM and AES-256-GCM, signed Response
//! and signed assertion; single logout both ways; each Response cross-checked with
//! `xmlsec1 --verify` and `--decrypt`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use support::{
    PyIdp, TempDir, Upstream, Vigie, attr_after, hidden_fields, plain_browser, upstream,
};

struct Env {
    vigie: Vigie,
    idp: PyIdp,
    base: String,
    enc_key: PathBuf,
    _upstream: Upstream,
}

async fn env() -> Env {
    let up = upstream("teleservices").await;
    let (idp, site) = support::pysaml2_site(up.addr).await;
    Env {
        vigie: site.vigie,
        idp,
        base: site.base,
        enc_key: site.enc_key,
        _upstream: up,
    }
}

/// Posts the IdP's auto-post page to its ACS.
async fn post_to_acs(b: &reqwest::Client, page: reqwest::Response) -> reqwest::Response {
    let status = page.status();
    let html = page.text().await.unwrap();
    assert_eq!(status, 200, "{html}");
    let acs = attr_after(&html, "<form", "action").unwrap();
    b.post(acs)
        .form(&hidden_fields(&html))
        .send()
        .await
        .unwrap()
}

/// `xmlsec1` verifies the Response the IdP last sent, decrypts it with our key, and
/// verifies the assertion inside.
async fn cross_check_with_xmlsec1(env: &Env) {
    let xml = env.idp.state().await["response"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = TempDir::new();
    let file = dir.write("response.xml", &xml);
    let run = |args: &[&str]| {
        let out = Command::new("xmlsec1")
            .args(args)
            .output()
            .expect("xmlsec1");
        assert!(
            out.status.success(),
            "xmlsec1 {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let cert = env.idp.cert();
    let cert = cert.to_str().unwrap();
    run(&[
        "--verify",
        "--pubkey-cert-pem",
        cert,
        "--id-attr:ID",
        "urn:oasis:names:tc:SAML:2.0:protocol:Response",
        file.to_str().unwrap(),
    ]);
    let plain = run(&[
        "--decrypt",
        "--privkey-pem",
        env.enc_key.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    let start = plain
        .find(":Assertion ")
        .and_then(|i| plain[..i].rfind('<'))
        .expect("a decrypted assertion");
    let close = plain.rfind(":Assertion>").unwrap() + ":Assertion>".len();
    let assertion = dir.write("assertion.xml", &plain[start..close]);
    run(&[
        "--verify",
        "--pubkey-cert-pem",
        cert,
        "--id-attr:ID",
        "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        assertion.to_str().unwrap(),
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_and_logouts_with_pysaml2() {
    let env = env().await;
    for (user, enc, profile) in [
        ("eleve2d", "aes128-gcm", "eleve"),
        ("resp2d", "aes256-gcm", "responsable"),
    ] {
        env.idp.configure(json!({ "user": user, "enc": enc })).await;
        // SP-initiated.
        let b = plain_browser();
        let page = b
            .get(format!(
                "{}/vigie/login/educonnect?return_to=%2Flivret",
                env.base
            ))
            .send()
            .await
            .unwrap();
        let resp = post_to_acs(&b, page).await;
        assert_eq!(resp.url().path(), "/livret", "{user} {enc}");
        let echo: Value = resp.json().await.unwrap();
        let h = &echo["headers"];
        assert_eq!(h["x-vigie-profile"][0], profile, "{user}");
        assert_eq!(
            h["x-vigie-subject"][0],
            format!(
                "{user}-pysaml2-000{}",
                if user == "eleve2d" { 1 } else { 2 }
            )
        );
        if user == "eleve2d" {
            assert_eq!(h["x-vigie-school-ids"][0], "0350001A");
            assert_eq!(h["x-vigie-name"][0], "In%C3%A8s Lef%C3%A8vre");
        }
        cross_check_with_xmlsec1(&env).await;

        // SP-initiated single logout: pysaml2 checks our signed LogoutRequest and answers.
        let done = support::logout(&b, &env.base).await;
        let text = done.text().await.unwrap();
        assert!(text.contains("y compris auprès d&#39;ÉduConnect"), "{text}");
        let name_id = env.idp.state().await["name_id"].clone();
        assert_eq!(
            env.idp.state().await["logouts"].as_array().unwrap().last(),
            Some(&name_id)
        );

        // IdP-initiated login, then IdP-initiated logout through the browser.
        let b = plain_browser();
        let page = b
            .get(format!("{}/unsolicited?RelayState=%2Flivret", env.idp.base))
            .send()
            .await
            .unwrap();
        let resp = post_to_acs(&b, page).await;
        assert_eq!(resp.url().path(), "/livret");
        let resp = b
            .get(format!("{}/logout", env.idp.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        assert!(
            resp.url().path().ends_with("/slo"),
            "back at the IdP with our answer"
        );
        assert_eq!(
            support::lands_on(&b, &format!("{}/livret", env.base)).await,
            "/vigie/login",
            "{user}: the session ended"
        );
    }
    assert_eq!(
        env.vigie
            .metric("vigie_logins_total{provider=\"educonnect\",result=\"success\"}"),
        4.0
    );
}
