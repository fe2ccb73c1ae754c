//! Browser login against a real OpenID provider (`oidc-provider`, configured like
//! FranceConnect v2): the whole journey, logout with the provider, and the rejections.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use serde_json::{Value, json};
use support::{Certs, OidcProvider, TempDir, Upstream, Vigie, attr_after, browser, upstream};

struct Env {
    vigie: Vigie,
    op: OidcProvider,
    certs: Certs,
    base: String,
    _upstream: Upstream,
}

/// Vigie (HTTPS) with providers `fc` (signed userinfo, eidas1), `fc-strong` (asks eidas2)
/// and `fc-json` (its client gets JSON userinfo), all at one `oidc-provider`.
async fn env() -> Env {
    let op = OidcProvider::start();
    let up = upstream("teleservices").await;
    let certs = Certs::generate();
    let dir = TempDir::new();
    certs.write_to(&dir);
    dir.write("fc-secret", support::CLIENT_SECRET);
    let provider = |name: &str, client: &str, acr: &str| op.provider_yaml(name, client, acr);
    let providers = format!(
        "identity_providers:{}{}{}",
        provider("fc", "vigie", "eidas1"),
        provider("fc-strong", "vigie-strong", "eidas2"),
        provider("fc-json", "vigie-json", "eidas1"),
    );
    let yaml = support::site_yaml(up.addr, true, &providers);
    let vigie = Vigie::start_in(dir, &yaml);
    let base = format!("https://localhost:{}", vigie.addr("secure").port());
    let client =
        |id: &str, name: &str, signed: bool| OidcProvider::client(&[&base], id, name, signed);
    op.configure(json!([
        client("vigie", "fc", true),
        client("vigie-strong", "fc-strong", true),
        client("vigie-json", "fc-json", false)
    ]));
    vigie.wait_ready();
    Env {
        vigie,
        op,
        certs,
        base,
        _upstream: up,
    }
}

/// Logs in with `provider` as `parent-martin`, choosing `acr` at the provider.
async fn login(env: &Env, b: &reqwest::Client, provider: &str, acr: &str) -> reqwest::Response {
    support::login_through(b, &env.base, &env.op, provider, "parent-martin", acr).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_logs_in_with_franceconnect_uses_the_service_and_logs_out() {
    let env = env().await;
    let b = browser(&env.certs.ca_pem);
    let livret = format!("{}/livret/eleve", env.base);

    // A protected page sends the browser to the login page, which asks the profile first.
    let resp = get_with(&b, &livret, "Accept", "text/html").await;
    assert_eq!(resp.url().path(), "/vigie/login");
    assert_eq!(resp.url().query(), Some("return_to=%2Flivret%2Feleve"));
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Je sélectionne mon profil")
            && html.contains("Représentant légal")
            && html.contains("Élève")
    );
    let html = page_text(
        &b,
        &format!(
            "{}/vigie/login?profile=responsable&return_to=%2Flivret%2Feleve",
            env.base
        ),
    )
    .await;
    assert!(
        html.contains("S'identifier avec") && html.contains("Qu'est-ce que FranceConnect ?"),
        "{html}"
    );
    assert!(
        html.contains(r#"href="/vigie/login/fc?return_to=%2Flivret%2Feleve""#),
        "{html}"
    );

    // FranceConnect, then back on the page asked for, as the parent.
    let resp = login(&env, &b, "fc", "eidas1").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().path(), "/livret/eleve");
    let echo: Value = resp.json().await.unwrap();
    let h = &echo["headers"];
    assert_eq!(h["x-vigie-subject"][0], "parent-martin");
    assert_eq!(h["x-vigie-issuer"][0], "fc");
    assert_eq!(h["x-vigie-profile"][0], "responsable");
    assert_eq!(h["x-vigie-acr"][0], "eidas1");
    assert_eq!(
        h["x-vigie-name"][0], "L%C3%A9a",
        "given_name from the signed userinfo"
    );
    assert!(
        h.get("cookie")
            .is_none_or(|c| !c.to_string().contains("vigie_login"))
    );
    assert_eq!(
        env.vigie
            .metric("vigie_logins_total{provider=\"fc\",result=\"success\"}"),
        1.0
    );

    // Logout: a confirmation with a CSRF token, then the provider's end_session, then back.
    let html = page_text(&b, &format!("{}/vigie/logout", env.base)).await;
    let csrf = attr_after(&html, "name=\"csrf\"", "value").expect("a CSRF token");
    let forged = b
        .post(format!("{}/vigie/logout", env.base))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400, "a forged CSRF token is refused");
    let resp = b
        .post(format!("{}/vigie/logout", env.base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        resp.url().as_str().starts_with(&env.op.issuer),
        "at the provider's end_session: {}",
        resp.url()
    );
    let html = resp.text().await.unwrap();
    let action = attr_after(&html, "<form", "action").expect("the provider's logout form");
    let xsrf = attr_after(&html, "name=\"xsrf\"", "value").expect("its xsrf");
    let resp = b
        .post(&action)
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().path(), "/vigie/logged-out");
    assert_eq!(resp.status(), 200, "the state sent back is the one sent");
    assert!(resp.text().await.unwrap().contains("Vous êtes déconnecté"));
    let hints = env.op.end_session_hints();
    assert_eq!(hints.len(), 1);
    use base64::Engine as _;
    let payload = hints[0].split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (claims["sub"].as_str(), claims["aud"].as_str()),
        (Some("parent-martin"), Some("vigie")),
        "the right id_token_hint"
    );

    // The session is gone: the protected page asks for a login again; an API call gets 401.
    let resp = get_with(&b, &livret, "Accept", "text/html").await;
    assert_eq!(resp.url().path(), "/vigie/login");
    let resp = get_with(&b, &livret, "Accept", "application/json").await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_that_must_fail_do() {
    let env = env().await;

    // acr lower than asked (eidas2 asked, eidas1 given).
    let b = browser(&env.certs.ca_pem);
    let resp = login(&env, &b, "fc-strong", "eidas1").await;
    assert_eq!(resp.status(), 401, "acr too weak");
    assert!(resp.text().await.unwrap().contains("Connexion impossible"));
    assert_eq!(
        env.vigie
            .metric("vigie_logins_total{provider=\"fc-strong\",result=\"acr\"}"),
        1.0
    );

    // An unsigned userinfo where a signed one is required.
    let b = browser(&env.certs.ca_pem);
    assert_eq!(login(&env, &b, "fc-json", "eidas1").await.status(), 401);
    assert_eq!(
        env.vigie
            .metric("vigie_logins_total{provider=\"fc-json\",result=\"userinfo\"}"),
        1.0
    );

    // A callback replayed after the login: no login in progress any more.
    let no_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(reqwest::Certificate::from_pem(env.certs.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let start = no_redirects
        .get(format!(
            "{}/vigie/login/fc?return_to=%2F%2Fevil.example",
            env.base
        ))
        .send()
        .await
        .unwrap();
    let login_cookie = start.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let authorize = start.headers()["location"].to_str().unwrap().to_string();
    let op_redirects = reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Walk the provider's redirects by hand up to the callback (the provider's cookies come along).
    let interaction = op_redirects.get(&authorize).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let html = page_text(&op_redirects, &format!("{}{interaction}", env.op.issuer)).await;
    let action = attr_after(&html, "<form", "action").unwrap();
    let mut resp = op_redirects
        .post(format!("{}{action}", env.op.issuer))
        .form(&[("account", "parent-diallo"), ("acr", "eidas1")])
        .send()
        .await
        .unwrap();
    let callback = loop {
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        if location.starts_with(&env.base) {
            break location;
        }
        resp = op_redirects.get(&location).send().await.unwrap();
    };
    let first = get_with(&no_redirects, &callback, "cookie", &login_cookie).await;
    assert_eq!(first.status(), 303, "the login completes");
    assert_eq!(
        first.headers()["location"],
        "/",
        "an open-redirect return_to becomes /"
    );
    let replayed = no_redirects.get(&callback).send().await.unwrap();
    assert_eq!(
        replayed.status(),
        400,
        "replayed state: no login in progress"
    );
    let reused = get_with(&no_redirects, &callback, "cookie", &login_cookie).await;
    assert_eq!(
        reused.status(),
        401,
        "the same code again is refused by the provider"
    );
    let wrong_state = callback.replace("state=", "state=x");
    let resp = get_with(&no_redirects, &wrong_state, "cookie", &login_cookie).await;
    assert_eq!(resp.status(), 400, "a state that is not ours");
    assert!(
        env.vigie
            .metric("vigie_logins_total{provider=\"fc\",result=\"state\"}")
            >= 1.0
    );
    assert!(
        env.vigie
            .metric("vigie_logins_total{provider=\"fc\",result=\"token_exchange\"}")
            >= 1.0
    );
}

/// GET `url` with one more header (`Accept`, or a cookie kept aside).
async fn get_with(
    client: &reqwest::Client,
    url: &str,
    header: &str,
    value: &str,
) -> reqwest::Response {
    client.get(url).header(header, value).send().await.unwrap()
}

/// The body of the page at `url`.
async fn page_text(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}
