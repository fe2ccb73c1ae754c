//! Validation of `plugins:`: each module read, compiled (or taken from the cache), checked
//! against the ABI, and started once with its configuration, so a broken plugin or a
//! configuration it refuses is reported at load — with the plugin's own log lines — and never
//! reaches a request.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::abi::LogLevel;
use super::engine;
use super::runtime::{FailMode, NoTransport, Plugin, PluginInfo, PluginLimits};
use super::shared::{self, PluginFamilies};
use crate::config::Problems;
use crate::config::file::{PluginFailSection, PluginSection};

/// Largest module file accepted.
const MAX_MODULE_SIZE: u64 = 64 << 20;

/// One validated, loaded plugin.
#[derive(Clone)]
pub struct PluginSpec {
    /// Its name.
    pub name: String,
    /// The module file.
    pub module_path: PathBuf,
    /// The plugin, ready to run.
    pub plugin: Arc<Plugin>,
}

impl fmt::Debug for PluginSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginSpec")
            .field("name", &self.name)
            .field("module_path", &self.module_path)
            .finish_non_exhaustive()
    }
}

impl PartialEq for PluginSpec {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.plugin, &other.plugin)
    }
}

/// The bytes handed to the plugin for a YAML value: a string as is, anything else as JSON.
pub fn config_bytes(value: Option<&serde_json::Value>) -> Vec<u8> {
    match value {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::String(s)) => s.clone().into_bytes(),
        Some(v) => v.to_string().into_bytes(),
    }
}

impl PluginSpec {
    /// Validates and loads every entry of `plugins:`; relative module paths start at `base`,
    /// `cache` is the compiled-module cache, `upstreams` the names callouts may use.
    pub(crate) fn from_file(
        raw: &BTreeMap<String, Spanned<PluginSection>>,
        base: &Path,
        cache: Option<&Path>,
        upstreams: &BTreeSet<String>,
        problems: &mut Problems,
    ) -> BTreeMap<String, PluginSpec> {
        let mut specs = BTreeMap::new();
        for (name, section) in raw {
            let path = format!("plugins.{name}");
            let s = &section.value;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                problems.report(
                    &path,
                    &section.referenced,
                    format!("invalid plugin name {name:?}: use letters, digits, '-' and '_'"),
                );
                continue;
            }
            let Some(limits) = limits(s, &path, problems) else {
                continue;
            };
            let module_path = base.join(&s.module.value);
            let at = format!("{path}.module");
            let module = read(&module_path)
                .and_then(|bytes| engine::load(&bytes, cache).map_err(|e| e.to_string()));
            let module = match module {
                Ok(m) => m,
                Err(e) => {
                    let shown = module_path.display();
                    problems.report(&at, &s.module.referenced, format!("{shown}: {e}"));
                    continue;
                }
            };
            let info = PluginInfo {
                name: name.clone(),
                root_id: s.root_id.clone().unwrap_or_default(),
                vm_id: s.vm_id.clone().unwrap_or_else(|| name.clone()),
                config: config_bytes(s.config.as_ref().map(|c| &c.value)),
                vm_config: config_bytes(s.vm_config.as_ref().map(|c| &c.value)),
                log_level: s.log_level.unwrap_or(LogLevel::Info),
                limits,
                fail: match s.fail {
                    Some(PluginFailSection::Open) => FailMode::Open,
                    _ => FailMode::Closed,
                },
                shared: shared::for_vm(s.vm_id.as_deref().unwrap_or(name)),
                families: PluginFamilies::global().clone(),
                upstreams: upstreams.clone(),
                sink: None,
                clock: None,
            };
            match Plugin::new(module, info, Arc::new(NoTransport)) {
                Ok(plugin) => {
                    specs.insert(
                        name.clone(),
                        PluginSpec {
                            name: name.clone(),
                            module_path,
                            plugin: Arc::new(plugin),
                        },
                    );
                }
                Err(e) => {
                    let (at, line) = match (&e.fault, &s.config) {
                        (super::Fault::Refused(_), Some(c)) => {
                            (format!("{path}.config"), &c.referenced)
                        }
                        _ => (at, &s.module.referenced),
                    };
                    problems.report(at, line, format!("the plugin does not start: {e}"));
                }
            }
        }
        specs
    }
}

/// The module's bytes, refusing files too large to be a plugin.
fn read(path: &Path) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the module: {e}"))?
        .len();
    if size > MAX_MODULE_SIZE {
        return Err(format!(
            "the module is {size} bytes; the limit is {MAX_MODULE_SIZE}"
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read the module: {e}"))
}

/// `plugins.NAME.limits`, each within sane bounds.
fn limits(s: &PluginSection, path: &str, problems: &mut Problems) -> Option<PluginLimits> {
    let d = PluginLimits::default();
    let l = &s.limits;
    let before = problems.len();
    let mut check = |field: &str, ok: bool, at: &serde_saphyr::Location, why: &str| {
        if !ok {
            problems.report(format!("{path}.limits.{field}"), at, why.to_string());
        }
    };
    let memory = l.memory.as_ref().map_or(d.memory, |m| {
        let ok = (1 << 20..=4 << 30).contains(&m.value.0);
        check(
            "memory",
            ok,
            &m.referenced,
            "memory must be between 1MiB and 4096MiB",
        );
        m.value.0
    });
    let call_timeout = l.call_timeout.as_ref().map_or(d.call_timeout, |t| {
        let ok = (Duration::from_millis(1)..=Duration::from_secs(10)).contains(&t.value.0);
        check(
            "call_timeout",
            ok,
            &t.referenced,
            "call_timeout must be between 1ms and 10s",
        );
        t.value.0
    });
    let pause_timeout = l.pause_timeout.as_ref().map_or(d.pause_timeout, |t| {
        let ok = (Duration::from_millis(1)..=Duration::from_secs(300)).contains(&t.value.0);
        check(
            "pause_timeout",
            ok,
            &t.referenced,
            "pause_timeout must be between 1ms and 300s",
        );
        t.value.0
    });
    let max_crashes_per_minute =
        l.max_crashes_per_minute
            .as_ref()
            .map_or(d.max_crashes_per_minute, |n| {
                check(
                    "max_crashes_per_minute",
                    n.value >= 1,
                    &n.referenced,
                    "max_crashes_per_minute must be at least 1",
                );
                n.value as usize
            });
    let max_body = l.max_body.as_ref().map_or(d.max_body, |m| {
        let ok = (1 << 10..=64 << 20).contains(&m.value.0);
        check(
            "max_body",
            ok,
            &m.referenced,
            "max_body must be between 1KiB and 64MiB",
        );
        m.value.0
    });
    (problems.len() == before).then_some(PluginLimits {
        memory,
        call_timeout,
        pause_timeout,
        max_crashes_per_minute,
        max_body,
    })
}
