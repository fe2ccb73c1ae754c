//! The cost of an ÉduConnect login at the ACS, per core: verify (Response and assertion
//! signatures), decrypt (RSA-OAEP key transport, AES-GCM), the protocol checks, the attribute
//! mapping, the replay cache and the session creation; next to the raw aws-lc-rs costs of one
//! RSA-2048 OAEP decryption and one RSA-2048 PKCS#1 verification, measured in the same run.
//! Run with `cargo bench -p vigie-bench --bench saml`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use criterion::{Criterion, criterion_group, criterion_main};
use vigie::config::file::SamlAttributesSection;
use vigie::saml::attributes::AttributeMap;
use vigie::saml::decrypt::DecryptKey;
use vigie::saml::dsig::VerifyKey;
use vigie::saml::response::{Expected, consume};
use vigie::sessions::{EmbeddedStore, SessionId, SessionRecord, SessionStore, Timeouts};
use vigie_load_tests::saml::{Content, ResponseSpec, RsaIdentity, oid};

// The allocator of the `vigie` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const IDP: &str = "https://educonnect.test/idp";
const SP: &str = "urn:vigie:bench";
const ACS: &str = "https://sp.test/vigie/saml/educonnect/acs";

fn saml(c: &mut Criterion) {
    let (idp, sp) = (RsaIdentity::generate("idp"), RsaIdentity::generate("sp"));
    let now = 1_800_000_000;
    let mut spec = ResponseSpec::new(IDP, SP, ACS, now)
        .attribute(
            oid::ID,
            "FrEduCtId",
            &["e1b2c3d4eleve2d000000000000000000000000000000000001"],
        )
        .attribute(oid::AFFILIATION, "FrEduCtPersonAffiliation", &["eleve2d"])
        .attribute(oid::UAI, "FrEduCtEleveUAI", &["0350001A"])
        .attribute(oid::LEVEL, "FrEduCtEleveNiveau", &["2212"])
        .attribute(
            oid::INE_HASH,
            "FrEduCtEleveINEHash",
            &["0f1e2d3c4b5a69788796a5b4c3d2e1f0"],
        )
        .attribute(oid::BIRTH_DATE, "FrEduCtDateNaissance", &["2011-03-04"])
        .attribute(oid::GIVEN_NAME, "givenName", &["Léa"])
        .attribute(oid::SURNAME, "sn", &["Martin"]);
    spec.in_response_to = Some("_request".into());
    spec.content = Some(Content::Aes128Gcm);
    let xml = spec.response(&idp, &sp.cert_der);
    let idp_keys = [VerifyKey::from_certificate(&idp.cert_der).unwrap()];
    let sp_keys = [DecryptKey::from_pkcs8(&sp.key_der).unwrap()];
    let expected = Expected {
        idp_entity_id: IDP,
        sp_entity_id: SP,
        acs_url: ACS,
        in_response_to: Some("_request"),
        allow_unsolicited: false,
        now: now + 1,
        skew: 60,
        max_age: 600,
    };
    let map = AttributeMap::from_file(&SamlAttributesSection::default());
    let provider: Arc<str> = "educonnect".into();
    let store = EmbeddedStore::new(
        Timeouts {
            idle: Duration::from_secs(1800),
            absolute: Duration::from_secs(43200),
        },
        10_000_000,
    );
    let counter = AtomicU64::new(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("saml");
    // What the ACS does once the Response is verified: identity, replay cache, session.
    let open_session = |login: &vigie::saml::response::Login| {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let identity = map.identity(&provider, login, 0).unwrap().identity;
        runtime.block_on(async {
            let key = format!("saml:educonnect:{}:{n}", login.assertion_id);
            assert!(store.first_use(&key, u64::MAX / 2).await.unwrap());
            let record = SessionRecord {
                identity: Arc::new(identity),
                id_token: None,
                created_at: vigie::sessions::unix_now(),
                saml: None,
            };
            store.create(&SessionId::generate(), record).await.unwrap();
        });
    };
    group.bench_function(
        "acs: verify, decrypt, checks, mapping, replay cache, session",
        |b| {
            b.iter(|| {
                open_session(&consume(black_box(&xml), &idp_keys, &sp_keys, &expected).unwrap())
            })
        },
    );

    // An XSLT transform in the Response's signature: refused before any cryptography.
    let xslt = xml.replacen(
        "<ds:Transforms>",
        "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/>",
        1,
    );
    group.bench_function("acs: a Response with an XSLT transform, refused", |b| {
        b.iter(|| consume(black_box(&xslt), &idp_keys, &sp_keys, &expected).unwrap_err())
    });

    // Where the rest goes: reading and canonicalizing the Response.
    group.bench_function("xml: parse the Response", |b| {
        b.iter(|| vigie::saml::xml::parse(black_box(&xml)).unwrap())
    });
    let parsed = vigie::saml::xml::parse(&xml).unwrap();
    group.bench_function("c14n: the Response", |b| {
        b.iter(|| vigie::saml::c14n::exclusive(black_box(&parsed), None, &[]).len())
    });

    group.bench_function("session: replay cache and creation", |b| {
        let login = consume(&xml, &idp_keys, &sp_keys, &expected).unwrap();
        b.iter(|| open_session(&login))
    });

    // The raw RSA-2048 costs, same keys, same run.
    let private = PrivateDecryptingKey::from_pkcs8(&sp.key_der).unwrap();
    let public = OaepPublicEncryptingKey::new(private.public_key()).unwrap();
    let decrypting = OaepPrivateDecryptingKey::new(private).unwrap();
    let mut wrapped = vec![0u8; public.ciphertext_size()];
    let wrapped = public
        .encrypt(&OAEP_SHA1_MGF1SHA1, &[7u8; 16], &mut wrapped, None)
        .unwrap()
        .to_vec();
    group.bench_function("rsa-2048 oaep decryption", |b| {
        let mut out = vec![0u8; decrypting.min_output_size()];
        b.iter(|| {
            decrypting
                .decrypt(&OAEP_SHA1_MGF1SHA1, black_box(&wrapped), &mut out, None)
                .unwrap()
                .len()
        })
    });
    let message = b"<ds:SignedInfo>...</ds:SignedInfo>";
    let signature = idp.sign(message);
    let (_, cert) = x509_parser::parse_x509_certificate(&idp.cert_der).unwrap();
    let spki = cert
        .tbs_certificate
        .subject_pki
        .subject_public_key
        .data
        .to_vec();
    let verifying = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki).unwrap();
    group.bench_function("rsa-2048 pkcs1 sha-256 verification", |b| {
        b.iter(|| {
            verifying
                .verify_sig(black_box(message), black_box(&signature))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, saml);
criterion_main!(benches);
