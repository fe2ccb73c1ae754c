//! Logs in N times at a running Vigie through the development FranceConnect (provider `fc`),
//! as N different browsers, and writes the N session cookies to OUT, one `name=value` per
//! line: the distinct sessions of the session-browsing benchmark.
//!
//! `cargo run --release -p vigie-bench --example login_sessions -- BASE ISSUER N OUT`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// One login: Vigie's redirect to the provider, the provider's form answered for a demo
/// parent, the callback; returns the session cookie.
async fn login(http: &reqwest::Client, base: &str, issuer: &str, i: usize) -> String {
    let start = http
        .get(format!("{base}/vigie/login/fc?return_to=%2F"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303, "login start");
    let cookie = |resp: &reqwest::Response, name: &str| {
        resp.headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(name))
            .and_then(|v| v.split(';').next())
            .map(str::to_string)
    };
    let login_cookie = cookie(&start, "__Host-vigie_login=").expect("login cookie");
    let authorize = start.headers()[LOCATION].to_str().unwrap().to_string();
    // The provider's login page posts back exactly the authorization request's parameters.
    let query = authorize.split_once('?').map_or("", |(_, q)| q);
    let account = ["parent-martin", "parent-diallo", "parent-nguyen"][i % 3];
    let form = format!("{query}&account={account}&action=login");
    let answer = http
        .post(format!("{issuer}/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    let callback = answer.headers()[LOCATION].to_str().unwrap().to_string();
    let done = http
        .get(&callback)
        .header(COOKIE, login_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303, "login callback");
    cookie(&done, "__Host-vigie_session=").expect("session cookie")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, issuer, n, out] = args.as_slice() else {
        eprintln!("usage: login_sessions BASE ISSUER N OUT");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N is a number");
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
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
