//! Token verification, measured alone: cold (a signature check per algorithm) and cached
//! (the verified-token cache: a SHA-256 and a lookup). Run with `cargo bench -p vigie-bench --bench tokens`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::Algorithm;
use vigie::auth::keys::KeySet;
use vigie::auth::token_cache::{self, TokenCache};
use vigie::auth::verify::{self, Rules};
use vigie::auth::{ClaimMapping, Identity};
use vigie::metrics::Metrics;
use vigie_load_tests::keys::{TestKey, jwks, now};

fn rules(alg: Algorithm) -> Rules {
    Rules {
        issuer: "https://idp.example".into(),
        audiences: vec!["vigie".into()],
        algorithms: vec![alg],
        leeway: 30,
        max_size: 8192,
    }
}

fn tokens(c: &mut Criterion) {
    let claims = serde_json::json!({
        "iss": "https://idp.example", "aud": "vigie", "sub": "parent-42", "exp": now() + 3600,
        "acr": "eidas1", "name": "Léa Martin",
    });
    for alg in [
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::EdDSA,
    ] {
        let key = TestKey::generate(alg, "k");
        let keys = KeySet::parse(jwks(&[&key]).as_bytes()).unwrap();
        let token = key.sign(&claims);
        let rules = rules(alg);
        c.bench_function(
            &format!("verify cold {alg:?} (inspect, key lookup, signature, claims)"),
            |b| {
                b.iter(|| {
                    let inspected =
                        verify::inspect(black_box(&token), 8192, &rules.algorithms).unwrap();
                    let decoding = keys.find(inspected.kid.as_deref(), inspected.alg).unwrap();
                    verify::verify(&token, &inspected, decoding, &rules, now()).unwrap()
                })
            },
        );
    }

    let key = TestKey::generate(Algorithm::ES256, "k");
    let token = key.sign(&claims);
    let metrics = Metrics::new().unwrap();
    let cache = TokenCache::new(
        true,
        64 << 20,
        std::time::Duration::from_secs(300),
        metrics.token_cache_counters(),
    );
    let provider: std::sync::Arc<str> = "idp".into();
    let identity: Identity = ClaimMapping::from_default_claims()
        .identity(&provider, claims.as_object().unwrap())
        .unwrap();
    cache.insert(token_cache::key_of(&token), std::sync::Arc::new(identity));
    c.bench_function(
        "verify cached ES256 (SHA-256 of the token and a cache hit)",
        |b| {
            b.iter(|| {
                cache
                    .get(&token_cache::key_of(black_box(&token)), now())
                    .unwrap()
            })
        },
    );
}

criterion_group!(benches, tokens);
criterion_main!(benches);
