//! The attack table over HTTP, every variant built here from a genuine pysaml2 Response
//! (pysaml2's own layout: `ns0:Response`, `ns2:Signature`, prefixes redeclared inside the
//! EncryptedData). Each is posted to the ACS by the browser whose login it answers; each is
//! refused with its reason counted and no session made, then the genuine Response still
//! logs that browser in.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use support::{IDP_ENTITY, TempDir, attr_after, hidden_fields, plain_browser, upstream};
use vigie_load_tests::saml::{
    Content, ResponseSpec, RsaIdentity, encrypt_assertion, oid, sign_enveloped, strip_signature,
};

/// The first element `<P:local ...>...</P:local>` of `xml`, whatever its prefix `P`.
fn element<'a>(xml: &'a str, local: &str) -> &'a str {
    let open = format!(":{local}");
    let start = xml
        .find(&format!("{open} "))
        .or_else(|| xml.find(&format!("{open}>")))
        .unwrap();
    let start = xml[..start].rfind('<').unwrap();
    let prefix = &xml[start + 1..xml[start..].find(':').unwrap() + start];
    let close = format!("</{prefix}:{local}>");
    let end = xml[start..].find(&close).unwrap() + start + close.len();
    &xml[start..end]
}

/// The assertion inside `response`, decrypted by xmlsec1 with the SP key `sp_key`.
fn decrypt_with_xmlsec1(response: &str, sp_key: &std::path::Path) -> String {
    let dir = TempDir::new();
    let file = dir.write("r.xml", response);
    let out = Command::new("xmlsec1")
        .args([
            "--decrypt",
            "--privkey-pem",
            sp_key.to_str().unwrap(),
            file.to_str().unwrap(),
        ])
        .output()
        .expect("xmlsec1");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    element(&String::from_utf8(out.stdout).unwrap(), "Assertion").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_built_from_pysaml2_responses_are_refused_over_http() {
    let up = upstream("teleservices").await;
    let (idp, site) = support::pysaml2_site(up.addr).await;
    let acs = format!("{}/vigie/saml/educonnect/acs", site.base);
    let idp_key = RsaIdentity::from_pem(
        &std::fs::read_to_string(idp.key()).unwrap(),
        &std::fs::read_to_string(idp.cert()).unwrap(),
    );
    let attacker = RsaIdentity::generate("attacker");

    // Browser B starts a login; the IdP's page holds the genuine Response for B.
    let b = plain_browser();
    let page = b
        .get(format!(
            "{}/vigie/login/educonnect?return_to=%2Flivret",
            site.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fields = hidden_fields(&page);
    let genuine_b64 = &fields.iter().find(|(k, _)| k == "SAMLResponse").unwrap().1;
    let good = String::from_utf8(STANDARD.decode(genuine_b64).unwrap()).unwrap();
    let response_id = attr_after(&good, ":Response", "ID").unwrap();
    let signature = element(&good, "Signature");
    let encrypted = element(&good, "EncryptedAssertion");
    let issuer_end = "</ns1:Issuer>";
    assert!(good.contains(issuer_end), "pysaml2's layout");

    // The genuine assertion in the clear (as the SP decrypts it) and the attacker's own.
    let plain = decrypt_with_xmlsec1(&good, &site.enc_key);
    let assertion_id = attr_after(&plain, ":Assertion", "ID").unwrap();
    let now = vigie::sessions::unix_now() as i64;
    let mut evil = ResponseSpec::new(
        IDP_ENTITY,
        &format!("{}/vigie/saml/educonnect", site.base),
        &acs,
        now,
    )
    .attribute(oid::ID, "FrEduCtId", &["admin"])
    .attribute(oid::AFFILIATION, "FrEduCtPersonAffiliation", &["resp2d"]);
    evil.sign_assertion = false;
    evil.in_response_to = attr_after(&good, ":Response", "InResponseTo");
    let evil_plain = evil.assertion(&attacker);
    let evil_encrypted = encrypt_assertion(&evil_plain, &site.enc.cert_der, Content::Aes128Gcm)
        .replace(
            "<saml:EncryptedAssertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">",
            "<ns1:EncryptedAssertion>",
        )
        .replace("</saml:EncryptedAssertion>", "</ns1:EncryptedAssertion>");
    // The Response re-signed by the IdP's key after a change (an IdP configured wrongly, or
    // a check that must hold even when the outer signature does).
    let resign =
        |xml: &str| sign_enveloped(&strip_signature(xml), &response_id, issuer_end, &idp_key);
    // The assertion changed, re-signed by the IdP, re-encrypted to us, in a re-signed Response.
    let with_assertion = |change: &dyn Fn(&str) -> String| {
        let changed = change(&strip_signature(&plain));
        let signed = sign_enveloped(&changed, &assertion_id, "Issuer>", &idp_key);
        let inner = encrypt_assertion(&signed, &site.enc.cert_der, Content::Aes256Gcm)
            .replace(
                "<saml:EncryptedAssertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">",
                "<ns1:EncryptedAssertion>",
            )
            .replace("</saml:EncryptedAssertion>", "</ns1:EncryptedAssertion>");
        resign(&good.replace(encrypted, &inner))
    };
    let evil_root = good
        .replacen(&response_id, "_evil", 1)
        .replace(encrypted, &evil_encrypted);
    let unsigned_evil_root = evil_root.replace(signature, "");
    // The copy the attacker places keeps no Id, or the duplicate would be refused first.
    let signature_copy = signature.replacen(" Id=\"Signature1\"", "", 1);
    let signature = signature_copy.as_str();
    let name_id = element(&plain, "NameID").to_string();
    let commented = name_id.replacen('>', "><!---->", 1);

    let cases: Vec<(&str, String, &str)> = vec![
        ("XSW1 genuine Response inside the evil one's Signature", unsigned_evil_root.replacen(issuer_end, &format!("{issuer_end}{}", signature.replace("</ns2:Signature>", &format!("{good}</ns2:Signature>").replace("<?xml version=\"1.0\"?>", ""))), 1), "signature_shape"),
        ("XSW2 genuine Response beside the evil one's Signature", unsigned_evil_root.replacen(issuer_end, &format!("{issuer_end}{}{signature}", good.replace("<?xml version=\"1.0\"?>", "")), 1), "signature_reference"),
        ("XSW3 evil assertion before the genuine one", good.replace(encrypted, &format!("{evil_encrypted}{encrypted}")), "digest_mismatch"),
        ("XSW4 genuine assertion inside the evil one", good.replace(encrypted, &evil_encrypted.replace("</ns1:EncryptedAssertion>", &format!("{encrypted}</ns1:EncryptedAssertion>"))), "digest_mismatch"),
        ("XSW5 evil assertion instead of the genuine one", good.replace(encrypted, &evil_encrypted), "digest_mismatch"),
        ("XSW6 evil assertion in the clear beside the genuine one", good.replace(encrypted, &format!("{encrypted}{evil_plain}")), "shape"),
        ("XSW7 genuine assertion moved into Extensions", good.replace(encrypted, &format!("<ns0:Extensions>{encrypted}</ns0:Extensions>{evil_encrypted}")), "digest_mismatch"),
        ("XSW8 genuine assertion inside ds:Object", good.replace(encrypted, &evil_encrypted).replace("</ns2:Signature>", &format!("<ns2:Object>{encrypted}</ns2:Object></ns2:Signature>")), "signature_shape"),
        ("comment inside NameID, both signatures valid", with_assertion(&|a| a.replace(&name_id, &commented)), "xml"),
        ("unsigned Response, signed assertion", strip_signature(&good), "signature_missing"),
        ("Response signed by another key", sign_enveloped(&strip_signature(&good), &response_id, issuer_end, &attacker), "signature_invalid"),
        ("KeyInfo carrying the attacker's certificate, evil assertion",
            sign_enveloped(
                &strip_signature(&good.replace(encrypted, &evil_encrypted)),
                &response_id,
                issuer_end,
                &attacker,
            ),
            "signature_invalid"),
        ("XSLT transform", good.replacen("<ns2:Transforms>", "<ns2:Transforms><ns2:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/>", 1), "signature_algorithm"),
        ("XPath transform", good.replacen("<ns2:Transforms>", "<ns2:Transforms><ns2:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ns2:XPath>1</ns2:XPath></ns2:Transform>", 1), "signature_algorithm"),
        ("DOCTYPE with entity expansion", good.replace("<?xml version=\"1.0\"?>", "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>"), "xml"),
        ("duplicate IDs", good.replacen("<ns0:Status>", &format!("<ns0:Extensions ID=\"{response_id}\"/><ns0:Status>"), 1), "xml"),
        ("wrong Destination", resign(&good.replacen(&format!("Destination=\"{acs}\""), "Destination=\"https://evil.test/acs\"", 1)), "destination"),
        ("wrong Audience", with_assertion(&|a| a.replace(&format!(">{}/vigie/saml/educonnect<", site.base), ">https://evil.test/sp<")), "audience"),
        ("wrong Recipient", with_assertion(&|a| a.replace(&format!("Recipient=\"{acs}\""), "Recipient=\"https://evil.test/acs\"")), "subject_confirmation"),
        ("expired assertion", with_assertion(&|a| {
            let until = attr_after(a, ":Conditions", "NotOnOrAfter").unwrap();
            a.replace(&until, "2020-01-01T00:00:00Z")
        }), "time"),
        ("AES-CBC content", resign(&good.replace("xmlenc11#aes128-gcm", "xmlenc#aes128-cbc")), "encryption_algorithm"),
        ("RSA 1.5 key transport", resign(&good.replace("xmlenc#rsa-oaep-mgf1p", "xmlenc#rsa-1_5")), "encryption_algorithm"),
    ];
    for (name, xml, reason) in cases {
        let before = site.vigie.metric(&format!(
            "vigie_logins_total{{provider=\"educonnect\",result=\"{reason}\"}}"
        ));
        let resp = b
            .post(&acs)
            .header("accept", "text/html")
            .form(&[("SAMLResponse", STANDARD.encode(&xml))])
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert!(
            resp.url().path().starts_with("/vigie/"),
            "{name}: no redirect to the service"
        );
        let page = resp.text().await.unwrap();
        assert!((400..500).contains(&status), "{name}: {status}");
        assert!(
            !page.contains("admin") && !page.contains("Assertion"),
            "{name}: nothing of the XML in the page"
        );
        let after = site.vigie.metric(&format!(
            "vigie_logins_total{{provider=\"educonnect\",result=\"{reason}\"}}"
        ));
        assert_eq!(after, before + 1.0, "{name}: refused as {reason}");
    }
    // 1 MiB: refused before it is read.
    let big = b
        .post(&acs)
        .form(&[("SAMLResponse", "A".repeat(1024 * 1024))])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    // No session came of any of it; the genuine Response still logs B in.
    let resp = b
        .post(&acs)
        .form(&[("SAMLResponse", genuine_b64.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.url().path(), "/livret");
    assert_eq!(
        site.vigie
            .metric("vigie_logins_total{provider=\"educonnect\",result=\"success\"}"),
        1.0
    );
}
