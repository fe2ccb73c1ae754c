//! Bearer tokens end to end, against a mock OpenID provider over HTTPS: every pinned
//! algorithm, identity headers and a verifiable assertion upstream, the attack table, profile
//! and `acr` rules, spoofed identity headers, key rotation, an outage, a spray of kids.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};
use support::{Certs, TempDir, Upstream, Vigie, client, upstream};
use vigie_load_tests::idp::Idp;
use vigie_load_tests::keys::{TestKey, now};

struct Env {
    vigie: Vigie,
    idp: Idp,
    _upstream: Upstream,
}

/// Vigie with one provider (`idp`), routes `/open` (public), `/livret` (responsable only),
/// `/bourses` (eidas2 or more) and `/` (any identity); the provider publishes `keys`.
async fn env(keys: &[&TestKey], unknown_kid_interval: &str, idp_up: bool) -> Env {
    let certs = Certs::generate();
    let idp = Idp::start(&certs.cert_pem, &certs.key_pem).await.unwrap();
    idp.set_keys(keys);
    idp.set_up(idp_up);
    let up = upstream("teleservices").await;
    let dir = TempDir::new();
    dir.write("ca.pem", &certs.ca_pem);
    dir.write(
        "assertion.pem",
        &TestKey::generate(Algorithm::ES256, "a").pem,
    );
    dir.write("next.pem", &TestKey::generate(Algorithm::ES256, "n").pem);
    let yaml = format!(
        r#"
listeners: [{{ name: public, address: "127.0.0.1:0" }}]
admin: {{ address: "127.0.0.1:0" }}
limits: {{ max_request_header_size: 256KiB }}
identity_providers:
  idp:
    kind: oidc
    issuer: {issuer}
    audiences: [vigie-tests]
    algorithms: [ES256, RS256, PS256, EdDSA]
    ca_file: ca.pem
    keys: {{ unknown_kid_interval: {unknown_kid_interval} }}
    claims:
      profile: {{ claim: affiliation, mapping: educonnect }}
      school_ids: uai
      children_ids: children
identity:
  strip_headers: [X-Remote-User]
  assertion: {{ issuer: "https://vigie.test", signing_key: assertion.pem, next_signing_key: next.pem }}
upstreams:
  ts: {{ backends: ["{up}"] }}
routes:
  - {{ name: open, path_prefix: /open, upstream: ts, access: public }}
  - {{ name: livret, path_prefix: /livret, upstream: ts, access: {{ bearer: [idp], profiles: [responsable] }} }}
  - {{ name: bourses, path_prefix: /bourses, upstream: ts, access: {{ bearer: [idp], min_acr: eidas2 }} }}
  - {{ name: any, path_prefix: /, upstream: ts, access: {{ bearer: [idp] }} }}
"#,
        issuer = idp.issuer,
        up = up.addr,
    );
    let vigie = Vigie::start_in(dir, &yaml);
    if idp_up {
        vigie.wait_ready();
    }
    Env {
        vigie,
        idp,
        _upstream: up,
    }
}

fn claims(idp: &Idp) -> Value {
    json!({
        "iss": idp.issuer, "aud": "vigie-tests", "sub": "parent-42", "exp": now() + 300, "iat": now(),
        "affiliation": "resp2d", "uai": ["0440001A"], "children": ["ine-1", "ine-2"],
        "acr": "eidas1", "name": "Léa Martin",
    })
}

async fn get(env: &Env, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = client().get(env.vigie.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_each_algorithm_reach_the_upstream_with_identity_and_assertion() {
    let keys: Vec<TestKey> = [
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::EdDSA,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, alg)| TestKey::generate(alg, &format!("k{i}")))
    .collect();
    let env = env(&keys.iter().collect::<Vec<_>>(), "1m", true).await;
    let jwks: Value = client()
        .get(env.vigie.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "current and next assertion keys"
    );
    for key in &keys {
        let resp = get(&env, "/livret/eleve", Some(&key.sign(&claims(&env.idp)))).await;
        assert_eq!(resp.status(), 200, "{:?}", key.alg);
        let echo: Value = resp.json().await.unwrap();
        let h = &echo["headers"];
        assert_eq!(h["x-vigie-subject"][0], "parent-42");
        assert_eq!(h["x-vigie-issuer"][0], "idp");
        assert_eq!(h["x-vigie-profile"][0], "responsable");
        assert_eq!(h["x-vigie-school-ids"][0], "0440001A");
        assert_eq!(h["x-vigie-children-ids"][0], "ine-1,ine-2");
        assert_eq!(h["x-vigie-acr"][0], "eidas1");
        assert_eq!(h["x-vigie-name"][0], "L%C3%A9a Martin");
        let assertion = h["x-vigie-assertion"][0].as_str().unwrap();
        let kid = jsonwebtoken::decode_header(assertion).unwrap().kid.unwrap();
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .expect("published key");
        let decoding =
            jsonwebtoken::DecodingKey::from_jwk(&serde_json::from_value(jwk.clone()).unwrap())
                .unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.set_audience(&["ts"]);
        validation.set_issuer(&["https://vigie.test"]);
        let verified = jsonwebtoken::decode::<Value>(assertion, &decoding, &validation)
            .expect("a verifiable assertion");
        assert_eq!(verified.claims["sub"], "parent-42");
        assert_eq!(verified.claims["profile"], "responsable");
        assert!(
            verified.claims["jti"]
                .as_str()
                .is_some_and(|j| j.len() == 32)
        );
    }
    let token = keys[0].sign(&claims(&env.idp));
    for _ in 0..3 {
        assert_eq!(get(&env, "/livret", Some(&token)).await.status(), 200);
    }
    let hits = env
        .vigie
        .metric("vigie_token_cache_lookups_total{result=\"hit\"}");
    let misses = env
        .vigie
        .metric("vigie_token_cache_lookups_total{result=\"miss\"}");
    assert_eq!(
        (hits, misses),
        (2.0, 5.0),
        "each token verified once: 4 algorithms, then 1 token 3 times"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attack_table_gets_401_and_is_counted() {
    let es = TestKey::generate(Algorithm::ES256, "es");
    let rsa = TestKey::generate(Algorithm::RS256, "rsa");
    let env = env(&[&es, &rsa], "1h", true).await;
    let c = claims(&env.idp);
    let good = es.sign(&c);
    let parts: Vec<&str> = good.split('.').collect();
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let with = |k: &str, v: Value| {
        let mut c = c.clone();
        c[k] = v;
        es.sign(&c)
    };
    let header = |f: &dyn Fn(&mut Header)| {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some("es".into());
        f(&mut h);
        es.sign_with(h, &c)
    };
    let hs_with_rsa_public_key = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("rsa".into());
        let secret = serde_json::to_vec(&rsa.jwk).unwrap();
        jsonwebtoken::encode(
            &h,
            &c,
            &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap(),
        )
        .unwrap()
    };
    let mut tampered = c.clone();
    tampered["sub"] = json!("admin");
    let mut flipped: Vec<u8> = parts[2].bytes().collect();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            format!("{}.{}.{}", b64(&json!({"alg": "none"})), parts[1], parts[2]),
            "algorithm",
        ),
        (
            "HS256 with the RSA public key",
            hs_with_rsa_public_key,
            "algorithm",
        ),
        ("expired", with("exp", json!(now() - 3600)), "expired"),
        (
            "not yet valid",
            with("nbf", json!(now() + 3600)),
            "not_yet_valid",
        ),
        (
            "wrong iss",
            with("iss", json!("https://evil.example")),
            "issuer",
        ),
        ("wrong aud", with("aud", json!("other-service")), "audience"),
        (
            "unknown kid",
            TestKey::generate(Algorithm::ES256, "nope").sign(&c),
            "unknown_key",
        ),
        (
            "kid with a path",
            header(&|h| h.kid = Some("../../../etc/passwd".into())),
            "unknown_key",
        ),
        (
            "kid with SQL",
            header(&|h| h.kid = Some("x' OR '1'='1".into())),
            "unknown_key",
        ),
        (
            "tampered payload",
            format!("{}.{}.{}", parts[0], b64(&tampered), parts[2]),
            "signature",
        ),
        (
            "tampered signature",
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                String::from_utf8(flipped).unwrap()
            ),
            "signature",
        ),
        (
            "ECDSA r = s = 0",
            format!("{}.{}.{}", parts[0], parts[1], "A".repeat(86)),
            "signature",
        ),
        (
            "crit header",
            format!(
                "{}.{}.{}",
                b64(&json!({"alg": "ES256", "kid": "es", "crit": ["x"], "x": 1})),
                parts[1],
                parts[2]
            ),
            "crit",
        ),
        (
            "jku pointing elsewhere",
            header(&|h| {
                h.kid = Some("evil".into());
                h.jku = Some("https://evil.example/jwks".into());
            }),
            "unknown_key",
        ),
        (
            "token of 64 KiB",
            format!("{}.{}.{}", parts[0], "A".repeat(64 * 1024), parts[2]),
            "too_large",
        ),
        (
            "malformed base64",
            format!("{}.{}.{}", parts[0], "%%%", parts[2]),
            "invalid_request",
        ),
        (
            "not base64 JSON",
            format!("{}.{}.{}", parts[0], "bm90IGpzb24", parts[2]),
            "malformed",
        ),
    ];
    let fetches_before = env.idp.jwks_fetches();
    for (name, token, reason) in &cases {
        let resp = get(&env, "/dossier", Some(token)).await;
        assert_eq!(resp.status(), 401, "{name}");
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        let expected = if *reason == "invalid_request" {
            "error=\"invalid_request\""
        } else {
            "error=\"invalid_token\""
        };
        assert!(challenge.contains(expected), "{name}: {challenge}");
        let description = challenge
            .split("error_description=\"")
            .nth(1)
            .map(|d| d.trim_end_matches('"'));
        let fixed = [
            "the token has expired",
            "the token is not valid yet",
            "the token is invalid",
        ];
        assert!(
            description.is_none_or(|d| fixed.contains(&d)),
            "{name}: no internals in {challenge}"
        );
        let metric = format!("vigie_auth_failures_total{{reason=\"{reason}\",route=\"any\"}}");
        assert!(env.vigie.metric(&metric) >= 1.0, "{name}: {metric}");
    }
    assert!(
        env.idp.jwks_fetches() - fetches_before <= 1,
        "unknown kids cost at most one refetch"
    );

    let two = client()
        .get(env.vigie.url("/dossier"))
        .header("Authorization", format!("Bearer {good}"))
        .header("Authorization", "Bearer x")
        .send()
        .await
        .unwrap();
    assert_eq!(two.status(), 401);
    assert!(
        two.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_request"),
        "two Authorization headers"
    );
    let none = get(&env, "/dossier", None).await;
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.headers()["www-authenticate"],
        r#"Bearer realm="vigie""#
    );
    let expired = get(&env, "/dossier", Some(&with("exp", json!(now() - 3600)))).await;
    assert!(
        expired.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(r#"error_description="the token has expired""#)
    );
    assert_eq!(
        get(&env, "/dossier", Some(&good)).await.status(),
        200,
        "the good token still passes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_and_acr_are_enforced_per_route() {
    let es = TestKey::generate(Algorithm::ES256, "es");
    let env = env(&[&es], "1m", true).await;
    let mut pupil = claims(&env.idp);
    pupil["affiliation"] = json!("eleve2d");
    let resp = client()
        .get(env.vigie.url("/livret"))
        .bearer_auth(es.sign(&pupil))
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        403,
        "a pupil may not open the guardians' service"
    );
    assert!(resp.text().await.unwrap().contains("Accès refusé"));
    assert_eq!(
        env.vigie
            .metric("vigie_auth_failures_total{reason=\"profile\",route=\"livret\"}"),
        1.0
    );

    let resp = get(&env, "/bourses", Some(&es.sign(&claims(&env.idp)))).await;
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains(r#"error="insufficient_user_authentication""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"acr_values="eidas2 eidas3""#),
        "{challenge}"
    );
    let mut strong = claims(&env.idp);
    strong["acr"] = json!("eidas2");
    assert_eq!(
        get(&env, "/bourses", Some(&es.sign(&strong)))
            .await
            .status(),
        200
    );
    assert_eq!(
        get(&env, "/open", None).await.status(),
        200,
        "public routes need nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_sent_identity_headers_never_reach_the_upstream() {
    let es = TestKey::generate(Algorithm::ES256, "es");
    let env = env(&[&es], "1m", true).await;
    let spoof = |req: reqwest::RequestBuilder| {
        req.header("X-Vigie-Subject", "admin")
            .header("x-vigie-profile", "responsable")
            .header("X-VIGIE-ASSERTION", "forged")
            .header("X-Vigie-Anything", "x")
            .header("X-Remote-User", "admin")
    };
    let echo: Value = spoof(client().get(env.vigie.url("/open")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&String> = echo["headers"].as_object().unwrap().keys().collect();
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with("x-vigie-") && *n != "x-remote-user"),
        "{names:?}"
    );
    let token = es.sign(&claims(&env.idp));
    let echo: Value = spoof(client().get(env.vigie.url("/dossier")).bearer_auth(&token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let h = &echo["headers"];
    assert_eq!(
        h["x-vigie-subject"],
        json!(["parent-42"]),
        "only Vigie's value"
    );
    assert!(h.get("x-vigie-anything").is_none() && h.get("x-remote-user").is_none());
    assert_ne!(h["x-vigie-assertion"][0], "forged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_outage_and_a_spray_of_kids() {
    let old = TestKey::generate(Algorithm::ES256, "2026-old");
    let env = env(&[&old], "1h", true).await;
    assert_eq!(
        get(&env, "/x", Some(&old.sign(&claims(&env.idp))))
            .await
            .status(),
        200
    );

    // The provider rotates: a token with the new kid passes after one refetch.
    let new = TestKey::generate(Algorithm::ES256, "2026-new");
    env.idp.set_keys(&[&new]);
    let before = env.idp.jwks_fetches();
    assert_eq!(
        get(&env, "/x", Some(&new.sign(&claims(&env.idp))))
            .await
            .status(),
        200
    );
    assert_eq!(env.idp.jwks_fetches(), before + 1);

    // The provider goes down: tokens signed with known keys keep working.
    env.idp.set_up(false);
    let mut fresh = claims(&env.idp);
    fresh["sub"] = json!("another-parent");
    assert_eq!(
        get(&env, "/x", Some(&new.sign(&fresh))).await.status(),
        200,
        "stale-if-error"
    );

    // 1000 tokens with random kids: refused, and no more refetches in this interval.
    env.idp.set_up(true);
    let before = env.idp.jwks_fetches();
    let mut spray = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let (url, token) = (
            env.vigie.url("/x"),
            TestKey::generate(Algorithm::ES256, &format!("r{i}")).sign(&claims(&env.idp)),
        );
        spray.spawn(async move {
            client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = spray.join_next().await {
        assert_eq!(status.unwrap(), 401);
    }
    assert_eq!(
        env.idp.jwks_fetches(),
        before,
        "the refetch interval (1h) already started with the rotation"
    );
    assert!(
        env.vigie
            .metric("vigie_jwks_unknown_kid_total{provider=\"idp\"}")
            >= 1000.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_the_keys_are_loaded() {
    let es = TestKey::generate(Algorithm::ES256, "es");
    let env = env(&[&es], "1m", false).await;
    let ready = support::http_get_blocking(env.vigie.admin, "/readyz").unwrap();
    assert!(
        ready.starts_with("HTTP/1.1 503")
            && ready.contains("identity provider \"idp\" has no keys yet"),
        "{ready}"
    );
    assert_eq!(
        get(&env, "/x", Some(&es.sign(&claims(&env.idp))))
            .await
            .status(),
        401
    );
    env.idp.set_up(true);
    env.vigie.wait_ready();
    assert_eq!(
        get(&env, "/x", Some(&es.sign(&claims(&env.idp))))
            .await
            .status(),
        200
    );
}
