#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The host with hand-written modules (WAT): the request life, and hostile modules — loops,
//! memory growth, traps, pointers outside memory in every host function — each contained,
//! counted, and the instance replaced within the crash-rate limit.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::abi::LogLevel;
use super::runtime::{LogSink, NoTransport};
use super::*;

/// A module: a bump allocator, every lifecycle export, and `body` (which may define
/// `$request_headers` and `$response_headers`, each `(param i32 i32 i32) (result i32)`, and
/// `$done` `(param i32) (result i32)`, `$log` and `$delete` `(param i32)`).
pub(super) fn module(imports: &str, body: &str) -> String {
    let default = |name: &str| {
        let signature = match name {
            "done" => "(param i32) (result i32) (i32.const 1)",
            "log" | "delete" => "(param i32)",
            _ => "(param i32 i32 i32) (result i32) (i32.const 0)",
        };
        if body.contains(&format!("(func ${name}")) {
            String::new()
        } else {
            format!("(func ${name} {signature})")
        }
    };
    format!(
        r#"(module
  {imports}
  (memory (export "memory") 2)
  (global $next (mut i32) (i32.const 65536))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $n)))
    (local.get $p))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (export "proxy_on_done" (func $done))
  (export "proxy_on_log" (func $log))
  (export "proxy_on_delete" (func $delete))
  (export "proxy_on_request_headers" (func $request_headers))
  (export "proxy_on_response_headers" (func $response_headers))
  {rh} {rs} {done} {log} {delete}
  {body}
)"#,
        rh = default("request_headers"),
        rs = default("response_headers"),
        done = default("done"),
        log = default("log"),
        delete = default("delete"),
    )
}

/// A plugin from `wat`, its log lines kept.
pub(super) fn load(wat: &str, limits: PluginLimits, fail: FailMode) -> (Arc<Plugin>, LogSink) {
    static VM: AtomicU64 = AtomicU64::new(0);
    let sink = LogSink::default();
    let vm_id = format!("test-{}", VM.fetch_add(1, Ordering::Relaxed));
    let module = module::PluginModule::compile(engine::engine(), wat.as_bytes()).unwrap();
    let info = PluginInfo {
        name: vm_id.clone(),
        root_id: String::new(),
        vm_id: vm_id.clone(),
        config: b"{}".to_vec(),
        vm_config: Vec::new(),
        log_level: LogLevel::Trace,
        limits,
        fail,
        shared: shared::for_vm(&vm_id),
        families: shared::PluginFamilies::global().clone(),
        upstreams: BTreeSet::new(),
        sink: Some(sink.clone()),
        clock: None,
    };
    let plugin = Plugin::new(module, info, Arc::new(NoTransport)).unwrap();
    (Arc::new(plugin), sink)
}

fn request() -> HeaderList {
    let mut h = HeaderList::default();
    h.add(b":authority", b"ent.test");
    h.add(b":path", b"/");
    h.add(b":method", b"GET");
    h.add(b":scheme", b"https");
    h
}

fn failures(plugin: &Plugin, reason: &str) -> u64 {
    plugin
        .info
        .families
        .failures
        .with_label_values(&[&plugin.info.name, reason])
        .get()
}

async fn run_once(plugin: &Arc<Plugin>) -> Verdict {
    let mut run = PluginRun::new(
        std::slice::from_ref(plugin),
        RequestFacts::offline("GET", "/", "ent.test"),
    );
    let verdict = run.request_headers(request(), true).await;
    run.finish();
    verdict
}

fn limits() -> PluginLimits {
    PluginLimits {
        call_timeout: Duration::from_millis(50),
        memory: 4 << 20,
        ..PluginLimits::default()
    }
}

#[tokio::test]
async fn an_endless_loop_is_stopped_at_its_deadline_and_fails_closed() {
    let wat = module(
        "",
        "(func $request_headers (param i32 i32 i32) (result i32) (loop (br 0)) (i32.const 0))",
    );
    let (plugin, _) = load(&wat, limits(), FailMode::Closed);
    let started = Instant::now();
    match run_once(&plugin).await {
        Verdict::Fail {
            fault: Fault::Timeout(50),
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(failures(&plugin, "timeout"), 1);
    // A new instance replaced the poisoned one and is stopped the same way.
    assert!(matches!(
        run_once(&plugin).await,
        Verdict::Fail {
            fault: Fault::Timeout(_),
            ..
        }
    ));
}

#[tokio::test]
async fn memory_growth_past_the_cap_is_refused_and_fails_open_when_asked() {
    let wat = module(
        "",
        "(func $request_headers (param i32 i32 i32) (result i32)
           (loop (drop (memory.grow (i32.const 16))) (br 0)) (i32.const 0))",
    );
    let (plugin, _) = load(&wat, limits(), FailMode::Open);
    assert!(
        matches!(run_once(&plugin).await, Verdict::Continue),
        "fail open"
    );
    assert_eq!(failures(&plugin, "memory"), 1);
}

#[tokio::test]
async fn a_trap_mid_request_fails_the_response_and_the_context_is_not_called_again() {
    let wat = module(
        "",
        "(func $response_headers (param i32 i32 i32) (result i32) unreachable)",
    );
    let (plugin, _) = load(&wat, limits(), FailMode::Closed);
    let mut run = PluginRun::new(
        std::slice::from_ref(&plugin),
        RequestFacts::offline("GET", "/", "ent.test"),
    );
    assert!(matches!(
        run.request_headers(request(), true).await,
        Verdict::Continue
    ));
    let mut response = HeaderList::default();
    response.add(b":status", b"200");
    match run.response_headers(response, true).await {
        Verdict::Fail {
            fault: Fault::Trap(why),
            ..
        } => assert!(why.contains("unreachable"), "{why}"),
        other => panic!("{other:?}"),
    }
    run.finish();
    assert_eq!(failures(&plugin, "trap"), 1);
    // Other requests get a fresh instance: their request phase works.
    assert!(matches!(run_once(&plugin).await, Verdict::Continue));
}

#[tokio::test]
async fn after_too_many_crashes_a_plugin_is_not_restarted_for_a_while() {
    let wat = module(
        "",
        "(func $request_headers (param i32 i32 i32) (result i32) unreachable)",
    );
    let limits = PluginLimits {
        max_crashes_per_minute: 3,
        ..limits()
    };
    let (plugin, _) = load(&wat, limits, FailMode::Closed);
    for _ in 0..3 {
        assert!(matches!(
            run_once(&plugin).await,
            Verdict::Fail {
                fault: Fault::Trap(_),
                ..
            }
        ));
    }
    for _ in 0..5 {
        assert!(matches!(
            run_once(&plugin).await,
            Verdict::Fail {
                fault: Fault::Unavailable(3),
                ..
            }
        ));
    }
    assert_eq!(failures(&plugin, "trap"), 3);
    assert_eq!(failures(&plugin, "unavailable"), 5);
}

#[tokio::test]
async fn every_context_ends_with_done_log_delete_even_when_the_request_is_dropped() {
    let log = |name: &str, at: usize| {
        format!(
            r#"(func ${name} (param i32) {result}
                 (drop (call $proxy_log (i32.const 2) (i32.const {at}) (i32.const {len}))) {value})
               (data (i32.const {at}) "{name}")"#,
            result = if name == "done" { "(result i32)" } else { "" },
            value = if name == "done" { "(i32.const 1)" } else { "" },
            len = name.len(),
        )
    };
    let body = format!(
        "{} {} {}",
        log("done", 1024),
        log("log", 1088),
        log("delete", 1152)
    );
    let imports =
        r#"(import "env" "proxy_log" (func $proxy_log (param i32 i32 i32) (result i32)))"#;
    let (plugin, sink) = load(&module(imports, &body), limits(), FailMode::Closed);
    let lines = || {
        sink.lock()
            .iter()
            .map(|(_, l)| l.clone())
            .collect::<Vec<_>>()
    };
    // Finished normally.
    assert!(matches!(run_once(&plugin).await, Verdict::Continue));
    assert_eq!(lines(), ["done", "log", "delete"]);
    // Dropped mid-way (a client gone, a task cancelled): the same, once.
    sink.lock().clear();
    let facts = RequestFacts::offline("GET", "/", "ent.test");
    let mut run = PluginRun::new(std::slice::from_ref(&plugin), facts);
    assert!(matches!(
        run.request_headers(request(), false).await,
        Verdict::Continue
    ));
    drop(run);
    assert_eq!(lines(), ["done", "log", "delete"]);
}

mod bounds;
