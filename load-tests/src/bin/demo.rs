//! The local demo: demo upstreams standing for the teleservices (two backends) and an ENT,
//! a development OpenID provider standing for FranceConnect, a development SAML IdP standing
//! for ÉduConnect, then Vigie itself with `config/demo.yaml`. Nothing external is needed.
//!
//! Run it with `cargo run -p vigie-load-tests --bin demo`, then open
//! http://127.0.0.1:8080/teleservices/livret and log in as a demo parent or pupil.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use vigie_load_tests::educonnect::{DevIdp, ServiceProvider};
use vigie_load_tests::franceconnect::{Client, ClientAuth, DevProvider};
use vigie_load_tests::upstream::Upstream;

/// Addresses of the demo upstreams, as `config/demo.yaml` names them.
const UPSTREAMS: &[(&str, &str)] = &[
    ("Téléservices (1)", "127.0.0.1:9101"),
    ("Téléservices (2)", "127.0.0.1:9102"),
    ("ENT de l'académie", "127.0.0.1:9201"),
];

/// Where the development FranceConnect listens (its issuer in `config/demo.yaml`).
const PROVIDER: &str = "127.0.0.1:9301";
/// Where the development ÉduConnect listens (its metadata URL in `config/demo.yaml`).
const EDUCONNECT: &str = "127.0.0.1:9401";

/// The demo's client at the provider, as `config/demo.yaml` names it, for the browser
/// reaching Vigie at either name of the loopback.
fn demo_client(secret: String) -> Client {
    let origins = ["http://127.0.0.1:8080", "http://localhost:8080"];
    Client {
        id: "vigie-demo".into(),
        auth: ClientAuth::Secret(secret),
        redirect_uris: origins
            .iter()
            .map(|o| format!("{o}/vigie/callback/franceconnect"))
            .collect(),
        post_logout_redirect_uris: origins
            .iter()
            .map(|o| format!("{o}/vigie/logged-out"))
            .collect(),
    }
}

fn main() -> ExitCode {
    let config_path = std::env::args().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/demo.yaml"),
        PathBuf::from,
    );
    let config = match vigie::config::load(&config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    config.logging.install();
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    else {
        eprintln!("cannot start the demo upstreams' runtime");
        return ExitCode::FAILURE;
    };
    for (name, addr) in UPSTREAMS {
        let Ok(addr) = addr.parse::<SocketAddr>() else {
            return ExitCode::FAILURE;
        };
        if let Err(e) = runtime.block_on(Upstream::start(name, addr)) {
            eprintln!("cannot start the demo upstream {name} on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let secret_file = config_path.with_file_name("demo-secrets/franceconnect-client-secret");
    let Ok(secret) = std::fs::read_to_string(&secret_file) else {
        eprintln!("cannot read {}", secret_file.display());
        return ExitCode::FAILURE;
    };
    let Ok(provider_addr) = PROVIDER.parse::<SocketAddr>() else {
        return ExitCode::FAILURE;
    };
    let client = demo_client(secret.trim().to_string());
    if let Err(e) = runtime.block_on(DevProvider::start(provider_addr, None, vec![client])) {
        eprintln!("cannot start the demo FranceConnect on {PROVIDER}: {e}");
        return ExitCode::FAILURE;
    }
    let (Ok(idp_addr), Some(sp)) = (
        EDUCONNECT.parse::<SocketAddr>(),
        config.saml.get("educonnect"),
    ) else {
        eprintln!("config/demo.yaml has no SAML provider named educonnect");
        return ExitCode::FAILURE;
    };
    match runtime.block_on(DevIdp::start(idp_addr)) {
        Ok(idp) => idp.register(ServiceProvider {
            entity_id: sp.entity_id.clone(),
            acs_url: sp.acs_url.clone(),
            slo_url: sp.slo_url.clone(),
            signing_cert: sp.signing.cert.clone(),
            encryption_cert: sp.encryption.cert.clone(),
        }),
        Err(e) => {
            eprintln!("cannot start the demo ÉduConnect on {EDUCONNECT}: {e}");
            return ExitCode::FAILURE;
        }
    }
    // Keep the upstreams' runtime alive while Vigie runs on its own runtimes.
    let _upstreams = runtime;
    eprintln!(
        "Vigie demo: open http://127.0.0.1:8080/teleservices/livret and log in as a demo parent or pupil (admin: http://127.0.0.1:9090/metrics); Ctrl-C stops."
    );
    match vigie::server::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot start Vigie: {e}");
            ExitCode::FAILURE
        }
    }
}
