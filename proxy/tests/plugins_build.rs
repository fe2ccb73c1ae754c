//! The `plugins/` workspace (académie plugins and their helper crate, its own workspace):
//! its native tests pass, and every plugin builds for `wasm32-wasip1` into a module Vigie
//! loads (ABI 0.2.1, memory, allocator, only imports the host provides). Running the modules
//! is the host's tests' job.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use vigie::plugins::abi::AbiVersion;
use vigie::plugins::module::PluginModule;

/// The plugin crates' modules (crate names with `_`).
const PLUGINS: &[&str] = &[
    "uai_allowlist",
    "maintenance_window",
    "children_only",
    "campaign_window",
    "directory_check",
    "conformance_hello_world",
    "conformance_http_headers",
    "conformance_http_auth_random",
    "conformance_http_body",
    "conformance_http_config",
];

fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins")
}

/// Runs `cargo ARGS` in `plugins/` with its own target folder under this test's tmp dir.
fn cargo(args: &[&str]) -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugins");
    let out = Command::new(env!("CARGO"))
        .args(args)
        .arg("--target-dir")
        .arg(&target)
        .current_dir(plugins_dir())
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} in plugins/ failed (is the wasm32-wasip1 target installed? .ci/prepare adds it):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    target
}

#[test]
fn plugins_pass_their_tests_and_build_for_wasm32_wasip1() {
    cargo(&["test", "--quiet"]);
    let target = cargo(&["build", "--release", "--target", "wasm32-wasip1"]);
    let engine = wasmtime::Engine::default();
    for plugin in PLUGINS {
        let path = target.join(format!("wasm32-wasip1/release/{plugin}.wasm"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let module = PluginModule::compile(&engine, &bytes)
            .unwrap_or_else(|e| panic!("{plugin} does not load in Vigie: {e}"));
        assert_eq!(module.abi, AbiVersion::V0_2_1, "{plugin}");
        assert_eq!(module.allocator, "proxy_on_memory_allocate", "{plugin}");
        assert_eq!(module.init, Some("_initialize"), "{plugin}: a WASI reactor");
    }
}
