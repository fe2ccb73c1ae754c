//! A loaded plugin and its instances: one per worker thread, created on first use, replaced
//! after a fault within a crash-rate limit, dropped with the configuration generation.
//!
//! A request's contexts live in the instance of the thread that started it and the request
//! holds that instance (`Arc<Mutex<Vm>>`) until it ends, so a reload swaps plugins without
//! cutting requests: new requests get the new generation's instances, old instances go when
//! their last request ends (PROXY-WASM.md P13). The lock is held for one callback at a time,
//! never across an await.

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use parking_lot::Mutex;
use wasmtime::{InstancePre, Linker};

use super::abi::LogLevel;
use super::engine;
use super::module::PluginModule;
use super::shared::{PluginFamilies, VmShared};
use super::state::{Callout, CalloutAnswer, HostState};
use super::vm::{Fault, Vm};
use super::{hostcalls, ticks, wasi};

/// What happens to a request when its plugin fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    /// 503: the request does not reach the upstream (the default: a policy that cannot run
    /// must not let everyone in).
    Closed,
    /// The request goes on as if the plugin were not there.
    Open,
}

/// Resource limits of a plugin's instances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginLimits {
    /// Linear memory per instance, bytes.
    pub memory: usize,
    /// Time one callback may run.
    pub call_timeout: Duration,
    /// Time a request may stay paused (waiting for a callout, a tick...).
    pub pause_timeout: Duration,
    /// Faults per minute after which no new instance is started for a while.
    pub max_crashes_per_minute: usize,
    /// Body bytes a paused plugin may hold.
    pub max_body: usize,
}

impl Default for PluginLimits {
    fn default() -> PluginLimits {
        PluginLimits {
            memory: 64 << 20,
            call_timeout: Duration::from_millis(100),
            pause_timeout: Duration::from_secs(10),
            max_crashes_per_minute: 10,
            max_body: 1 << 20,
        }
    }
}

/// Where log lines of a plugin go besides the process log (`vigie plugin test`, tests).
pub type LogSink = Arc<Mutex<Vec<(LogLevel, String)>>>;

/// Sends a plugin's HTTP callouts to named upstreams.
pub trait Transport: Send + Sync {
    /// Sends `callout`, within its timeout; `Err` names what failed.
    fn send(&self, callout: Callout) -> BoxFuture<'static, Result<CalloutAnswer, String>>;
}

/// Why a plugin cannot be loaded: what failed and what the plugin logged (warnings and
/// above) while starting.
#[derive(Debug)]
pub struct LoadError {
    /// What failed.
    pub fault: Fault,
    /// The plugin's own explanation, if it gave one.
    pub logs: Vec<String>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.fault)?;
        let said: Vec<&str> = self
            .logs
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(String::as_str)
            .collect();
        if !said.is_empty() {
            write!(f, " (the plugin logged: {})", said.join(" | "))?;
        }
        Ok(())
    }
}

/// Callouts when no upstream is known (a plugin checked at load, `vigie plugin test` without
/// answers): every one fails.
pub struct NoTransport;

impl Transport for NoTransport {
    fn send(&self, callout: Callout) -> BoxFuture<'static, Result<CalloutAnswer, String>> {
        let name = callout.upstream;
        Box::pin(async move { Err(format!("no upstream named {name}")) })
    }
}

/// What an instance knows of its plugin.
#[derive(Clone)]
pub struct PluginInfo {
    /// The plugin's name in the config (log prefix, metric label).
    pub name: String,
    /// `plugin_root_id`.
    pub root_id: String,
    /// `plugin_vm_id` (key of shared data).
    pub vm_id: String,
    /// The plugin configuration (JSON).
    pub config: Vec<u8>,
    /// The VM configuration.
    pub vm_config: Vec<u8>,
    /// Lowest level logged.
    pub log_level: LogLevel,
    /// Limits.
    pub limits: PluginLimits,
    /// Fail mode.
    pub fail: FailMode,
    /// Shared data, queues and metrics of the VM id.
    pub shared: Arc<VmShared>,
    /// Prometheus families.
    pub families: PluginFamilies,
    /// Upstreams a callout may name.
    pub upstreams: BTreeSet<String>,
    /// Extra copy of log lines, if wanted.
    pub sink: Option<LogSink>,
    /// What `proxy_get_current_time_nanoseconds` and the WASI wall clock read (none: the
    /// system's; `vigie plugin test` sets it per request).
    pub clock: Option<Clock>,
}

/// A wall clock given to plugins.
pub type Clock = Arc<dyn Fn() -> std::time::SystemTime + Send + Sync>;

impl fmt::Debug for PluginInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The configuration may hold secrets: never printed.
        f.debug_struct("PluginInfo")
            .field("name", &self.name)
            .field("vm_id", &self.vm_id)
            .field("config_bytes", &self.config.len())
            .field("limits", &self.limits)
            .field("fail", &self.fail)
            .finish_non_exhaustive()
    }
}

impl PluginInfo {
    /// The time plugins see now.
    pub fn now(&self) -> std::time::SystemTime {
        self.clock
            .as_ref()
            .map_or_else(std::time::SystemTime::now, |c| c())
    }

    /// Logs `message` at `level` under the plugin's name.
    pub fn log(&self, level: LogLevel, message: &str) {
        if level < self.log_level {
            return;
        }
        let plugin = self.name.as_str();
        match level {
            LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            LogLevel::Error | LogLevel::Critical => tracing::error!(plugin, "{message}"),
        }
        if let Some(sink) = &self.sink {
            let mut lines = sink.lock();
            if lines.len() < 10_000 {
                lines.push((level, message.to_string()));
            }
        }
    }
}

/// A thread's instance of a plugin: the plugin's id, the plugin, the instance.
type Instance = (u64, Weak<Plugin>, Arc<Mutex<Vm>>);

/// A plugin ready to run: its module linked once, its instances per thread.
pub struct Plugin {
    /// What instances know of it.
    pub info: Arc<PluginInfo>,
    module: PluginModule,
    pre: InstancePre<HostState>,
    transport: Mutex<Arc<dyn Transport>>,
    id: u64,
    crashes: Mutex<VecDeque<Instant>>,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// Links `module` for `info`, and starts one instance to check that the plugin accepts
    /// its configuration (the instance is then dropped).
    pub fn new(
        module: PluginModule,
        info: PluginInfo,
        transport: Arc<dyn Transport>,
    ) -> Result<Plugin, LoadError> {
        static IDS: AtomicU64 = AtomicU64::new(1);
        let mut linker = Linker::new(engine::engine());
        let linked =
            hostcalls::link(&mut linker).and_then(|()| wasi::link(&mut linker, &module.module));
        let pre = linked
            .and_then(|()| linker.instantiate_pre(&module.module))
            .map_err(|e| LoadError {
                fault: Fault::Refused(format!("cannot link the module: {e:#}")),
                logs: Vec::new(),
            })?;
        let plugin = Plugin {
            info: Arc::new(info),
            module,
            pre,
            transport: Mutex::new(transport),
            id: IDS.fetch_add(1, Ordering::Relaxed),
            crashes: Mutex::new(VecDeque::new()),
        };
        // The check instance keeps the plugin's log lines, to explain a refusal.
        let sink = LogSink::default();
        let mut checking = (*plugin.info).clone();
        checking.sink = Some(sink.clone());
        match Vm::start(&plugin.pre, &plugin.module, Arc::new(checking)) {
            Ok(_) => Ok(plugin),
            Err(fault) => Err(LoadError {
                fault,
                logs: sink
                    .lock()
                    .iter()
                    .filter(|(level, _)| *level >= LogLevel::Warn)
                    .map(|(_, line)| line.clone())
                    .collect(),
            }),
        }
    }

    /// What sends its callouts.
    pub fn transport(&self) -> Arc<dyn Transport> {
        self.transport.lock().clone()
    }

    /// Sends its callouts with `transport` from now on (the generation's upstreams).
    pub fn set_transport(&self, transport: Arc<dyn Transport>) {
        *self.transport.lock() = transport;
    }

    /// A new started instance, unless the plugin crashed too often in the last minute.
    pub fn instantiate(&self) -> Result<Vm, Fault> {
        {
            let mut crashes = self.crashes.lock();
            let minute_ago = Instant::now() - Duration::from_secs(60);
            while crashes.front().is_some_and(|t| *t < minute_ago) {
                crashes.pop_front();
            }
            if crashes.len() >= self.info.limits.max_crashes_per_minute {
                return Err(Fault::Unavailable(crashes.len()));
            }
        }
        self.info
            .families
            .instances
            .with_label_values(&[&self.info.name])
            .inc();
        let vm = Vm::start(&self.pre, &self.module, self.info.clone());
        if let Err(fault) = &vm {
            self.fault(fault);
        }
        vm
    }

    /// Records that an instance failed with `fault` (logged, counted, rate-limited).
    pub fn fault(&self, fault: &Fault) {
        self.info
            .families
            .failures
            .with_label_values(&[&self.info.name, fault.reason()])
            .inc();
        if !matches!(fault, Fault::Unavailable(_) | Fault::PauseTimeout(_)) {
            self.crashes.lock().push_back(Instant::now());
            tracing::error!(plugin = %self.info.name, error = %fault, "plugin failed; its instance is replaced");
        }
    }

    /// This thread's instance of the plugin, started if there is none or it failed.
    pub fn instance(self: &Arc<Plugin>) -> Result<Arc<Mutex<Vm>>, Fault> {
        thread_local! {
            static INSTANCES: RefCell<Vec<Instance>> =
                const { RefCell::new(Vec::new()) };
        }
        INSTANCES.with(|all| {
            let mut all = all.borrow_mut();
            all.retain(|(_, plugin, vm)| {
                plugin.strong_count() > 0 && vm.try_lock().is_none_or(|vm| vm.poisoned().is_none())
            });
            if let Some((_, _, vm)) = all.iter().find(|(id, _, _)| *id == self.id) {
                return Ok(vm.clone());
            }
            let vm = Arc::new(Mutex::new(self.instantiate()?));
            ticks::watch(Arc::downgrade(self), Arc::downgrade(&vm));
            all.push((self.id, Arc::downgrade(self), vm.clone()));
            Ok(vm)
        })
    }
}
