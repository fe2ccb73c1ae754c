//! A bounded fuzzing run of the ACS parser (`fuzz/fuzz_targets/acs.rs`) with cargo-fuzz
//! (libFuzzer, AddressSanitizer), seeded with Responses shaped like ÉduConnect's. Needs the
//! nightly toolchain and cargo-fuzz, which `.ci/prepare` installs. `VIGIE_FUZZ_SECONDS`
//! sets the run's length (default 60).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::Command;

use vigie_load_tests::saml::{Content, ResponseSpec, RsaIdentity, oid};

#[test]
fn the_acs_parser_survives_a_bounded_fuzzing_run() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz");
    let (corpus, artifacts) = (work.join("corpus"), work.join("artifacts"));
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::create_dir_all(&artifacts).unwrap();

    // Seeds: a whole Response, its assertion in the clear, and a failure status.
    let (idp, sp) = (RsaIdentity::generate("idp"), RsaIdentity::generate("sp"));
    let mut spec = ResponseSpec::new(
        "https://idp.test/idp",
        "urn:vigie:fuzz",
        "https://sp.test/vigie/saml/educonnect/acs",
        1_800_000_000,
    )
    .attribute(oid::ID, "FrEduCtId", &["f00d"])
    .attribute(oid::AFFILIATION, "FrEduCtPersonAffiliation", &["eleve2d"]);
    spec.in_response_to = Some("_request".into());
    spec.content = Some(Content::Aes128Gcm);
    std::fs::write(corpus.join("response"), spec.response(&idp, &sp.cert_der)).unwrap();
    std::fs::write(corpus.join("assertion"), spec.assertion(&idp)).unwrap();
    spec.status = Some("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed".into());
    std::fs::write(corpus.join("status"), spec.response(&idp, &sp.cert_der)).unwrap();

    let seconds = std::env::var("VIGIE_FUZZ_SECONDS").unwrap_or_else(|_| "60".into());
    let out = Command::new("cargo")
        .args(["+nightly", "fuzz", "run", "--fuzz-dir"])
        .arg(manifest.join("fuzz"))
        .arg("acs")
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-rss_limit_mb=2048")
        .arg("-max_len=65536")
        .current_dir(manifest)
        .env("CARGO_TARGET_DIR", work.join("target"))
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .output()
        .expect("cargo-fuzz and the nightly toolchain (installed by .ci/prepare)");
    let log = String::from_utf8_lossy(&out.stderr);
    let tail: String = log
        .lines()
        .rev()
        .take(30)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        out.status.success(),
        "the fuzzer found a failure (see {}):\n{tail}",
        artifacts.display()
    );
    assert!(log.contains("Done"), "the run did not complete:\n{tail}");
}
