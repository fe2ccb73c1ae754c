//! The serde mirror of `plugins:` (académie policy plugins) and of `server.plugin_cache`.

use std::path::PathBuf;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::config::values::{ByteSize, Duration};
use crate::plugins::abi::LogLevel;

/// One entry of `plugins:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSection {
    /// The `.wasm` file (proxy-wasm ABI 0.2.x), relative to the config file.
    pub module: Spanned<PathBuf>,
    /// The plugin configuration: a string is passed as is, anything else as JSON.
    pub config: Option<Spanned<serde_json::Value>>,
    /// The VM configuration, likewise (read in `proxy_on_vm_start`).
    pub vm_config: Option<Spanned<serde_json::Value>>,
    /// `closed` (default: a failing plugin's requests get 503) or `open` (they go on without it).
    pub fail: Option<PluginFailSection>,
    /// `plugin_root_id` (default: empty).
    pub root_id: Option<String>,
    /// `plugin_vm_id`: plugins with the same VM id share data and metrics (default: the name).
    pub vm_id: Option<String>,
    /// Lowest level of the plugin's logs (`trace` ... `critical`; default `info`).
    pub log_level: Option<LogLevel>,
    /// Resource limits.
    #[serde(default)]
    pub limits: PluginLimitsSection,
}

/// `plugins.NAME.fail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginFailSection {
    /// 503.
    Closed,
    /// Skip the plugin.
    Open,
}

/// `plugins.NAME.limits`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginLimitsSection {
    /// Linear memory per instance (default 64MiB).
    pub memory: Option<Spanned<ByteSize>>,
    /// Time one callback may run, counted in 10 ms epoch ticks (default 100ms).
    pub call_timeout: Option<Spanned<Duration>>,
    /// Time a request may stay paused by the plugin (default 10s).
    pub pause_timeout: Option<Spanned<Duration>>,
    /// Crashes per minute after which the plugin is not restarted for a while (default 10).
    pub max_crashes_per_minute: Option<Spanned<u32>>,
    /// Body bytes the plugin may hold while paused (default 1MiB).
    pub max_body: Option<Spanned<ByteSize>>,
}
