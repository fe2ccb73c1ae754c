//! Académie policy plugins on the proxy-wasm ABI (the one Envoy, Istio and Kong speak), for
//! `../shared/PROXY-WASM.md`'s host on wasmtime.
//!
//! Built so far: [`abi`], the ABI's constants and data formats (statuses and enums, the
//! header-map serialization with the limits a host must enforce on guest input, property
//! paths, ABI version markers), and [`module`], loading a plugin: compiled once, checked
//! against the ABI (marker, memory, allocator, imports) before anything of it runs. The rest
//! of the host (linker, instance pools, request life) builds on them.

pub mod abi;
pub mod module;
