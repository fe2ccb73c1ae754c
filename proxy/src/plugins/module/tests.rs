#![allow(clippy::unwrap_used, clippy::expect_used)]

//! What a module must be to load, with hand-written modules (WAT) for each way to fail.

use super::*;

fn compile(wat: &str) -> Result<PluginModule, ModuleError> {
    PluginModule::compile(&Engine::default(), wat.as_bytes())
}

/// A module with `body` inside, plus what every good plugin has unless `body` replaces it.
fn plugin(body: &str) -> String {
    format!("(module {body})")
}

const GOOD: &str = r#"
  (import "env" "proxy_log" (func (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0))
  (func (export "_initialize"))
"#;

#[test]
fn a_well_formed_plugin_loads() {
    let m = compile(&plugin(GOOD)).unwrap();
    assert_eq!(m.abi, AbiVersion::V0_2_1);
    assert_eq!(m.allocator, "proxy_on_memory_allocate");
    assert_eq!(m.init, Some("_initialize"));
    // The Go SDKs' 0.2.0 marker and a `malloc` allocator (AssemblyScript, wasm32-unknown-unknown).
    let go = GOOD
        .replace("proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0")
        .replace("proxy_on_memory_allocate", "malloc")
        .replace("_initialize", "_start");
    let m = compile(&plugin(&go)).unwrap();
    assert_eq!(
        (m.abi, m.allocator, m.init),
        (AbiVersion::V0_2_0, "malloc", Some("_start"))
    );
}

#[test]
fn broken_modules_are_refused_with_a_reason() {
    let cases = [
        (
            plugin(&GOOD.replace("proxy_abi_version_0_2_1", "proxy_on_vm_start")),
            ModuleError::NoAbiMarker,
        ),
        (
            plugin(&GOOD.replace("proxy_abi_version_0_2_1", "proxy_abi_version_0_1_0")),
            ModuleError::Abi010,
        ),
        (
            plugin(&GOOD.replace("(export \"memory\")", "")),
            ModuleError::NoMemory,
        ),
        (
            plugin(&GOOD.replace("proxy_on_memory_allocate", "allocate")),
            ModuleError::NoAllocator,
        ),
        (
            plugin(&format!(
                "(import \"env\" \"abort\" (func (param i32 i32 i32 i32))) {GOOD}"
            )),
            ModuleError::UnknownImport {
                module: "env".into(),
                name: "abort".into(),
            },
        ),
        (
            plugin(&format!(
                "(memory (export \"memory\") (import \"wasi_snapshot_preview1\" \"mem\") 1) {}",
                GOOD.replace("(memory (export \"memory\") 1)", "")
            )),
            ModuleError::UnknownImport {
                module: "wasi_snapshot_preview1".into(),
                name: "mem".into(),
            },
        ),
        (
            plugin(&format!("(import \"host\" \"secrets\" (func)) {GOOD}")),
            ModuleError::UnknownImport {
                module: "host".into(),
                name: "secrets".into(),
            },
        ),
    ];
    for (wat, expected) in cases {
        assert_eq!(compile(&wat).err(), Some(expected), "{wat}");
    }
    let garbage = PluginModule::compile(&Engine::default(), b"\0asm\x01\0\0\0garbage");
    assert!(matches!(garbage, Err(ModuleError::Invalid(_))));
    assert!(ModuleError::Abi010.to_string().contains("0.1.0"));
}
