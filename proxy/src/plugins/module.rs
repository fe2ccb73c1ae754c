//! A plugin's module: compiled once by the process's engine and checked against the ABI
//! before anything of it runs (PROXY-WASM.md §1.1–§1.3, §2.2–§2.3).
//!
//! A module must carry the 0.2.1 or 0.2.0 marker (0.1.0's callbacks have other signatures:
//! refused), export its `memory` and an allocator (`proxy_on_memory_allocate`, else `malloc`),
//! and import nothing the host does not provide: the `env.proxy_*` functions of ABI 0.2.x and
//! WASI preview 1 (each WASI function the host does not implement answers `ENOSYS`). Anything
//! else is refused at load, naming what is wrong, so a broken plugin never reaches a request.

use wasmtime::{Engine, ExternType, Module};

use super::abi::AbiVersion;

/// The `env` functions of ABI 0.2.x a module may import (PROXY-WASM.md §2.2 A and B).
pub const HOST_FUNCTIONS: &[&str] = &[
    "proxy_log",
    "proxy_get_log_level",
    "proxy_get_current_time_nanoseconds",
    "proxy_get_buffer_bytes",
    "proxy_set_buffer_bytes",
    "proxy_get_buffer_status",
    "proxy_get_header_map_pairs",
    "proxy_set_header_map_pairs",
    "proxy_get_header_map_value",
    "proxy_add_header_map_value",
    "proxy_replace_header_map_value",
    "proxy_remove_header_map_value",
    "proxy_get_header_map_size",
    "proxy_get_property",
    "proxy_set_property",
    "proxy_send_local_response",
    "proxy_continue_stream",
    "proxy_close_stream",
    "proxy_set_effective_context",
    "proxy_done",
    "proxy_set_tick_period_milliseconds",
    "proxy_http_call",
    "proxy_get_status",
    "proxy_get_shared_data",
    "proxy_set_shared_data",
    "proxy_register_shared_queue",
    "proxy_resolve_shared_queue",
    "proxy_enqueue_shared_queue",
    "proxy_dequeue_shared_queue",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_record_metric",
    "proxy_get_metric",
    "proxy_grpc_call",
    "proxy_grpc_stream",
    "proxy_grpc_send",
    "proxy_grpc_cancel",
    "proxy_grpc_close",
    "proxy_call_foreign_function",
];

/// The WASI modules whose functions are provided (non-blocking, no filesystem).
pub const WASI_MODULES: &[&str] = &["wasi_snapshot_preview1", "wasi_unstable"];

/// A compiled, checked module.
#[derive(Clone)]
pub struct PluginModule {
    /// The compiled code.
    pub module: Module,
    /// The ABI it was built for.
    pub abi: AbiVersion,
    /// The export that allocates guest memory for the host.
    pub allocator: &'static str,
    /// `_initialize` (a reactor) or `_start` (a command, TinyGo), when exported.
    pub init: Option<&'static str>,
}

/// Why a module is refused at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    /// Not WebAssembly, or invalid.
    #[error("not a valid WebAssembly module: {0}")]
    Invalid(String),
    /// No `proxy_abi_version_*` export.
    #[error(
        "no proxy-wasm ABI marker (export proxy_abi_version_0_2_1 or _0_2_0): not a proxy-wasm plugin"
    )]
    NoAbiMarker,
    /// A marker of an ABI this host does not run.
    #[error(
        "built for proxy-wasm ABI 0.1.0, whose callbacks differ; rebuild with an SDK for 0.2.x"
    )]
    Abi010,
    /// No exported linear memory.
    #[error("no exported memory")]
    NoMemory,
    /// No allocator for the host to give it data.
    #[error("no allocator exported (proxy_on_memory_allocate or malloc)")]
    NoAllocator,
    /// An import the host does not provide.
    #[error("imports {module}.{name}, which Vigie does not provide")]
    UnknownImport {
        /// The import's module.
        module: String,
        /// The import's name.
        name: String,
    },
}

impl PluginModule {
    /// Compiles `bytes` with `engine` and checks them; see the module docs.
    pub fn compile(engine: &Engine, bytes: &[u8]) -> Result<PluginModule, ModuleError> {
        let module =
            Module::new(engine, bytes).map_err(|e| ModuleError::Invalid(format!("{e:#}")))?;
        PluginModule::check(module)
    }

    /// Checks an already compiled `module`; see the module docs.
    pub fn check(module: Module) -> Result<PluginModule, ModuleError> {
        let exports: Vec<(String, ExternType)> = module
            .exports()
            .map(|e| (e.name().to_string(), e.ty()))
            .collect();
        let exported = |name: &str| exports.iter().any(|(n, _)| n == name);
        let abi = exports
            .iter()
            .filter_map(|(n, _)| AbiVersion::from_export(n))
            .max_by_key(|v| *v as u8)
            .ok_or(ModuleError::NoAbiMarker)?;
        if abi == AbiVersion::V0_1_0 {
            return Err(ModuleError::Abi010);
        }
        if !exports
            .iter()
            .any(|(n, t)| n == "memory" && matches!(t, ExternType::Memory(_)))
        {
            return Err(ModuleError::NoMemory);
        }
        let allocator = ["proxy_on_memory_allocate", "malloc"]
            .into_iter()
            .find(|a| exported(a))
            .ok_or(ModuleError::NoAllocator)?;
        for import in module.imports() {
            let known = match import.module() {
                "env" => HOST_FUNCTIONS.contains(&import.name()),
                m => WASI_MODULES.contains(&m),
            };
            if !known || !matches!(import.ty(), ExternType::Func(_)) {
                return Err(ModuleError::UnknownImport {
                    module: import.module().to_string(),
                    name: import.name().to_string(),
                });
            }
        }
        let init = ["_initialize", "_start"].into_iter().find(|i| exported(i));
        Ok(PluginModule {
            module,
            abi,
            allocator,
            init,
        })
    }
}

#[cfg(test)]
mod tests;
