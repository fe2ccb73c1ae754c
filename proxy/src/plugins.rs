//! Académie policy plugins on the proxy-wasm ABI 0.2.1 (the one Envoy, Istio and Kong speak),
//! hosted on wasmtime; `../shared/PROXY-WASM.md` is the reference this follows.
//!
//! - [`module`]: a module is compiled once ([`engine`]: one engine, epoch deadlines, compiled
//!   code cached in memory and on disk) and checked against the ABI before anything runs.
//! - [`runtime`]: a loaded [`Plugin`] and its instances, one per worker thread, replaced
//!   after a fault within a crash-rate limit; [`vm`]: one instance and its faults.
//! - [`hostcalls`] and [`wasi`]: every import a module may have, over guest memory accessed
//!   only through [`memory`]; [`state`]: what they act on; [`facts`]: properties.
//! - [`stream`]: one request through a route's chain ([`PluginRun`]), independent of Pingora;
//!   [`ticks`]: timers and callouts of root contexts; [`shared`]: shared data, queues and
//!   metrics across instances.

pub mod abi;
pub mod callout;
pub mod engine;
pub mod facts;
pub mod hostcalls;
pub mod memory;
pub mod module;
pub mod offline;
pub mod runtime;
pub mod shared;
pub mod spec;
pub mod state;
pub mod stream;
pub mod ticks;
pub mod vm;
pub mod wasi;

pub use facts::RequestFacts;
pub use runtime::{FailMode, LoadError, Plugin, PluginInfo, PluginLimits, Transport};
pub use spec::PluginSpec;
pub use state::{HeaderList, LocalResponse};
pub use stream::{Body, PluginRun, Verdict};
pub use vm::Fault;

#[cfg(test)]
mod tests;
