//! The ACS verifier against responses built like a Shibboleth IdP's, and the attack table at
//! the pure level (the same table runs over HTTP in `tests/saml_attacks.rs`).

use std::time::{Duration, Instant};

use vigie_load_tests::saml::{Content, ResponseSpec, RsaIdentity, encrypt_assertion, oid};

use super::*;

const IDP: &str = "https://educonnect.test/idp";
const SP: &str = "https://teleservices.test/vigie/saml/educonnect";
const ACS: &str = "https://teleservices.test/vigie/saml/educonnect/acs";
const NOW: i64 = 1_788_249_600;

struct Env {
    idp: RsaIdentity,
    sp: RsaIdentity,
    idp_keys: Vec<VerifyKey>,
    sp_keys: Vec<DecryptKey>,
}

fn env() -> Env {
    let idp = RsaIdentity::generate("idp");
    let sp = RsaIdentity::generate("sp");
    Env {
        idp_keys: vec![VerifyKey::from_certificate(&idp.cert_der).unwrap()],
        sp_keys: vec![DecryptKey::from_pkcs8(&sp.key_der).unwrap()],
        idp,
        sp,
    }
}

fn spec() -> ResponseSpec {
    let mut s = ResponseSpec::new(IDP, SP, ACS, NOW)
        .attribute(oid::AFFILIATION, "FrEduCtPersonAffiliation", &["eleve2d"])
        .attribute(oid::ID, "FrEduCtId", &["a1b2c3"]);
    s.in_response_to = Some("_req1".into());
    s
}

fn expected() -> Expected<'static> {
    Expected {
        idp_entity_id: IDP,
        sp_entity_id: SP,
        acs_url: ACS,
        in_response_to: Some("_req1"),
        allow_unsolicited: false,
        now: NOW + 2,
        skew: 60,
        max_age: 600,
    }
}

impl Env {
    fn consume(&self, xml: &str, x: &Expected<'_>) -> Result<Login, ResponseError> {
        consume(xml, &self.idp_keys, &self.sp_keys, x)
    }
    fn respond(&self, spec: &ResponseSpec) -> String {
        spec.response(&self.idp, &self.sp.cert_der)
    }
}

#[test]
fn a_shibboleth_like_response_gives_the_login() {
    let env = env();
    for content in [Content::Aes128Gcm, Content::Aes256Gcm] {
        let mut s = spec();
        s.content = Some(content);
        let login = env.consume(&env.respond(&s), &expected()).unwrap();
        assert_eq!(login.assertion_id, s.assertion_id);
        assert_eq!(login.name_id, s.name_id);
        assert_eq!(
            login.session_index.as_deref(),
            Some(s.session_index.as_str())
        );
        assert_eq!(login.valid_until, NOW + 300);
        assert!(login.solicited);
        assert_eq!(login.attributes[oid::AFFILIATION], ["eleve2d"]);
        assert_eq!(login.attributes["FrEduCtId"], ["a1b2c3"]);
    }
    // IdP-initiated, where allowed.
    let mut s = spec();
    s.in_response_to = None;
    let x = Expected {
        allow_unsolicited: true,
        in_response_to: None,
        ..expected()
    };
    assert!(!env.consume(&env.respond(&s), &x).unwrap().solicited);
    assert_eq!(
        env.consume(
            &env.respond(&s),
            &Expected {
                allow_unsolicited: false,
                ..x
            }
        )
        .unwrap_err(),
        ResponseError::Unsolicited
    );
}

#[test]
fn a_cancelled_login_is_a_status() {
    let env = env();
    let mut s = spec();
    s.status = Some("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed".into());
    assert_eq!(
        env.consume(&env.respond(&s), &expected()).unwrap_err(),
        ResponseError::Status(
            "urn:oasis:names:tc:SAML:2.0:status:Responder urn:oasis:names:tc:SAML:2.0:status:AuthnFailed".into()
        )
    );
}

/// Cuts `xml` around the first `<tag` … `</tag>` (the whole element).
fn element<'a>(xml: &'a str, tag: &str) -> &'a str {
    let start = xml.find(&format!("<{tag}")).unwrap();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start + tag.len() + 3;
    &xml[start..end]
}

#[test]
fn the_attack_table_is_refused_with_the_right_reason() {
    let env = env();
    let s = spec();
    let good = env.respond(&s);
    let signature = element(&good, "ds:Signature");
    let encrypted = element(&good, "saml:EncryptedAssertion");
    // The attacker's own assertion, encrypted to our public certificate (anyone can).
    let mut evil_spec = spec();
    evil_spec.sign_assertion = false;
    evil_spec.attributes = vec![(oid::ID.into(), "FrEduCtId".into(), vec!["admin".into()])];
    let evil_plain = evil_spec.assertion(&env.idp);
    let evil_encrypted = encrypt_assertion(&evil_plain, &env.sp.cert_der, Content::Aes128Gcm);
    // A genuine signed assertion in the clear (as sent to an SP that does not encrypt).
    let mut clear = spec();
    clear.content = None;
    let genuine_plain = s.assertion(&env.idp);
    // The attacker's response: the genuine one renamed, carrying the attacker's assertion.
    let evil_root = good
        .replacen(&s.response_id, "_evil", 1)
        .replace(encrypted, &evil_encrypted);
    let unsigned_evil_root = evil_root.replace(signature, "");

    let mut unsigned_response = spec();
    unsigned_response.sign_response = false;
    let mut other_key = spec();
    other_key.sign_response = true;
    let attacker = RsaIdentity::generate("attacker");
    let mut cbc = spec();
    cbc.sign_response = true;
    let cbc_body = encrypt_assertion(&s.assertion(&env.idp), &env.sp.cert_der, Content::Aes128Gcm)
        .replace("xmlenc11#aes128-gcm", "xmlenc#aes128-cbc");
    let rsa15_body =
        encrypt_assertion(&s.assertion(&env.idp), &env.sp.cert_der, Content::Aes128Gcm)
            .replace("rsa-oaep-mgf1p", "rsa-1_5");
    let nested_response = element(&good, "samlp:Response").to_string();

    let cases: Vec<(&str, String, &str)> = vec![
        // SAML Raider's XSW1..8, in the shape ÉduConnect uses (signed Response, encrypted assertion).
        (
            "XSW1 original inside the evil response's signature",
            unsigned_evil_root.replace(
                "<samlp:Status>",
                &format!(
                    "{}<samlp:Status>",
                    signature.replace(
                        "</ds:Signature>",
                        &format!("{nested_response}</ds:Signature>")
                    )
                ),
            ),
            "signature_shape",
        ),
        (
            "XSW2 original before the evil response's signature",
            unsigned_evil_root.replace(
                "<samlp:Status>",
                &format!("{nested_response}{signature}<samlp:Status>"),
            ),
            "signature_reference",
        ),
        (
            "XSW3 evil assertion before the original",
            good.replace(encrypted, &format!("{evil_encrypted}{encrypted}")),
            "digest_mismatch",
        ),
        (
            "XSW4 original wrapped in the evil assertion",
            good.replace(
                encrypted,
                &evil_encrypted.replace(
                    "</saml:EncryptedAssertion>",
                    &format!("{encrypted}</saml:EncryptedAssertion>"),
                ),
            ),
            "digest_mismatch",
        ),
        (
            "XSW5 evil assertion in place of the original",
            good.replace(encrypted, &evil_encrypted),
            "digest_mismatch",
        ),
        (
            "XSW6 genuine clear assertion after the evil one",
            clear.wrap(&format!("{evil_plain}{genuine_plain}"), &env.idp),
            "shape",
        ),
        (
            "XSW7 original moved into Extensions",
            good.replace(
                encrypted,
                &format!("<samlp:Extensions>{encrypted}</samlp:Extensions>{evil_encrypted}"),
            ),
            "digest_mismatch",
        ),
        (
            "XSW8 original inside ds:Object of the signature",
            good.replace(encrypted, &evil_encrypted).replace(
                "</ds:Signature>",
                &format!("<ds:Object>{encrypted}</ds:Object></ds:Signature>"),
            ),
            "signature_shape",
        ),
        (
            "comment inside NameID",
            good.replacen("<saml:Issuer", "<!-- x --><saml:Issuer", 1),
            "xml",
        ),
        (
            "unsigned Response, signed assertion",
            env.respond(&unsigned_response),
            "signature_missing",
        ),
        (
            "signature by another key",
            env_respond_with(&other_key, &attacker, &env.sp),
            "signature_invalid",
        ),
        (
            "KeyInfo carrying the attacker's certificate",
            env_respond_with(&other_key, &attacker, &env.sp)
                .replace(&attacker.cert_base64(), &env.idp.cert_base64()),
            "signature_invalid",
        ),
        (
            "DOCTYPE with an entity",
            format!("<!DOCTYPE r [<!ENTITY e \"x\">]>{good}"),
            "xml",
        ),
        (
            "duplicate IDs",
            good.replace(
                "<samlp:Status>",
                &format!("<samlp:Extensions ID=\"{}\"/><samlp:Status>", s.response_id),
            ),
            "xml",
        ),
        (
            "AES-CBC content",
            cbc.wrap(&cbc_body, &env.idp),
            "encryption_algorithm",
        ),
        (
            "RSA 1.5 key transport",
            cbc.wrap(&rsa15_body, &env.idp),
            "encryption_algorithm",
        ),
        (
            "1 MiB body",
            format!("{}{}", good, " ".repeat(1024 * 1024)),
            "xml",
        ),
    ];
    assert!(cases.len() >= 17);
    for (name, xml, reason) in cases {
        let err = env.consume(&xml, &expected()).unwrap_err();
        assert_eq!(err.reason(), reason, "{name}: {err}");
    }

    // Transforms outside the allowed two are refused before anything runs, fast.
    let xslt = good.replacen(
        "<ds:Transforms>",
        "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/>",
        1,
    );
    let started = Instant::now();
    assert_eq!(
        env.consume(&xslt, &expected()).unwrap_err().reason(),
        "signature_algorithm"
    );
    assert!(
        started.elapsed() < Duration::from_millis(50),
        "{:?}",
        started.elapsed()
    );
}

fn env_respond_with(spec: &ResponseSpec, idp: &RsaIdentity, sp: &RsaIdentity) -> String {
    spec.response(idp, &sp.cert_der)
}

#[test]
fn protocol_checks_refuse_what_is_not_for_us_now() {
    let env = env();
    let x = expected();
    let refused = |spec: &ResponseSpec, x: &Expected<'_>| {
        env.consume(&env.respond(spec), x).unwrap_err().reason()
    };
    let altered = |change: fn(&mut ResponseSpec)| {
        let mut s = spec();
        change(&mut s);
        s
    };
    let cases: [(&str, ResponseSpec, Expected<'_>, &str); 8] = [
        (
            "another audience",
            altered(|s| s.sp_entity_id = "https://other.test".into()),
            x,
            "audience",
        ),
        (
            "another destination",
            altered(|s| s.acs_url = "https://other.test/acs".into()),
            x,
            "destination",
        ),
        (
            "another recipient",
            altered(|s| s.recipient = "https://other.test/acs".into()),
            x,
            "subject_confirmation",
        ),
        (
            "another issuer",
            altered(|s| s.idp_entity_id = "https://evil.test".into()),
            x,
            "issuer",
        ),
        (
            "another request",
            spec(),
            Expected {
                in_response_to: Some("_other"),
                ..x
            },
            "in_response_to",
        ),
        (
            "no request pending",
            spec(),
            Expected {
                in_response_to: None,
                ..x
            },
            "in_response_to",
        ),
        (
            "expired",
            spec(),
            Expected {
                now: NOW + 400,
                ..x
            },
            "time",
        ),
        (
            "not yet valid",
            spec(),
            Expected {
                now: NOW - 120,
                ..x
            },
            "time",
        ),
    ];
    for (name, spec, x, reason) in cases {
        assert_eq!(refused(&spec, &x), reason, "{name}");
    }
}
