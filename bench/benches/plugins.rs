//! The host's cost of one request through a proxy-wasm plugin, without network: context
//! creation, request headers, response headers, the response body and the end of the
//! stream (`on_done`, `on_log`, `on_delete`), with `http_config` (adds a response header)
//! and `maintenance-window` (reads the clock, lets the request through). Builds the plugins
//! for `wasm32-wasip1` first. Run with `cargo bench -p vigie-bench --bench plugins`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use vigie::plugins::abi::LogLevel;
use vigie::plugins::runtime::NoTransport;
use vigie::plugins::shared::{self, PluginFamilies};
use vigie::plugins::{
    FailMode, HeaderList, Plugin, PluginInfo, PluginLimits, PluginRun, RequestFacts, engine,
};

/// Builds the plugin workspace's `crate_name` and loads it with `config`.
fn plugin(package: &str, module: &str, config: &str) -> Arc<Plugin> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target/tmp/plugins");
    let built = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "-p",
            package,
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(root.join("plugins"))
        .status()
        .unwrap();
    assert!(built.success());
    let bytes = std::fs::read(target.join(format!("wasm32-wasip1/release/{module}.wasm"))).unwrap();
    let info = PluginInfo {
        name: module.into(),
        root_id: String::new(),
        vm_id: module.into(),
        config: config.as_bytes().to_vec(),
        vm_config: Vec::new(),
        log_level: LogLevel::Warn,
        limits: PluginLimits::default(),
        fail: FailMode::Closed,
        shared: shared::for_vm(module),
        families: PluginFamilies::global().clone(),
        upstreams: BTreeSet::new(),
        sink: None,
        clock: None,
    };
    let module = engine::load(&bytes, None).unwrap();
    Arc::new(Plugin::new(module, info, Arc::new(NoTransport)).unwrap())
}

fn request() -> HeaderList {
    let mut h = HeaderList::default();
    for (k, v) in [
        (":authority", "teleservices.education.gouv.fr"),
        (":path", "/livret/eleves/ine-1"),
        (":method", "GET"),
        (":scheme", "https"),
        ("user-agent", "wrk"),
        ("accept", "text/html"),
    ] {
        h.add(k.as_bytes(), v.as_bytes());
    }
    h
}

fn response() -> HeaderList {
    let mut h = HeaderList::default();
    for (k, v) in [
        (":status", "200"),
        ("content-type", "text/plain"),
        ("content-length", "3"),
    ] {
        h.add(k.as_bytes(), v.as_bytes());
    }
    h
}

fn one_request(runtime: &tokio::runtime::Runtime, plugin: &Arc<Plugin>) {
    runtime.block_on(async {
        let facts = RequestFacts::offline(
            "GET",
            "/livret/eleves/ine-1",
            "teleservices.education.gouv.fr",
        );
        let mut run = PluginRun::new(std::slice::from_ref(plugin), facts);
        run.request_headers(request(), true).await;
        run.response_headers(response(), false).await;
        run.response_body(b"ok\n".to_vec(), true);
        run.finish();
    });
}

fn plugins(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = plugin(
        "conformance-http-config",
        "conformance_http_config",
        "bench",
    );
    c.bench_function("plugins/one request through http_config", |b| {
        b.iter(|| one_request(&runtime, &config))
    });
    let window = r#"{"windows": [{"from": "lundi 00:00", "to": "lundi 00:00"}]}"#;
    let maintenance = plugin("maintenance-window", "maintenance_window", window);
    c.bench_function("plugins/one request through maintenance-window", |b| {
        b.iter(|| one_request(&runtime, &maintenance))
    });
}

criterion_group!(benches, plugins);
criterion_main!(benches);
