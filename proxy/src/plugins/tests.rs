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

/// Every host function taking a pointer, called with pointers outside memory (and huge
/// lengths): `(name, params, statuses accepted)`.
const OUT_OF_BOUNDS: &[(&str, &str, &str)] = &[
    ("proxy_log", "2 BAD 100", "6"),
    ("proxy_get_log_level", "BAD", "6"),
    ("proxy_get_current_time_nanoseconds", "BAD", "6"),
    ("proxy_get_buffer_bytes", "0 0 10 BAD BAD", "6"),
    ("proxy_set_buffer_bytes", "0 0 0 BAD 100", "6"),
    ("proxy_get_buffer_status", "0 BAD BAD", "6"),
    ("proxy_get_header_map_pairs", "0 BAD BAD", "6"),
    ("proxy_set_header_map_pairs", "0 BAD 100", "6"),
    ("proxy_set_header_map_pairs", "0 0 0x7fffffff", "6"),
    ("proxy_get_header_map_value", "0 BAD 5 BAD BAD", "6"),
    ("proxy_add_header_map_value", "0 BAD 5 BAD 5", "6"),
    ("proxy_replace_header_map_value", "0 BAD 5 BAD 5", "6"),
    ("proxy_remove_header_map_value", "0 BAD 5", "6"),
    ("proxy_get_header_map_size", "0 BAD", "6"),
    ("proxy_get_property", "BAD 5 BAD BAD", "6"),
    ("proxy_set_property", "BAD 5 BAD 5", "6"),
    ("proxy_send_local_response", "200 BAD 5 BAD 5 BAD 5 -1", "6"),
    ("proxy_http_call", "BAD 5 BAD 5 BAD 5 BAD 5 100 BAD", "6"),
    ("proxy_get_status", "BAD BAD BAD", "6"),
    ("proxy_get_shared_data", "BAD 5 BAD BAD BAD", "6"),
    ("proxy_set_shared_data", "BAD 5 BAD 5 0", "6"),
    ("proxy_register_shared_queue", "BAD 5 BAD", "6"),
    ("proxy_resolve_shared_queue", "BAD 5 BAD 5 BAD", "6"),
    ("proxy_enqueue_shared_queue", "1 BAD 5", "6 1"),
    ("proxy_dequeue_shared_queue", "1 BAD BAD", "6 1"),
    ("proxy_define_metric", "0 BAD 5 BAD", "6"),
    ("proxy_get_metric", "0 BAD", "6 1"),
    ("proxy_call_foreign_function", "BAD 5 BAD 5 BAD BAD", "1"),
    (
        "proxy_grpc_call",
        "BAD 5 BAD 5 BAD 5 BAD 5 BAD 5 100 BAD",
        "10",
    ),
    ("proxy_grpc_stream", "BAD 5 BAD 5 BAD 5 BAD 5 BAD", "10"),
    ("proxy_grpc_send", "1 BAD 5 0", "1"),
];

/// The WASI functions taking a pointer: `(name, wasm params, args, errnos accepted)`.
const WASI_OUT_OF_BOUNDS: &[(&str, &str, &str, &str)] = &[
    ("fd_write", "i32 i32 i32 i32", "1 BAD 1 BAD", "21"),
    ("random_get", "i32 i32", "BAD 10", "21"),
    ("clock_time_get", "i32 i64 i32", "0 0:i64 BAD", "21"),
    ("environ_sizes_get", "i32 i32", "BAD BAD", "21"),
    ("fd_read", "i32 i32 i32 i32", "0 BAD 1 BAD", "52"),
];

fn arg(a: &str) -> String {
    match a {
        "BAD" => "(i32.const 0xfffffff0)".into(),
        a if a.ends_with(":i64") => format!("(i64.const {})", a.trim_end_matches(":i64")),
        a => format!("(i32.const {a})"),
    }
}

#[tokio::test]
async fn pointers_outside_memory_get_a_status_in_every_host_function_never_a_crash() {
    let mut imports = String::new();
    let mut calls = String::new();
    let mut names = String::new();
    let mut offset = 1024;
    let mut declared = BTreeSet::new();
    let mut add = |module: &str, name: &str, types: String, args: &str, accepted: &str| {
        if declared.insert(name.to_string()) {
            imports.push_str(&format!(
                "(import \"{module}\" \"{name}\" (func ${name} (param {types}) (result i32)))\n"
            ));
        }
        let accepted: Vec<&str> = accepted.split(' ').collect();
        let (a, b) = (accepted[0], accepted[accepted.len() - 1]);
        let args: Vec<String> = args.split(' ').map(arg).collect();
        calls.push_str(&format!(
            "(call $expect (call ${name} {}) (i32.const {a}) (i32.const {b}) (i32.const {offset}) (i32.const {}))\n",
            args.join(" "),
            name.len()
        ));
        names.push_str(&format!("(data (i32.const {offset}) \"{name}\")\n"));
        offset += 64;
    };
    for (name, args, accepted) in OUT_OF_BOUNDS {
        let types = vec!["i32"; args.split(' ').count()].join(" ");
        add("env", name, types, args, accepted);
    }
    for (name, types, args, accepted) in WASI_OUT_OF_BOUNDS {
        add(
            "wasi_snapshot_preview1",
            name,
            types.to_string(),
            args,
            accepted,
        );
    }
    let body = format!(
        r#"
  (func $expect (param $status i32) (param $a i32) (param $b i32) (param $name i32) (param $len i32)
    (if (i32.and (i32.ne (local.get $status) (local.get $a)) (i32.ne (local.get $status) (local.get $b)))
      (then
        (drop (call $proxy_log (i32.const 4) (local.get $name) (local.get $len)))
        unreachable)))
  (func $request_headers (param i32 i32 i32) (result i32)
    {calls}
    (i32.const 0))
  {names}"#
    );
    let (plugin, sink) = load(&module(&imports, &body), limits(), FailMode::Closed);
    let verdict = run_once(&plugin).await;
    assert!(
        matches!(verdict, Verdict::Continue),
        "{verdict:?}; the plugin logged {:?}",
        sink.lock()
    );
    assert_eq!(failures(&plugin, "trap"), 0);
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

#[tokio::test]
async fn a_plugin_cannot_grow_host_memory_without_bound() {
    let imports = r#"
      (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
      (import "env" "proxy_set_buffer_bytes" (func $set (param i32 i32 i32 i32 i32) (result i32)))"#;
    // Adds `x-a: 1` 2,000 times, then appends 64 KiB to the request body 100 times: each loop
    // must be refused (status 2) before it ends, or the module traps.
    let body = r#"
      (data (i32.const 1024) "x-a1")
      (func $request_headers (param i32 i32 i32) (result i32)
        (local $i i32)
        (block $refused
          (loop $again
            (br_if $refused (i32.eq (call $add (i32.const 0) (i32.const 1024) (i32.const 3)
                                             (i32.const 1027) (i32.const 1)) (i32.const 2)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $again (i32.lt_u (local.get $i) (i32.const 2000)))
            unreachable))
        (local.set $i (i32.const 0))
        (block $refused
          (loop $again
            (br_if $refused (i32.eq (call $set (i32.const 0) (i32.const -1) (i32.const 0)
                                             (i32.const 0) (i32.const 65536)) (i32.const 2)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $again (i32.lt_u (local.get $i) (i32.const 100)))
            unreachable))
        (i32.const 0))"#;
    // Thousands of host calls: time enough for a debug build on a busy machine.
    let limits = PluginLimits {
        call_timeout: Duration::from_secs(5),
        ..limits()
    };
    let (plugin, _) = load(&module(imports, body), limits, FailMode::Closed);
    let verdict = run_once(&plugin).await;
    assert!(matches!(verdict, Verdict::Continue), "{verdict:?}");
}
