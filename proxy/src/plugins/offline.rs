//! `vigie plugin test FILE`: runs a plugin against requests described in a YAML file, with no
//! network and no Vigie around it, and prints what it decided — for académie developers.
//!
//! ```yaml
//! plugin:
//!   module: target/wasm32-wasip1/release/children_only.wasm   # relative to this file
//!   config: { path_prefix: /livret/eleves/ }
//! callouts:                          # answers to dispatch_http_call, by upstream
//!   annuaire:
//!     - { path: /comptes/parent-42/statut, status: 200, body: '{"active": true}' }
//! requests:
//!   - name: a parent opens their child's livret
//!     path: /livret/eleves/ine-1/notes            # method GET, host vigie.test by default
//!     identity: { subject: parent-42, profile: responsable, children_ids: [ine-1] }
//!     at: "2026-09-01T08:00:00+02:00"            # the plugin's clock (default: now)
//!     response: { status: 200, body: "<html>" }  # the upstream's answer (default 200)
//!     expect: { status: 200, forwarded: true }   # checked; any miss makes the exit code 1
//! ```

mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use serde::Deserialize;

use super::abi::LogLevel;
use super::runtime::{FailMode, LogSink, Plugin, PluginInfo, PluginLimits, Transport};
use super::shared::{self, PluginFamilies};
use super::state::{Callout, CalloutAnswer, HeaderList};
use super::{engine, spec};

/// The test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The plugin under test.
    pub plugin: PluginUnderTest,
    /// Canned callout answers by upstream.
    #[serde(default)]
    pub callouts: BTreeMap<String, Vec<CannedAnswer>>,
    /// The requests, in order.
    pub requests: Vec<TestRequest>,
}

/// `plugin:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginUnderTest {
    /// The module, relative to the test file.
    pub module: PathBuf,
    /// Its configuration (a string as is, anything else as JSON).
    pub config: Option<serde_json::Value>,
    /// Its VM configuration.
    pub vm_config: Option<serde_json::Value>,
}

/// One canned answer to a callout.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedAnswer {
    /// The `:path` it answers (`*`: any).
    pub path: String,
    /// Status (none: the call fails, as on a timeout).
    pub status: Option<u16>,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body.
    #[serde(default)]
    pub body: String,
}

/// One request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// What it shows.
    pub name: Option<String>,
    /// Method (default GET).
    pub method: Option<String>,
    /// Path and query.
    pub path: String,
    /// Host (default `vigie.test`).
    pub host: Option<String>,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body.
    pub body: Option<String>,
    /// Who asks (none: anonymous).
    pub identity: Option<TestIdentity>,
    /// The plugin's clock, RFC 3339.
    pub at: Option<String>,
    /// The upstream's answer when the request reaches it.
    pub response: Option<TestResponse>,
    /// What must happen.
    pub expect: Option<Expect>,
}

/// `identity:` — the `vigie.*` properties.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestIdentity {
    /// `vigie.subject`.
    pub subject: String,
    /// `vigie.issuer` (default `test`).
    pub issuer: Option<String>,
    /// `vigie.profile`.
    pub profile: Option<String>,
    /// `vigie.acr`.
    pub acr: Option<String>,
    /// `vigie.school_ids`.
    #[serde(default)]
    pub school_ids: Vec<String>,
    /// `vigie.children_ids`.
    #[serde(default)]
    pub children_ids: Vec<String>,
}

/// `response:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestResponse {
    /// Status (default 200).
    pub status: Option<u16>,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body.
    #[serde(default)]
    pub body: String,
}

/// `expect:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The status the client gets.
    pub status: Option<u16>,
    /// Whether the request reaches the upstream.
    pub forwarded: Option<bool>,
    /// A text the body the client gets contains.
    pub body_contains: Option<String>,
    /// Headers the client gets.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Callouts answered from the file.
struct Canned(BTreeMap<String, Vec<CannedAnswer>>);

impl Transport for Canned {
    fn send(&self, callout: Callout) -> BoxFuture<'static, Result<CalloutAnswer, String>> {
        let path = callout.headers.get(b":path").unwrap_or_default().to_vec();
        let found = self.0.get(&callout.upstream).and_then(|answers| {
            answers
                .iter()
                .find(|a| a.path == "*" || a.path.as_bytes() == path.as_slice())
        });
        let answer = match found {
            Some(a) => match a.status {
                Some(status) => {
                    let mut headers = HeaderList::default();
                    headers.add(b":status", status.to_string().as_bytes());
                    for (k, v) in &a.headers {
                        headers.add(k.as_bytes(), v.as_bytes());
                    }
                    Ok(CalloutAnswer {
                        headers,
                        body: a.body.clone().into_bytes(),
                        trailers: HeaderList::default(),
                    })
                }
                None => Err("the test file makes this call fail".to_string()),
            },
            None => Err(format!(
                "no answer in the test file for {} {}",
                callout.upstream,
                String::from_utf8_lossy(&path)
            )),
        };
        Box::pin(async move { answer })
    }
}

/// Reads `file`, runs its requests and writes the report to `out`; `Ok(true)` when every
/// expectation held, `Err` when the file or the plugin cannot be used.
pub fn run(file: &Path, out: &mut dyn std::io::Write) -> Result<bool, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let tests: TestFile =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let module_path = base.join(&tests.plugin.module);
    let bytes =
        std::fs::read(&module_path).map_err(|e| format!("{}: {e}", module_path.display()))?;
    let module =
        engine::load(&bytes, None).map_err(|e| format!("{}: {e}", module_path.display()))?;
    let sink = LogSink::default();
    let clock_ns = Arc::new(AtomicI64::new(0));
    let reading = clock_ns.clone();
    let info = PluginInfo {
        name: "under-test".into(),
        root_id: String::new(),
        vm_id: "under-test".into(),
        config: spec::config_bytes(tests.plugin.config.as_ref()),
        vm_config: spec::config_bytes(tests.plugin.vm_config.as_ref()),
        log_level: LogLevel::Trace,
        limits: PluginLimits {
            pause_timeout: Duration::from_secs(5),
            ..PluginLimits::default()
        },
        fail: FailMode::Closed,
        shared: shared::for_vm("under-test"),
        families: PluginFamilies::global().clone(),
        upstreams: tests.callouts.keys().cloned().collect(),
        sink: Some(sink.clone()),
        clock: Some(Arc::new(move || match reading.load(Ordering::Relaxed) {
            0 => SystemTime::now(),
            ns => SystemTime::UNIX_EPOCH + Duration::from_nanos(ns as u64),
        })),
    };
    let plugin = Plugin::new(module, info, Arc::new(Canned(tests.callouts)))
        .map_err(|e| format!("{}: the plugin does not start: {e}", module_path.display()))?;
    let plugin = Arc::new(plugin);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut all_met = true;
    for (i, request) in tests.requests.iter().enumerate() {
        let at = match request.at.as_deref().map(parse_time).transpose() {
            Ok(at) => at.unwrap_or(0),
            Err(e) => return Err(format!("requests[{i}].at: {e}")),
        };
        clock_ns.store(at, Ordering::Relaxed);
        sink.lock().clear();
        let outcome = runtime.block_on(report::exchange(&plugin, request));
        let logs = std::mem::take(&mut *sink.lock());
        all_met &=
            report::print(out, i + 1, request, &outcome, &logs).map_err(|e| e.to_string())?;
    }
    Ok(all_met)
}

/// Nanoseconds since 1970 of an RFC 3339 time.
fn parse_time(text: &str) -> Result<i64, String> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
            format!("{text:?} is not an RFC 3339 time such as 2026-09-01T08:00:00+02:00: {e}")
        })?;
    Ok(t.unix_timestamp_nanos() as i64)
}
