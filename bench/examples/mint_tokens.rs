//! Writes what the JWT benchmark needs into a folder: `tokens.txt` (N distinct valid ES256
//! tokens, one per line), `jwks.json` (the public key as a JWKS) and `public.pem` (the same
//! key as PEM, for HAProxy). The key is generated on the spot and never kept.
//!
//! `cargo run --release -p vigie-bench --example mint_tokens -- DIR N ISSUER AUDIENCE`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;

use jsonwebtoken::Algorithm;
use vigie_load_tests::keys::{TestKey, jwks, now};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, n, issuer, audience] = args.as_slice() else {
        eprintln!("usage: mint_tokens DIR N ISSUER AUDIENCE");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let n: usize = n.parse().expect("N is a number");
    let key = TestKey::generate(Algorithm::ES256, "bench-1");
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("tokens.txt")).unwrap());
    for i in 0..n {
        let claims = serde_json::json!({
            "iss": issuer, "aud": audience, "sub": format!("user-{i}"), "iat": now(), "exp": now() + 86_400,
        });
        writeln!(out, "{}", key.sign(&claims)).unwrap();
    }
    out.flush().unwrap();
    std::fs::write(dir.join("jwks.json"), jwks(&[&key])).unwrap();
    let public = rcgen::KeyPair::from_pem(&key.pem).unwrap().public_key_pem();
    std::fs::write(dir.join("public.pem"), public).unwrap();
}
