//! Runs the development FranceConnect (`vigie_load_tests::franceconnect`) for the session
//! benchmark, until killed: client `bench` (secret `bench-secret`) calling back to
//! `BASE/vigie/callback/fc`.
//!
//! `cargo run --release -p vigie-bench --example dev_provider -- ADDR BASE`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use vigie_load_tests::franceconnect::{Client, ClientAuth, DevProvider};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, base] = args.as_slice() else {
        eprintln!("usage: dev_provider ADDR BASE");
        std::process::exit(2);
    };
    let client = Client {
        id: "bench".into(),
        auth: ClientAuth::Secret("bench-secret".into()),
        redirect_uris: vec![format!("{base}/vigie/callback/fc")],
        post_logout_redirect_uris: vec![format!("{base}/vigie/logged-out")],
    };
    let provider = DevProvider::start(addr.parse().expect("ADDR"), None, vec![client])
        .await
        .expect("provider");
    eprintln!("development provider at {}", provider.issuer);
    std::future::pending::<()>().await;
}
