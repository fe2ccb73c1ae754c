//! What the instances of one VM id share across worker threads: shared data with
//! compare-and-swap, shared queues, and plugin-defined metrics exported to Prometheus.
//!
//! Keyed by VM id (the plugin's `vm_id`, its name by default) and kept while any plugin of
//! that id is loaded, so shared data survives a reload. Everything is bounded: a plugin that
//! fills its shared data, defines too many metrics or floods a queue is refused (the Rust SDK
//! then traps, and the instance is replaced like any crashed one).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};

use super::abi::Status;

/// Shared-data bytes (keys and values) a VM id may hold.
pub const MAX_SHARED_BYTES: usize = 16 << 20;
/// Metrics a VM id may define.
pub const MAX_METRICS: usize = 256;
/// Queues a VM id may register, and items a queue may hold.
pub const MAX_QUEUES: usize = 64;
/// Items a queue holds at most; older ones are dropped first.
pub const MAX_QUEUE_ITEMS: usize = 10_000;

/// The state shared by one VM id's instances.
pub struct VmShared {
    /// The VM id.
    pub vm_id: String,
    data: Mutex<SharedData>,
    queues: Mutex<Vec<Queue>>,
    metrics: Mutex<Vec<PluginMetric>>,
}

#[derive(Default)]
struct SharedData {
    entries: HashMap<Vec<u8>, (Vec<u8>, u32)>,
    bytes: usize,
}

struct Queue {
    name: Vec<u8>,
    items: VecDeque<Vec<u8>>,
}

/// A metric a plugin defined.
struct PluginMetric {
    name: String,
    handle: MetricHandle,
}

enum MetricHandle {
    Counter(IntCounter),
    Gauge(IntGauge),
    Histogram(Histogram),
}

/// The state of VM id `vm_id`: the one already shared by loaded plugins, or a new one.
pub fn for_vm(vm_id: &str) -> Arc<VmShared> {
    static ALL: OnceLock<Mutex<HashMap<String, Weak<VmShared>>>> = OnceLock::new();
    let mut all = ALL.get_or_init(Default::default).lock();
    all.retain(|_, w| w.strong_count() > 0);
    if let Some(shared) = all.get(vm_id).and_then(Weak::upgrade) {
        return shared;
    }
    let shared = Arc::new(VmShared {
        vm_id: vm_id.to_string(),
        data: Mutex::default(),
        queues: Mutex::default(),
        metrics: Mutex::default(),
    });
    all.insert(vm_id.to_string(), Arc::downgrade(&shared));
    shared
}

impl VmShared {
    /// `proxy_get_shared_data`: the value and its CAS.
    pub fn get(&self, key: &[u8]) -> Result<(Vec<u8>, u32), Status> {
        self.data
            .lock()
            .entries
            .get(key)
            .cloned()
            .ok_or(Status::NotFound)
    }

    /// `proxy_set_shared_data`: stores `value` unless `cas` is non-zero and differs from the
    /// current CAS.
    pub fn set(&self, key: &[u8], value: &[u8], cas: u32) -> Result<(), Status> {
        let mut data = self.data.lock();
        let (old_len, old_cas) = match data.entries.get(key) {
            Some((v, c)) => (Some(v.len()), *c),
            None => (None, 0),
        };
        if cas != 0 && cas != old_cas {
            return Err(Status::CasMismatch);
        }
        let bytes = data.bytes - old_len.map_or(0, |l| l + key.len()) + key.len() + value.len();
        if bytes > MAX_SHARED_BYTES {
            return Err(Status::InternalFailure);
        }
        data.bytes = bytes;
        let next = old_cas.wrapping_add(1).max(1);
        data.entries.insert(key.to_vec(), (value.to_vec(), next));
        Ok(())
    }

    /// `proxy_register_shared_queue`: the queue's id (registering twice gives the same id).
    pub fn register_queue(&self, name: &[u8]) -> Result<u32, Status> {
        let mut queues = self.queues.lock();
        if let Some(i) = queues.iter().position(|q| q.name == name) {
            return Ok(i as u32 + 1);
        }
        if queues.len() >= MAX_QUEUES {
            return Err(Status::InternalFailure);
        }
        queues.push(Queue {
            name: name.to_vec(),
            items: VecDeque::new(),
        });
        Ok(queues.len() as u32)
    }

    /// `proxy_resolve_shared_queue`: the id of a registered queue.
    pub fn resolve_queue(&self, name: &[u8]) -> Result<u32, Status> {
        let queues = self.queues.lock();
        let i = queues
            .iter()
            .position(|q| q.name == name)
            .ok_or(Status::NotFound)?;
        Ok(i as u32 + 1)
    }

    /// `proxy_enqueue_shared_queue`.
    pub fn enqueue(&self, id: u32, item: &[u8]) -> Result<(), Status> {
        let mut queues = self.queues.lock();
        let q = queues
            .get_mut((id as usize).wrapping_sub(1))
            .ok_or(Status::NotFound)?;
        if q.items.len() >= MAX_QUEUE_ITEMS {
            q.items.pop_front();
        }
        q.items.push_back(item.to_vec());
        Ok(())
    }

    /// `proxy_dequeue_shared_queue`.
    pub fn dequeue(&self, id: u32) -> Result<Vec<u8>, Status> {
        let mut queues = self.queues.lock();
        let q = queues
            .get_mut((id as usize).wrapping_sub(1))
            .ok_or(Status::NotFound)?;
        q.items.pop_front().ok_or(Status::Empty)
    }

    /// `proxy_define_metric`: the id of the metric `name` of `kind` (0 counter, 1 gauge,
    /// 2 histogram); defining it again gives the same id.
    pub fn define_metric(
        &self,
        families: &PluginFamilies,
        kind: i32,
        name: &str,
    ) -> Result<u32, Status> {
        let mut metrics = self.metrics.lock();
        if let Some(i) = metrics.iter().position(|m| m.name == name) {
            return Ok(i as u32);
        }
        if metrics.len() >= MAX_METRICS {
            return Err(Status::InternalFailure);
        }
        let labels = [self.vm_id.as_str(), name];
        let handle = match kind {
            0 => MetricHandle::Counter(families.counter.with_label_values(&labels)),
            1 => MetricHandle::Gauge(families.gauge.with_label_values(&labels)),
            2 => MetricHandle::Histogram(families.histogram.with_label_values(&labels)),
            _ => return Err(Status::BadArgument),
        };
        metrics.push(PluginMetric {
            name: name.to_string(),
            handle,
        });
        Ok(metrics.len() as u32 - 1)
    }

    /// `proxy_increment_metric`: counters take only positive deltas.
    pub fn increment_metric(&self, id: u32, delta: i64) -> Result<(), Status> {
        let metrics = self.metrics.lock();
        match &metrics.get(id as usize).ok_or(Status::NotFound)?.handle {
            MetricHandle::Counter(c) if delta > 0 => c.inc_by(delta as u64),
            MetricHandle::Gauge(g) => g.add(delta),
            _ => return Err(Status::BadArgument),
        }
        Ok(())
    }

    /// `proxy_record_metric`: sets a gauge or counter, observes a histogram value.
    pub fn record_metric(&self, id: u32, value: u64) -> Result<(), Status> {
        let metrics = self.metrics.lock();
        match &metrics.get(id as usize).ok_or(Status::NotFound)?.handle {
            MetricHandle::Counter(c) => {
                let now = c.get();
                if value > now {
                    c.inc_by(value - now);
                }
            }
            MetricHandle::Gauge(g) => g.set(value.min(i64::MAX as u64) as i64),
            MetricHandle::Histogram(h) => h.observe(value as f64),
        }
        Ok(())
    }

    /// `proxy_get_metric`: a counter's or gauge's value.
    pub fn metric(&self, id: u32) -> Result<u64, Status> {
        let metrics = self.metrics.lock();
        match &metrics.get(id as usize).ok_or(Status::NotFound)?.handle {
            MetricHandle::Counter(c) => Ok(c.get()),
            MetricHandle::Gauge(g) => Ok(g.get().max(0) as u64),
            MetricHandle::Histogram(_) => Err(Status::BadArgument),
        }
    }
}

/// The Prometheus families of plugins: their own metrics and the host's view of them.
#[derive(Clone)]
pub struct PluginFamilies {
    counter: IntCounterVec,
    gauge: IntGaugeVec,
    histogram: HistogramVec,
    /// Faults by plugin and reason (`trap`, `timeout`, `memory`, `unavailable`).
    pub failures: IntCounterVec,
    /// Instances created, by plugin.
    pub instances: IntCounterVec,
    /// Local responses plugins sent, by plugin and status.
    pub local_responses: IntCounterVec,
}

impl PluginFamilies {
    /// Creates the families and registers them with `register`.
    fn register(
        register: impl Fn(Box<dyn prometheus::core::Collector>) -> prometheus::Result<()>,
    ) -> prometheus::Result<PluginFamilies> {
        let labels = &["plugin", "metric"];
        let families = PluginFamilies {
            counter: IntCounterVec::new(
                Opts::new("plugin_counter_total", "Counters defined by plugins."),
                labels,
            )?,
            gauge: IntGaugeVec::new(
                Opts::new("plugin_gauge", "Gauges defined by plugins."),
                labels,
            )?,
            histogram: HistogramVec::new(
                HistogramOpts::new("plugin_histogram", "Histograms defined by plugins.").buckets(
                    vec![1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0],
                ),
                labels,
            )?,
            failures: IntCounterVec::new(
                Opts::new(
                    "plugin_failures_total",
                    "Plugin calls that failed (trap, timeout, memory) or could not run (unavailable), by plugin.",
                ),
                &["plugin", "reason"],
            )?,
            instances: IntCounterVec::new(
                Opts::new(
                    "plugin_instances_created_total",
                    "Plugin instances created, by plugin.",
                ),
                &["plugin"],
            )?,
            local_responses: IntCounterVec::new(
                Opts::new(
                    "plugin_local_responses_total",
                    "Answers given by plugins instead of the upstream, by plugin and status.",
                ),
                &["plugin", "status"],
            )?,
        };
        register(Box::new(families.counter.clone()))?;
        register(Box::new(families.gauge.clone()))?;
        register(Box::new(families.histogram.clone()))?;
        register(Box::new(families.failures.clone()))?;
        register(Box::new(families.instances.clone()))?;
        register(Box::new(families.local_responses.clone()))?;
        Ok(families)
    }

    /// The process's families (every [`crate::metrics::Metrics`] registers them).
    pub fn global() -> &'static PluginFamilies {
        static FAMILIES: OnceLock<PluginFamilies> = OnceLock::new();
        #[allow(clippy::expect_used)]
        FAMILIES.get_or_init(|| {
            PluginFamilies::register(|_| Ok(())).expect("static metric definitions are valid")
        })
    }

    /// Registers the families with `register`.
    pub fn register_with(
        &self,
        register: impl Fn(Box<dyn prometheus::core::Collector>) -> prometheus::Result<()>,
    ) -> prometheus::Result<()> {
        register(Box::new(self.counter.clone()))?;
        register(Box::new(self.gauge.clone()))?;
        register(Box::new(self.histogram.clone()))?;
        register(Box::new(self.failures.clone()))?;
        register(Box::new(self.instances.clone()))?;
        register(Box::new(self.local_responses.clone()))
    }
}
