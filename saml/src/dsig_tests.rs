use std::time::{Duration, Instant};

use vigie_load_tests::saml::{Content, RsaIdentity, encrypt_assertion, sign_enveloped};

use super::*;
use crate::decrypt::{self, DecryptError, DecryptKey};
use crate::ns::{ASSERTION, PROTOCOL};

const DOC: &str = concat!(
    r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
    r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0">"#,
    "\n  <saml:Issuer>https://idp.test</saml:Issuer>\n",
    r#"  <saml:Assertion ID="_a1"><saml:Issuer>https://idp.test</saml:Issuer>"#,
    "<saml:Subject><saml:NameID>eleve-1234</saml:NameID></saml:Subject></saml:Assertion>\n",
    "</samlp:Response>"
);

fn key_of(id: &RsaIdentity) -> VerifyKey {
    VerifyKey::from_certificate(&id.cert_der).unwrap()
}

fn name_id(e: &Element) -> String {
    e.child(ASSERTION, "Assertion")
        .and_then(|a| a.child(ASSERTION, "Subject"))
        .and_then(|s| s.child(ASSERTION, "NameID"))
        .map(Element::text)
        .unwrap()
}

#[test]
fn a_signed_element_verifies_and_is_read_from_the_digested_bytes() {
    let idp = RsaIdentity::generate("idp");
    let signed = sign_enveloped(DOC, "_r1", "</saml:Issuer>", &idp);
    let root = xml::parse(&signed).unwrap();
    let verified = verify(
        &root,
        &[key_of(&RsaIdentity::generate("old")), key_of(&idp)],
    )
    .unwrap();
    assert!(verified.is(PROTOCOL, "Response"));
    assert!(
        verified.child(DSIG, "Signature").is_none(),
        "the signature is left out"
    );
    assert_eq!(name_id(&verified), "eleve-1234");
}

#[test]
fn tampering_and_foreign_keys_are_refused() {
    let idp = RsaIdentity::generate("idp");
    let keys = [key_of(&idp)];
    let signed = sign_enveloped(DOC, "_r1", "</saml:Issuer>", &idp);
    let check = |doc: &str| verify(&xml::parse(doc).unwrap(), &keys).unwrap_err();

    assert_eq!(
        check(&signed.replace("eleve-1234", "admin")),
        DsigError::Digest
    );
    assert_eq!(check(DOC), DsigError::Missing);
    let other = sign_enveloped(DOC, "_r1", "</saml:Issuer>", &RsaIdentity::generate("evil"));
    assert_eq!(check(&other), DsigError::BadSignature);
    // A signed SignedInfo edited to point elsewhere no longer verifies.
    let elsewhere = signed.replace("URI=\"#_r1\"", "URI=\"#_a1\"");
    assert_eq!(check(&elsewhere), DsigError::BadSignature);
    // The right signature moved onto another element: its reference is not that element.
    let moved = sign_enveloped(DOC, "_a1", "</saml:Issuer>", &idp);
    let root = xml::parse(&moved).unwrap();
    assert_eq!(verify(&root, &keys).unwrap_err(), DsigError::Missing);
    let sig_start = moved.find("<ds:Signature").unwrap();
    let sig_end = moved.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let signature = &moved[sig_start..sig_end];
    let transplanted = DOC.replace("</saml:Issuer>\n", &format!("</saml:Issuer>{signature}\n"));
    assert_eq!(check(&transplanted), DsigError::Reference);
    // Two signatures.
    let block = &signed
        [signed.find("<ds:Signature").unwrap()..signed.find("</ds:Signature>").unwrap() + 15];
    let twice = signed.replacen(block, &format!("{block}{block}"), 1);
    assert_eq!(check(&twice), DsigError::Several);
}

#[test]
fn dangerous_transforms_are_refused_before_anything_runs() {
    let idp = RsaIdentity::generate("idp");
    let keys = [key_of(&idp)];
    let signed = sign_enveloped(DOC, "_r1", "</saml:Issuer>", &idp);
    let xslt = format!(
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\">{}</ds:Transform>",
        "<xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\">\
         <xsl:template match=\"/\"><xsl:message>ran</xsl:message></xsl:template></xsl:stylesheet>"
    );
    let xpath = "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\">\
                 <ds:XPath>count(//. | //@* | //namespace::*)</ds:XPath></ds:Transform>";
    for (name, transform) in [("xslt", xslt.as_str()), ("xpath", xpath)] {
        let doc = signed.replace("<ds:Transforms>", &format!("<ds:Transforms>{transform}"));
        let root = xml::parse(&doc).unwrap();
        // Refused before the signature step: with no key at all, a check that came after it
        // would answer BadSignature. (No transform engine exists to run anything.)
        assert!(
            matches!(verify(&root, &[]), Err(DsigError::Algorithm(_))),
            "{name}"
        );
        // Whatever the nesting, the refusal takes no time worth measuring here (criterion
        // measures it: `cargo bench -p vigie-bench --bench saml`); the bound only guards
        // against the exponential costs XSLT reached elsewhere (SAML.md §2.4).
        let started = Instant::now();
        let err = verify(&root, &keys).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "{name}: {:?}",
            started.elapsed()
        );
        assert!(matches!(err, DsigError::Algorithm(_)), "{name}: {err:?}");
    }
    for (what, from, to) in [
        ("sha1 digest", "xmlenc#sha256", "xmldsig#sha1"),
        ("rsa-sha1", "xmldsig-more#rsa-sha256", "xmldsig#rsa-sha1"),
        (
            "inclusive c14n",
            "CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#",
            "CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        ),
    ] {
        assert!(signed.contains(from), "{what}");
        let doc = signed.replacen(from, to, 1);
        let err = verify(&xml::parse(&doc).unwrap(), &keys).unwrap_err();
        assert!(matches!(err, DsigError::Algorithm(_)), "{what}: {err:?}");
    }
    let object = signed.replace("</ds:Signature>", "<ds:Object>x</ds:Object></ds:Signature>");
    assert!(matches!(
        verify(&xml::parse(&object).unwrap(), &keys),
        Err(DsigError::Shape(_))
    ));
}

#[test]
fn an_encrypted_assertion_decrypts_with_our_key_only_with_gcm_and_oaep() {
    let sp = RsaIdentity::generate("sp");
    let ours = [
        DecryptKey::from_pkcs8(&RsaIdentity::generate("old").key_der).unwrap(),
        DecryptKey::from_pkcs8(&sp.key_der).unwrap(),
    ];
    let assertion = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"><saml:Issuer>i</saml:Issuer></saml:Assertion>"#;
    for content in [Content::Aes128Gcm, Content::Aes256Gcm] {
        let encrypted = encrypt_assertion(assertion, &sp.cert_der, content);
        let e = xml::parse(&encrypted).unwrap();
        let plain = decrypt::assertion(&e, &ours).unwrap();
        assert!(plain.is(ASSERTION, "Assertion"));
        assert_eq!(plain.attr("ID"), Some("_a"));
        let stranger = [DecryptKey::from_pkcs8(&RsaIdentity::generate("x").key_der).unwrap()];
        assert_eq!(
            decrypt::assertion(&e, &stranger).unwrap_err(),
            DecryptError::Key
        );
    }
    let encrypted = encrypt_assertion(assertion, &sp.cert_der, Content::Aes128Gcm);
    let refused = |doc: String| decrypt::assertion(&xml::parse(&doc).unwrap(), &ours).unwrap_err();
    assert!(matches!(
        refused(encrypted.replace("xmlenc11#aes128-gcm", "xmlenc#aes128-cbc")),
        DecryptError::Algorithm(_)
    ));
    assert!(matches!(
        refused(encrypted.replace("rsa-oaep-mgf1p", "rsa-1_5")),
        DecryptError::Algorithm(_)
    ));
    // A flipped bit in the ciphertext: GCM authentication fails.
    let marker = "</xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>";
    let at = encrypted.find(marker).unwrap() + marker.len() + 30;
    let mut bytes = encrypted.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        refused(String::from_utf8(bytes).unwrap()),
        DecryptError::Content
    );
}
