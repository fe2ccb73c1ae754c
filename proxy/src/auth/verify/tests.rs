#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use serde_json::json;
use vigie_load_tests::keys::{TestKey, jwks};

use super::*;
use crate::auth::keys::KeySet;

const NOW: u64 = 1_800_000_000;

fn rules() -> Rules {
    Rules {
        issuer: "https://idp.example".into(),
        audiences: vec!["vigie".into()],
        algorithms: vec![
            Algorithm::ES256,
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::EdDSA,
        ],
        leeway: 30,
        max_size: 8192,
    }
}

fn claims() -> serde_json::Value {
    json!({"iss": "https://idp.example", "aud": "vigie", "sub": "parent-1", "exp": NOW + 60, "iat": NOW - 1})
}

/// Inspects, finds the key and verifies, like the authenticator does.
fn check(token: &str, keys: &KeySet) -> Result<Map<String, Value>, VerifyError> {
    let r = rules();
    let inspected = inspect(token, r.max_size, &r.algorithms)?;
    let key = keys
        .find(inspected.kid.as_deref(), inspected.alg)
        .ok_or(VerifyError::UnknownKey)?;
    verify(token, &inspected, key, &r, NOW)
}

fn set(keys: &[&TestKey]) -> KeySet {
    KeySet::parse(jwks(keys).as_bytes()).expect("jwks")
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[test]
fn each_pinned_algorithm_verifies() {
    for alg in [
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::EdDSA,
    ] {
        let key = TestKey::generate(alg, "k1");
        let claims =
            check(&key.sign(&claims()), &set(&[&key])).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(claims["sub"], "parent-1");
    }
}

#[test]
fn attacks_are_refused_for_the_right_reason() {
    let es = TestKey::generate(Algorithm::ES256, "es");
    let rsa = TestKey::generate(Algorithm::RS256, "rsa");
    let keys = set(&[&es, &rsa]);
    let good = es.sign(&claims());
    let [h, p, s]: [&str; 3] = good.split('.').collect::<Vec<_>>().try_into().unwrap();

    let none = format!("{}.{}.", b64(&json!({"alg": "none", "kid": "es"})), p);
    assert_eq!(
        check(&none, &keys),
        Err(VerifyError::Malformed),
        "alg none, empty signature"
    );
    let none_sig = format!("{}.{}.{}", b64(&json!({"alg": "none", "kid": "es"})), p, s);
    assert_eq!(
        check(&none_sig, &keys),
        Err(VerifyError::Algorithm),
        "alg none"
    );

    // HS256 "signed" with the RSA public key (the classic key-confusion attack).
    let public_pem = serde_json::to_vec(&rsa.jwk).unwrap();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("rsa".into());
    let confused = jsonwebtoken::encode(
        &hs,
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(&public_pem).unwrap(),
    )
    .unwrap();
    assert_eq!(
        check(&confused, &keys),
        Err(VerifyError::Algorithm),
        "HMAC with a public key"
    );

    let mut c = claims();
    c["exp"] = json!(NOW - 31);
    assert_eq!(check(&es.sign(&c), &keys), Err(VerifyError::Expired));
    c["exp"] = json!(NOW - 29);
    assert!(check(&es.sign(&c), &keys).is_ok(), "within leeway");
    let mut c = claims();
    c["nbf"] = json!(NOW + 31);
    assert_eq!(check(&es.sign(&c), &keys), Err(VerifyError::NotYetValid));
    let mut c = claims();
    c["iat"] = json!(NOW + 3600);
    assert_eq!(
        check(&es.sign(&c), &keys),
        Err(VerifyError::NotYetValid),
        "issued in the future"
    );
    let mut c = claims();
    c["iss"] = json!("https://evil.example");
    assert_eq!(check(&es.sign(&c), &keys), Err(VerifyError::Issuer));
    let mut c = claims();
    c["aud"] = json!(["someone-else"]);
    assert_eq!(check(&es.sign(&c), &keys), Err(VerifyError::Audience));
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        check(&es.sign(&c), &keys),
        Err(VerifyError::Claims),
        "exp is required"
    );

    let other = TestKey::generate(Algorithm::ES256, "unknown");
    assert_eq!(
        check(&other.sign(&claims()), &keys),
        Err(VerifyError::UnknownKey)
    );
    for kid in ["../../etc/passwd", "' OR 1=1 --", ""] {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        assert_eq!(
            check(&es.sign_with(header, &claims()), &keys),
            Err(VerifyError::UnknownKey),
            "kid {kid:?}"
        );
    }

    let mut tampered = claims();
    tampered["sub"] = json!("someone-else");
    let forged = format!("{h}.{}.{s}", b64(&tampered));
    assert_eq!(
        check(&forged, &keys),
        Err(VerifyError::Signature),
        "tampered payload"
    );
    let mut sig = URL_SAFE_NO_PAD.decode(s).unwrap();
    sig[10] ^= 1;
    assert_eq!(
        check(&format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(&sig)), &keys),
        Err(VerifyError::Signature)
    );
    let zero = URL_SAFE_NO_PAD.encode([0u8; 64]);
    assert_eq!(
        check(&format!("{h}.{p}.{zero}"), &keys),
        Err(VerifyError::Signature),
        "ECDSA r = s = 0"
    );

    let crit = format!(
        "{}.{p}.{s}",
        b64(&json!({"alg": "ES256", "kid": "es", "crit": ["exp"], "exp": 1}))
    );
    assert_eq!(check(&crit, &keys), Err(VerifyError::Crit));
    // A `jku` pointing elsewhere changes nothing: the key still comes from the provider.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("attacker".into());
    header.jku = Some("https://evil.example/jwks".into());
    assert_eq!(
        check(&other.sign_with(header, &claims()), &keys),
        Err(VerifyError::UnknownKey),
        "jku ignored"
    );

    let huge = format!("{h}.{}.{s}", "A".repeat(64 * 1024));
    assert_eq!(check(&huge, &keys), Err(VerifyError::TooLarge));
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        "!!!.e30.AAAA",
        &format!("{h}.{p}.%%%"),
        &format!("{h}.bm90IGpzb24.{s}"),
    ] {
        assert_eq!(check(bad, &keys), Err(VerifyError::Malformed), "{bad:?}");
    }
}

#[test]
fn a_key_is_only_used_with_its_own_algorithm_family() {
    let rsa = TestKey::generate(Algorithm::RS256, "k");
    let keys = set(&[&rsa]);
    let token = rsa.sign(&claims());
    let inspected = inspect(&token, 8192, &[Algorithm::RS256]).unwrap();
    assert!(keys.find(Some("k"), Algorithm::ES256).is_none());
    assert!(keys.find(Some("k"), inspected.alg).is_some());
    // A JWKS whose only key is symmetric offers nothing.
    let oct = json!({"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}).to_string();
    assert!(KeySet::parse(oct.as_bytes()).is_err());
}
