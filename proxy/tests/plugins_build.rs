//! The `plugins/` workspace (académie plugins and their helper crate, its own workspace):
//! its native tests pass, and every plugin builds for `wasm32-wasip1` into a module Vigie
//! loads (ABI 0.2.1, memory, allocator, only imports the host provides). Running the modules
//! is the host's tests' job.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

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
    "conformance_hostcalls",
];

#[test]
fn plugins_pass_their_tests_and_build_for_wasm32_wasip1() {
    support::plugins_cargo(&["test", "--quiet"]);
    let engine = wasmtime::Engine::default();
    for plugin in PLUGINS {
        let path = support::plugin_wasm(plugin);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let module = PluginModule::compile(&engine, &bytes)
            .unwrap_or_else(|e| panic!("{plugin} does not load in Vigie: {e}"));
        assert_eq!(module.abi, AbiVersion::V0_2_1, "{plugin}");
        assert_eq!(module.allocator, "proxy_on_memory_allocate", "{plugin}");
        assert_eq!(module.init, Some("_initialize"), "{plugin}: a WASI reactor");
    }
}
