//! `xmlsec1` (libxml2 + xmlsec, Debian's) as an oracle: the responses the development
//! ÉduConnect signs and encrypts with Vigie's canonicalizer verify and decrypt with xmlsec1,
//! and a tampered copy fails in both. A canonicalization that differed from libxml2's would
//! show here as a failed verification.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::process::Command;

use support::TempDir;
use vigie::saml::decrypt::DecryptKey;
use vigie::saml::dsig::VerifyKey;
use vigie::saml::response::{Expected, consume};
use vigie_load_tests::saml::{Content, ResponseSpec, RsaIdentity, oid};

const IDP: &str = "https://educonnect.test/idp";
const SP: &str = "urn:vigie:test";
const ACS: &str = "https://sp.test/vigie/saml/educonnect/acs";

/// Runs xmlsec1 with `args`; its success and its stderr.
fn xmlsec1(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("xmlsec1")
        .args(args)
        .output()
        .expect("xmlsec1 is installed by .ci/prepare");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `xmlsec1 --verify` of the element with ID attribute `id_attr` (`ns:Element`) in `file`.
fn verify(cert: &std::path::Path, id_attr: &str, file: &std::path::Path) -> (bool, String) {
    let (ok, _, err) = xmlsec1(&[
        "--verify",
        "--pubkey-cert-pem",
        cert.to_str().unwrap(),
        "--id-attr:ID",
        id_attr,
        file.to_str().unwrap(),
    ]);
    (ok, err)
}

const RESPONSE: &str = "urn:oasis:names:tc:SAML:2.0:protocol:Response";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";

#[test]
fn xmlsec1_agrees_with_vigie_on_signed_and_encrypted_responses() {
    let (idp, sp) = (RsaIdentity::generate("idp"), RsaIdentity::generate("sp"));
    let dir = TempDir::new();
    let idp_pem = dir.write("idp.pem", &idp.cert_pem);
    let sp_key = dir.write("sp.key", &sp.key_pem);
    let now = vigie::sessions::unix_now() as i64;
    for content in [Content::Aes128Gcm, Content::Aes256Gcm] {
        let mut spec = ResponseSpec::new(IDP, SP, ACS, now)
            .attribute(oid::ID, "FrEduCtId", &["f00d"])
            .attribute(oid::AFFILIATION, "FrEduCtPersonAffiliation", &["eleve2d"])
            .attribute(oid::GIVEN_NAME, "givenName", &["Zoé & \"Léa\" <x>"]);
        spec.content = Some(content);
        spec.in_response_to = Some("_req".into());
        let xml = spec.response(&idp, &sp.cert_der);
        let file = dir.write("response.xml", &xml);

        // The Response signature.
        let (ok, err) = verify(&idp_pem, RESPONSE, &file);
        assert!(
            ok && err.contains("OK"),
            "{content:?}: xmlsec1 --verify: {err}"
        );

        // The assertion, decrypted by xmlsec1, and its own signature.
        let (ok, plain, err) = xmlsec1(&[
            "--decrypt",
            "--privkey-pem",
            sp_key.to_str().unwrap(),
            file.to_str().unwrap(),
        ]);
        assert!(ok, "{content:?}: xmlsec1 --decrypt: {err}");
        let start = plain.find("<saml:Assertion").expect("an assertion");
        let end = plain.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
        let assertion = dir.write("assertion.xml", &plain[start..end]);
        let (ok, err) = verify(&idp_pem, ASSERTION, &assertion);
        assert!(
            ok && err.contains("OK"),
            "{content:?}: the assertion: {err}"
        );

        // Vigie accepts the same response.
        let expected = Expected {
            idp_entity_id: IDP,
            sp_entity_id: SP,
            acs_url: ACS,
            in_response_to: Some("_req"),
            allow_unsolicited: false,
            now,
            skew: 60,
            max_age: 600,
        };
        let keys = [VerifyKey::from_certificate(&idp.cert_der).unwrap()];
        let ours = [DecryptKey::from_pkcs8(&sp.key_der).unwrap()];
        let login = consume(&xml, &keys, &ours, &expected).unwrap();
        assert_eq!(login.attributes["givenName"], ["Zoé & \"Léa\" <x>"]);

        // A tampered copy: both refuse.
        let tampered = xml.replacen(ACS, "https://sp.test/vigie/saml/educonnect/acs?x", 1);
        let file = dir.write("tampered.xml", &tampered);
        let (ok, _) = verify(&idp_pem, RESPONSE, &file);
        assert!(!ok, "xmlsec1 refuses the tampered copy");
        assert_eq!(
            consume(&tampered, &keys, &ours, &expected)
                .unwrap_err()
                .reason(),
            "digest_mismatch"
        );
    }
}
