//! Hostile and broken plugins against the built binary: a plugin stuck in a loop or growing
//! its memory past the cap answers 503 (or lets requests through when it fails open) while
//! every other route keeps serving, failures are counted; and modules that cannot run — no
//! allocator, ABI 0.1.0, a configuration the plugin refuses — are refused at load, naming
//! the YAML path, the line and the reason.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use support::{LISTENERS, TempDir, Vigie, client, upstream};

/// A plugin (WAT: the engine reads text too) whose `proxy_on_request_headers` is `body`, and
/// whose `proxy_on_configure` returns `configure`.
fn plugin(body: &str, configure: i32, marker: &str, allocator: &str) -> String {
    format!(
        r#"(module
  (memory (export "memory") 2)
  (func (export "{marker}"))
  (func (export "{allocator}") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const {configure}))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) {body})
)"#
    )
}

const LOOP: &str = "(loop (br 0)) (i32.const 0)";
const GROW: &str = "(loop (drop (memory.grow (i32.const 16))) (br 0)) (i32.const 0)";
const PASS: &str = "(i32.const 0)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looping_and_greedy_plugins_fail_their_requests_and_nothing_else() {
    let app = upstream("app").await;
    let dir = TempDir::new();
    dir.write(
        "grow.wat",
        plugin(
            GROW,
            1,
            "proxy_abi_version_0_2_1",
            "proxy_on_memory_allocate",
        ),
    );
    dir.write(
        "loop.wat",
        plugin(
            LOOP,
            1,
            "proxy_abi_version_0_2_1",
            "proxy_on_memory_allocate",
        ),
    );
    let vigie = Vigie::start_in(
        dir,
        &format!(
            r#"
{LISTENERS}upstreams:
  app: {{ backends: ["{app}"] }}
plugins:
  stuck: {{ module: loop.wat, limits: {{ call_timeout: 20ms }} }}
  stuck-open: {{ module: loop.wat, fail: open, limits: {{ call_timeout: 20ms }} }}
  greedy: {{ module: grow.wat, limits: {{ memory: 2MiB }} }}
routes:
  - {{ name: closed, path_prefix: /closed, upstream: app, access: public, plugins: [stuck] }}
  - {{ name: open, path_prefix: /open, upstream: app, access: public, plugins: [stuck-open] }}
  - {{ name: greedy, path_prefix: /greedy, upstream: app, access: public, plugins: [greedy] }}
  - {{ name: plain, path_prefix: /, upstream: app, access: public }}
"#,
            app = app.addr
        ),
    );
    let http = client();
    let started = Instant::now();
    let (closed, plain, open) = tokio::join!(
        http.get(vigie.url("/closed/page"))
            .header("accept", "text/html")
            .send(),
        http.get(vigie.url("/page")).send(),
        http.get(vigie.url("/open/page")).send(),
    );
    let closed = closed.unwrap();
    assert_eq!(closed.status(), 503);
    assert!(closed.headers().contains_key("retry-after"));
    let page = closed.text().await.unwrap();
    assert!(
        page.contains("lang=\"fr\"") && page.contains("indisponible"),
        "{page}"
    );
    assert_eq!(plain.unwrap().status(), 200);
    assert_eq!(
        open.unwrap().status(),
        200,
        "fail open: the request goes on"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The instance is replaced: the next request is stopped the same way, the proxy serves.
    let again = http.get(vigie.url("/closed/page")).send().await.unwrap();
    assert_eq!(again.status(), 503);
    assert_eq!(
        http.get(vigie.url("/page")).send().await.unwrap().status(),
        200
    );
    // Memory past the cap: the same, counted as such.
    let greedy = http.get(vigie.url("/greedy/page")).send().await.unwrap();
    assert_eq!(greedy.status(), 503);
    assert_eq!(
        http.get(vigie.url("/page")).send().await.unwrap().status(),
        200
    );
    let memory = vigie.metric(r#"vigie_plugin_failures_total{plugin="greedy",reason="memory"}"#);
    assert_eq!(memory, 1.0);
    let stuck = vigie.metric(r#"vigie_plugin_failures_total{plugin="stuck",reason="timeout"}"#);
    assert!(stuck >= 2.0, "{stuck}");
    let logged = vigie.json_logs(|v| v["plugin"] == "stuck" && v["level"] == "ERROR");
    assert!(!logged.is_empty(), "failures are logged");
}

#[test]
fn modules_that_cannot_run_are_refused_at_load_naming_the_reason() {
    let cases = [
        (
            plugin(PASS, 1, "proxy_abi_version_0_2_1", "not_an_allocator"),
            "plugins.p.module",
            "no allocator exported",
        ),
        (
            plugin(
                PASS,
                1,
                "proxy_abi_version_0_1_0",
                "proxy_on_memory_allocate",
            ),
            "plugins.p.module",
            "ABI 0.1.0",
        ),
        (
            plugin(
                PASS,
                0,
                "proxy_abi_version_0_2_1",
                "proxy_on_memory_allocate",
            ),
            "plugins.p.config",
            "refused its configuration",
        ),
        (
            "not wasm at all".to_string(),
            "plugins.p.module",
            "not a valid WebAssembly module",
        ),
    ];
    for (wat, path, reason) in cases {
        let dir = TempDir::new();
        dir.write("p.wat", wat);
        let yaml = LISTENERS.to_string()
            + r#"
upstreams:
  app: { backends: ["127.0.0.1:9"] }
plugins:
  p:
    module: p.wat
    config: { strict: true }
routes:
  - { name: r, path_prefix: /, upstream: app, access: public, plugins: [p] }
"#;
        let errors = vigie::config::parse(&yaml, None, dir.path()).unwrap_err();
        let found = errors.0.iter().find(|e| e.path == path);
        let e = found.unwrap_or_else(|| panic!("no error at {path}: {errors:?}"));
        assert!(e.message.contains(reason), "{e:?}");
        assert!(e.line > 0, "the line is named: {e:?}");
    }
}

#[test]
fn a_route_naming_an_unknown_plugin_is_refused() {
    let yaml = LISTENERS.to_string()
        + r#"
upstreams:
  app: { backends: ["127.0.0.1:9"] }
routes:
  - { name: r, path_prefix: /, upstream: app, access: public, plugins: [missing] }
"#;
    let errors = vigie::config::parse(&yaml, None, std::path::Path::new(".")).unwrap_err();
    let e = &errors.0[0];
    assert_eq!(e.path, "routes[0].plugins[0]");
    assert!(e.message.contains("no plugin named \"missing\""), "{e:?}");
}
