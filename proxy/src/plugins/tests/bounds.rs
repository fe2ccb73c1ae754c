//! Guest pointers and sizes the host must refuse: outside memory in every host function
//! that takes one, and writes that would grow host memory without bound.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{failures, limits, load, module, run_once};
use crate::plugins::{FailMode, PluginLimits, Verdict};

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
