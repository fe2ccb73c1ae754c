//! The proxy-wasm SDK's examples, as the conformance plugins of `plugins/conformance/` show
//! them (PROXY-WASM.md §3), run by the built binary against real HTTP: the observable
//! behaviour of each (status, headers, body, log lines) as the SDK's READMEs describe it.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use support::{LISTENERS, Vigie, client, fixed_http, plugin_wasm, upstream};

fn config(app: std::net::SocketAddr, httpbin: std::net::SocketAddr) -> String {
    let wasm = |name: &str| plugin_wasm(name).display().to_string();
    format!(
        r#"
{LISTENERS}upstreams:
  app: {{ backends: ["{app}"] }}
  httpbin: {{ backends: ["{httpbin}"] }}
plugins:
  hello: {{ module: "{hello}" }}
  headers: {{ module: "{headers}" }}
  auth: {{ module: "{auth}" }}
  body: {{ module: "{body}" }}
  config: {{ module: "{config}", config: "from Vigie's YAML" }}
routes:
  - {{ name: headers, hosts: [headers.test], path_prefix: /, upstream: app, access: public, plugins: [headers] }}
  - {{ name: auth, hosts: [auth.test], path_prefix: /, upstream: app, access: public, plugins: [auth] }}
  - {{ name: body, hosts: [body.test], path_prefix: /, upstream: app, access: public, plugins: [body] }}
  - {{ name: config, hosts: [config.test], path_prefix: /, upstream: app, access: public, plugins: [config] }}
"#,
        hello = wasm("conformance_hello_world"),
        headers = wasm("conformance_http_headers"),
        auth = wasm("conformance_http_auth_random"),
        body = wasm("conformance_http_body"),
        config = wasm("conformance_http_config"),
    )
}

/// Log messages of plugin `name`.
fn plugin_logs(vigie: &Vigie, name: &str) -> Vec<String> {
    vigie
        .json_logs(|v| v["plugin"] == name)
        .into_iter()
        .map(|v| v["message"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_examples_behave_as_documented() {
    let app = upstream("app").await;
    let byte = Arc::new(AtomicU8::new(2));
    let next = byte.clone();
    let httpbin = fixed_http(move |_, path| {
        assert_eq!(path, "/bytes/1");
        (
            200,
            "application/octet-stream",
            vec![next.load(Ordering::SeqCst)],
        )
    })
    .await;
    let vigie = Vigie::start(&config(app.addr, httpbin));
    let http = client();
    let get =
        |host: &'static str, path: &str| http.get(vigie.url(path)).header("host", host).send();

    // hello_world, a root-only plugin no route lists (a service, as an Envoy bootstrap
    // extension): logs at start, then ticks every 5 s.
    vigie.poll_until("hello_world to start", || {
        plugin_logs(&vigie, "hello")
            .iter()
            .any(|m| m == "Hello, World!")
    });
    vigie.poll_until("a tick of hello_world", || {
        plugin_logs(&vigie, "hello")
            .iter()
            .any(|m| m.starts_with("It's ") && m.contains("your lucky number is"))
    });

    // http_headers: /hello answered by the plugin, without the upstream; others proxied.
    let served = app.requests();
    let r = get("headers.test", "/hello").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["hello"], "World");
    assert_eq!(r.headers()["powered-by"], "proxy-wasm");
    assert_eq!(r.text().await.unwrap(), "Hello, World!\n");
    assert_eq!(app.requests(), served, "the upstream was not called");
    let r = get("headers.test", "/other").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.requests(), served + 1);
    let logs = plugin_logs(&vigie, "headers");
    assert!(
        logs.iter().any(|m| m.ends_with("-> :path: /hello")),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|m| m.ends_with("-> :authority: headers.test")),
        "{logs:?}"
    );
    assert!(logs.iter().any(|m| m.ends_with(" completed.")), "{logs:?}");

    // http_auth_random: an even byte from httpbin lets the request in, an odd one is 403.
    let r = get("auth.test", "/page").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["powered-by"], "proxy-wasm");
    byte.store(3, Ordering::SeqCst);
    let r = get("auth.test", "/page").await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.text().await.unwrap(), "Access forbidden.\n");

    // http_body: a body containing "secret" is redacted once whole; others pass unchanged.
    let r = get("body.test", "/secret").await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.starts_with("Original message body (") && text.ends_with(" bytes) redacted.\n"),
        "{text}"
    );
    let r = get("body.test", "/public").await.unwrap();
    let echo: serde_json::Value = r.json().await.unwrap();
    assert_eq!(echo["path"], "/public");

    // http_config: the configuration string from the YAML comes back as a header.
    let r = get("config.test", "/").await.unwrap();
    assert_eq!(r.headers()["custom-header"], "from Vigie's YAML");
}

/// A config with http_config under `value`, from `module`.
fn reload_config(app: std::net::SocketAddr, module: &str, value: &str) -> String {
    format!(
        r#"
{LISTENERS}upstreams:
  app: {{ backends: ["{app}"] }}
plugins:
  config: {{ module: "{module}", config: "{value}" }}
routes:
  - {{ name: app, path_prefix: /, upstream: app, access: public, plugins: [config] }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_reload_with_the_config_and_a_broken_module_is_refused() {
    let app = upstream("app").await;
    let module = plugin_wasm("conformance_http_config").display().to_string();
    let vigie = Vigie::start(&reload_config(app.addr, &module, "one"));
    let http = client();
    let header = || async {
        let r = http.get(vigie.url("/")).send().await.unwrap();
        r.headers()["custom-header"].to_str().unwrap().to_string()
    };
    assert_eq!(header().await, "one");
    // A request paused across the reload would finish on its old instance; new ones get
    // the new configuration.
    vigie.rewrite_config(&reload_config(app.addr, &module, "two"));
    vigie.signal("HUP");
    let deadline = std::time::Instant::now() + support::DEADLINE;
    while header().await != "two" {
        assert!(
            std::time::Instant::now() < deadline,
            "the new configuration never served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A module that is not WebAssembly: the reload is refused, the plugin keeps serving.
    let broken = vigie.dir.write("broken.wasm", "not a module");
    let refused = vigie.metric("vigie_config_reloads_total{result=\"failure\"}");
    vigie.rewrite_config(&reload_config(
        app.addr,
        &broken.display().to_string(),
        "three",
    ));
    vigie.signal("HUP");
    vigie.poll_until("the broken module to be refused", || {
        vigie.metric("vigie_config_reloads_total{result=\"failure\"}") > refused
    });
    assert_eq!(header().await, "two");
    let logged = vigie.json_logs(|v| v.to_string().contains("not a valid WebAssembly module"));
    assert!(!logged.is_empty(), "the refusal names the reason");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_takes_compiled_modules_from_the_cache() {
    let app = upstream("app").await;
    let module = plugin_wasm("conformance_http_config").display().to_string();
    let cache = support::TempDir::new();
    std::fs::set_permissions(
        cache.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let yaml = format!(
        "server: {{ plugin_cache: \"{}\" }}\n{}",
        cache.path().display(),
        reload_config(app.addr, &module, "cached")
    );
    let files = || -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path(), e.metadata().unwrap().modified().unwrap())
            })
            .collect()
    };
    let first = Vigie::start(&yaml);
    let written = files();
    assert_eq!(written.len(), 1, "one compiled module: {written:?}");
    drop(first);
    // The second process finds it (a rewrite would mean it compiled again) and runs it.
    let second = Vigie::start(&yaml);
    assert_eq!(files(), written);
    let r = client().get(second.url("/")).send().await.unwrap();
    assert_eq!(r.headers()["custom-header"], "cached");
}
