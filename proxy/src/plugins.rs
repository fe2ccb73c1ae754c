//! Académie policy plugins on the proxy-wasm ABI (the one Envoy, Istio and Kong speak), for
//! `../shared/PROXY-WASM.md`'s host on wasmtime.
//!
//! Built so far: [`abi`], the ABI's constants and data formats (statuses and enums, the
//! header-map serialization with the limits a host must enforce on guest input, property
//! paths, ABI version markers). The host itself (engine, linker, instance pools, request
//! life) builds on it.

pub mod abi;
