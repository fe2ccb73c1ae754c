//! Logs in N times at a running Vigie through the development FranceConnect (provider `fc`),
//! as N different browsers, and writes the N session cookies to OUT, one `name=value` per
//! line: the distinct sessions of the session-browsing benchmark.
//!
//! `cargo run --release -p vigie-bench --example login_sessions -- BASE ISSUER N OUT`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use vigie_load_tests::browser::{self, Idp, Login};
use vigie_load_tests::scenario::client_address;

/// One login as parent `i` (through the provider's page); the session cookie.
async fn login(http: &reqwest::Client, base: &str, issuer: &str, i: usize) -> String {
    let account = ["parent-martin", "parent-diallo", "parent-nguyen"][i % 3];
    let idp = Idp::FranceConnect { issuer };
    match browser::log_in(http, base, idp, account, &client_address(i as u32), 0).await {
        Login::Done { session, .. } => session,
        other => panic!("login {i}: {other:?}"),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, issuer, n, out] = args.as_slice() else {
        eprintln!("usage: login_sessions BASE ISSUER N OUT");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N is a number");
    let http = browser::client();
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = n.div_ceil(16);
    for t in 0..16 {
        let (http, base, issuer) = (http.clone(), base.clone(), issuer.clone());
        tasks.spawn(async move {
            let mut cookies = Vec::new();
            for i in (t * per_task)..((t + 1) * per_task).min(n) {
                cookies.push(login(&http, &base, &issuer, i).await);
            }
            cookies
        });
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    let mut count = 0;
    while let Some(cookies) = tasks.join_next().await {
        for c in cookies.unwrap() {
            writeln!(file, "{c}").unwrap();
            count += 1;
        }
    }
    file.flush().unwrap();
    eprintln!("{count} sessions in {out}");
}
