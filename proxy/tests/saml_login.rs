//! ÉduConnect logins through the real binary, against the development SAML IdP of
//! `load-tests` (signed Responses holding signed, encrypted assertions): SP- and
//! IdP-initiated logins, single logout both ways, and refusals over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use serde_json::Value;
use support::{SamlSite, Upstream, Vigie, attr_after, hidden_fields, plain_browser, upstream};
use vigie_load_tests::educonnect::{DevIdp, ServiceProvider, demo_accounts};
use vigie_load_tests::saml::Content;

struct Env {
    vigie: Vigie,
    idp: DevIdp,
    base: String,
    _upstream: Upstream,
}

/// Vigie (plain HTTP) with provider `educonnect` at a development IdP.
async fn env() -> Env {
    env_with(true).await
}

/// The same, with single logout on or off.
async fn env_with(slo: bool) -> Env {
    let idp = DevIdp::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let up = upstream("teleservices").await;
    let site = SamlSite::start_with(
        up.addr,
        "urn:vigie:test:educonnect",
        &idp.entity_id,
        &idp.metadata_url(),
        slo,
    );
    idp.register(ServiceProvider {
        entity_id: "urn:vigie:test:educonnect".into(),
        acs_url: format!("{}/vigie/saml/educonnect/acs", site.base),
        slo_url: slo.then(|| format!("{}/vigie/saml/educonnect/slo", site.base)),
        signing_cert: site.sign.cert_der.clone(),
        encryption_cert: site.enc.cert_der.clone(),
    });
    Env {
        vigie: site.vigie,
        idp,
        base: site.base,
        _upstream: up,
    }
}

/// The IdP's chooser page reached from `start`, the account picked: the auto-post page's
/// ACS and fields.
async fn at_idp(
    b: &reqwest::Client,
    start: &str,
    account: &str,
) -> (String, Vec<(String, String)>) {
    let chooser = b.get(start).send().await.unwrap();
    assert_eq!(chooser.status(), 200, "{}", chooser.url());
    let idp_url = chooser.url().clone();
    let html = chooser.text().await.unwrap();
    let action = attr_after(&html, "<form", "action").unwrap();
    let mut form = hidden_fields(&html);
    form.push(("account".into(), account.into()));
    form.push(("action".into(), "login".into()));
    let posted = b
        .post(idp_url.join(&action).unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    let html = posted.text().await.unwrap();
    (
        attr_after(&html, "<form", "action").unwrap(),
        hidden_fields(&html),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pupil_and_a_parent_log_in_with_educonnect_and_log_out() {
    let env = env().await;
    let accounts = demo_accounts();
    for (account, content, profile) in [
        (&accounts[0], Content::Aes128Gcm, "eleve"),
        (&accounts[2], Content::Aes256Gcm, "responsable"),
    ] {
        env.idp.set_content(content);
        let b = plain_browser();
        let start = format!(
            "{}/vigie/login/educonnect?return_to=%2Flivret%2Fnotes",
            env.base
        );
        let (acs, fields) = at_idp(&b, &start, account.id).await;
        let resp = b.post(&acs).form(&fields).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.url().path(), "/livret/notes");
        let echo: Value = resp.json().await.unwrap();
        let h = &echo["headers"];
        assert_eq!(h["x-vigie-subject"][0], account.id);
        assert_eq!(h["x-vigie-issuer"][0], "educonnect");
        assert_eq!(h["x-vigie-profile"][0], profile);
        if profile == "eleve" {
            assert_eq!(h["x-vigie-school-ids"][0], account.uai);
            assert_eq!(h["x-vigie-level"][0], "2212");
            assert!(
                h["x-vigie-ine-hash"][0]
                    .as_str()
                    .is_some_and(|s| s.len() == 32)
            );
        }
        assert_eq!(h["x-vigie-birth-date"][0], account.birth_date);

        // The same response from another browser: it answers no request of that browser.
        let stolen = plain_browser()
            .post(&acs)
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(stolen.status(), 400);

        // Logout: ours, then a signed LogoutRequest to the IdP, and its signed answer.
        let done = support::logout(&b, &env.base).await;
        assert_eq!(done.status(), 200);
        assert_eq!(
            done.url().path(),
            "/vigie/saml/educonnect/slo",
            "back from the IdP"
        );
        let text = done.text().await.unwrap();
        assert!(text.contains("y compris auprès d&#39;ÉduConnect"), "{text}");
        let name_id = env.idp.issued().last().unwrap().1.clone();
        assert_eq!(env.idp.logouts().last(), Some(&name_id));
        assert_eq!(
            support::lands_on(&b, &format!("{}/livret/notes", env.base)).await,
            "/vigie/login",
            "the session is over"
        );
    }
    let m = |r: &str| {
        env.vigie.metric(&format!(
            "vigie_logins_total{{provider=\"educonnect\",result=\"{r}\"}}"
        ))
    };
    assert_eq!((m("success"), m("in_response_to")), (2.0, 2.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_initiated_login_and_logout() {
    let env = env().await;
    let pupil = &demo_accounts()[1];
    let b = plain_browser();
    let start = format!(
        "http://{}/idp/profile/SAML2/Unsolicited/SSO?providerId=urn%3Avigie%3Atest%3Aeduconnect&target=%2Flivret",
        env.idp.addr
    );
    let (acs, mut fields) = at_idp(&b, &start, pupil.id).await;
    assert!(
        !fields.iter().any(|(k, _)| k == "RelayState")
            || fields.iter().any(|(_, v)| v == "/livret")
    );
    fields.retain(|(k, _)| k != "RelayState");
    fields.push(("RelayState".into(), "/livret".into()));
    let resp = b.post(&acs).form(&fields).send().await.unwrap();
    assert_eq!(resp.url().path(), "/livret");
    let echo: Value = resp.json().await.unwrap();
    assert_eq!(echo["headers"]["x-vigie-profile"][0], "eleve");

    // The same unsolicited response again, from anywhere: the assertion was used.
    let replay = plain_browser()
        .post(&acs)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    assert!(
        replay
            .text()
            .await
            .unwrap()
            .contains("Connexion impossible")
    );
    assert_eq!(
        env.vigie
            .metric("vigie_logins_total{provider=\"educonnect\",result=\"replayed\"}"),
        1.0
    );

    // ÉduConnect ends the session through the browser: Vigie ends it and answers, signed.
    let name_id = env.idp.issued().last().unwrap().1.clone();
    let logout = env.idp.logout_url(&name_id).unwrap();
    let resp = b.get(&logout).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Vous êtes déconnecté de tous les services")
    );
    assert_eq!(
        support::lands_on(&b, &format!("{}/livret", env.base)).await,
        "/vigie/login"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_get_clear_pages_and_our_metadata_is_served() {
    let env = env().await;
    let metadata = reqwest::get(format!("{}/vigie/saml/educonnect/metadata", env.base))
        .await
        .unwrap();
    assert_eq!(
        metadata.headers()["content-type"],
        "application/samlmetadata+xml"
    );
    let text = metadata.text().await.unwrap();
    assert!(text.contains("AuthnRequestsSigned=\"true\"") && text.contains("use=\"encryption\""));

    let acs = format!("{}/vigie/saml/educonnect/acs", env.base);
    let b = plain_browser();
    for (what, body, status) in [
        ("no SAMLResponse", "RelayState=x".to_string(), 401),
        ("not base64", "SAMLResponse=%%%".to_string(), 401),
        (
            "not SAML",
            format!("SAMLResponse={}", base64_form("<html/>")),
            401,
        ),
        (
            "a DOCTYPE",
            format!(
                "SAMLResponse={}",
                base64_form("<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>")
            ),
            401,
        ),
        (
            "1 MiB",
            format!("SAMLResponse={}", "A".repeat(1024 * 1024)),
            413,
        ),
    ] {
        let resp = b
            .post(&acs)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{what}");
        let page = resp.text().await.unwrap();
        assert!(
            !page.contains("ENTITY") && !page.contains("<x>"),
            "{what}: no XML in the page"
        );
    }
    // A login that answers another browser's request: it expired for this one.
    let other = plain_browser();
    let start = format!("{}/vigie/login/educonnect?return_to=%2Flivret", env.base);
    let (_, fields) = at_idp(&other, &start, demo_accounts()[0].id).await;
    let resp = plain_browser()
        .post(&acs)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        env.vigie
            .metric("vigie_logins_total{provider=\"educonnect\",result=\"in_response_to\"}")
            >= 1.0
    );
}

fn base64_form(xml: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
    form_urlencoded::byte_serialize(b64.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_single_logout_the_browser_goes_to_the_idp_logout_url() {
    let env = env_with(false).await;
    let b = plain_browser();
    let start = format!("{}/vigie/login/educonnect?return_to=%2Flivret", env.base);
    let (acs, fields) = at_idp(&b, &start, demo_accounts()[2].id).await;
    assert_eq!(
        b.post(&acs)
            .form(&fields)
            .send()
            .await
            .unwrap()
            .url()
            .path(),
        "/livret"
    );
    let done = support::logout(&b, &env.base).await;
    assert_eq!(
        done.url().as_str(),
        format!("http://{}/Logout", env.idp.addr),
        "FrEduUrlRetour"
    );
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("Vous êtes déconnecté d&#39;ÉduConnect")
    );
    assert!(
        env.idp.logouts().is_empty(),
        "no LogoutRequest without single logout"
    );
}
