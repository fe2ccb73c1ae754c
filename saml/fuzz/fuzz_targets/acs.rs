//! Fuzzes what an unauthenticated POST to the ACS reaches: the XML reader, exclusive
//! canonicalization, the signature and encryption shape checks, the Response pipeline and
//! the HTTP-Redirect binding. Run by `saml/tests/fuzz.rs` for a bounded time in CI.
//!
//! Properties: nothing panics or hangs; the canonical form of any accepted document parses
//! back (unless it outgrows the reader's limits) to the same canonical form.

#![no_main]

use std::sync::OnceLock;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeySize, PrivateDecryptingKey};
use libfuzzer_sys::fuzz_target;
use vigie_saml::decrypt::{self, DecryptKey};
use vigie_saml::response::{self, Expected};
use vigie_saml::xml::{self, XmlError};
use vigie_saml::{c14n, dsig, redirect};

fn key() -> &'static DecryptKey {
    static KEY: OnceLock<DecryptKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).expect("rsa key");
        let der = AsDer::<Pkcs8V1Der>::as_der(&key).expect("pkcs8");
        DecryptKey::from_pkcs8(der.as_ref()).expect("decrypt key")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(root) = xml::parse(text) {
        let canonical = c14n::exclusive(&root, None, &[]);
        match xml::parse(&canonical) {
            Ok(again) => assert_eq!(c14n::exclusive(&again, None, &[]), canonical),
            Err(XmlError::TooLarge(..) | XmlError::TooManyNamespaces(_)) => {}
            Err(e) => panic!("canonical bytes do not parse: {e}"),
        }
        let _ = dsig::verify(&root, &[]);
        let _ = decrypt::assertion(&root, std::slice::from_ref(key()));
    }
    let expected = Expected {
        idp_entity_id: "https://idp.test/idp",
        sp_entity_id: "urn:vigie:fuzz",
        acs_url: "https://sp.test/vigie/saml/educonnect/acs",
        in_response_to: Some("_request"),
        allow_unsolicited: true,
        now: 1_800_000_000,
        skew: 60,
        max_age: 600,
    };
    let _ = response::consume(text, &[], std::slice::from_ref(key()), &expected);
    let _ = redirect::verify(redirect::Kind::Request, text, &[]);
});
