//! The académie example plugins of `plugins/`, each with its decisions asserted end to end on
//! the built binary, people identified by bearer tokens from a mock OpenID provider (Vigie's
//! identity reaches plugins as the `vigie.*` properties); and the `hostcalls` test plugin,
//! which calls every host function, with good and bad arguments, as the path says.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use support::{
    Certs, LISTENERS, TempDir, Upstream, Vigie, client, fixed_http, plugin_wasm, upstream,
};
use vigie_load_tests::idp::Idp;
use vigie_load_tests::keys::{TestKey, now};

struct Env {
    vigie: Vigie,
    idp: Idp,
    key: TestKey,
    app: Upstream,
}

/// A maintenance window around now, whatever Paris's offset today: `day HH:MM` in Paris
/// time for UTC now + 1 h ± hours.
fn window_around_now() -> (String, String) {
    const DAYS: [&str; 7] = [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ];
    let at = |shift_min: i64| {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let minutes = unix / 60 + 60 + shift_min;
        // 1970-01-01 was a Thursday (index 3 from Monday).
        let week_minute = (minutes + 3 * 1440).rem_euclid(7 * 1440);
        let (day, rest) = (week_minute / 1440, week_minute % 1440);
        format!("{} {:02}:{:02}", DAYS[day as usize], rest / 60, rest % 60)
    };
    (at(-180), at(180))
}

async fn env() -> Env {
    let certs = Certs::generate();
    let idp = Idp::start(&certs.cert_pem, &certs.key_pem).await.unwrap();
    let key = TestKey::generate(Algorithm::ES256, "k1");
    idp.set_keys(&[&key]);
    let app = upstream("app").await;
    let directory = fixed_http(|_, path| match path {
        "/comptes/parent-42/statut" => (200, "application/json", br#"{"active": true}"#.to_vec()),
        "/comptes/inactive-7/statut" => (200, "application/json", br#"{"active": false}"#.to_vec()),
        "/dispatched" => (200, "text/plain", b"from the directory".to_vec()),
        _ => (500, "text/plain", b"broken".to_vec()),
    })
    .await;
    let dir = TempDir::new();
    dir.write("ca.pem", &certs.ca_pem);
    let (from, to) = window_around_now();
    let wasm = |name: &str| plugin_wasm(name).display().to_string();
    let yaml = format!(
        r#"
{LISTENERS}identity_providers:
  idp:
    kind: oidc
    issuer: {issuer}
    audiences: [vigie-tests]
    algorithms: [ES256]
    ca_file: ca.pem
    claims:
      profile: {{ claim: affiliation, mapping: educonnect }}
      school_ids: uai
      children_ids: children
upstreams:
  app: {{ backends: ["{app}"] }}
  annuaire: {{ backends: ["{directory}"] }}
  down: {{ backends: ["127.0.0.1:9"], connect_timeout: 1s }}
plugins:
  children: {{ module: "{children}", config: {{ path_prefix: /livret/eleves/ }} }}
  pilote: {{ module: "{uai}", config: {{ uai: ["0440001A"], profiles: [eleve, responsable] }} }}
  maintenance:
    module: "{maintenance}"
    config: {{ windows: [{{ from: "{from}", to: "{to}" }}], message: "Maintenance en cours." }}
  campagne-close: {{ module: "{campaign}", config: {{ service: Bourses, opens: "2020-09-01 08:00", closes: "2020-10-15 20:00" }} }}
  campagne-future: {{ module: "{campaign}", config: {{ service: Bourses, opens: "2099-09-01 08:00", closes: "2099-10-15 20:00" }} }}
  annuaire: {{ module: "{directory_check}", config: {{ upstream: annuaire, authority: annuaire.test, path: "/comptes/{{subject}}/statut" }} }}
  hostcalls: {{ module: "{hostcalls}" }}
routes:
  - {{ name: livret, path_prefix: /livret, upstream: app, access: {{ bearer: [idp] }}, plugins: [children] }}
  - {{ name: pilote, path_prefix: /pilote, upstream: app, access: {{ bearer: [idp] }}, plugins: [pilote] }}
  - {{ name: ent, path_prefix: /ent, upstream: app, access: public, plugins: [maintenance] }}
  - {{ name: bourses, path_prefix: /bourses, upstream: app, access: {{ bearer: [idp] }}, plugins: [campagne-close] }}
  - {{ name: bourses-2099, path_prefix: /futur, upstream: app, access: {{ bearer: [idp] }}, plugins: [campagne-future] }}
  - {{ name: annuaire, path_prefix: /compte, upstream: app, access: {{ bearer: [idp] }}, plugins: [annuaire] }}
  - {{ name: who, path_prefix: /t/property, upstream: app, access: {{ bearer: [idp] }}, plugins: [hostcalls] }}
  - {{ name: hostcalls-down, path_prefix: /t/down, upstream: down, access: public, plugins: [hostcalls] }}
  - {{ name: hostcalls, path_prefix: /t, upstream: app, access: public, plugins: [hostcalls] }}
"#,
        issuer = idp.issuer,
        app = app.addr,
        children = wasm("children_only"),
        uai = wasm("uai_allowlist"),
        maintenance = wasm("maintenance_window"),
        campaign = wasm("campaign_window"),
        directory_check = wasm("directory_check"),
        hostcalls = wasm("conformance_hostcalls"),
    );
    let vigie = Vigie::start_in(dir, &yaml);
    Env {
        vigie,
        idp,
        key,
        app,
    }
}

impl Env {
    fn token(&self, sub: &str, affiliation: &str, uai: &[&str], children: &[&str]) -> String {
        self.key.sign(&json!({
            "iss": self.idp.issuer, "aud": "vigie-tests", "sub": sub, "exp": now() + 300,
            "iat": now(), "affiliation": affiliation, "uai": uai, "children": children,
            "acr": "eidas1",
        }))
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = client()
            .get(self.vigie.url(path))
            .header("accept", "text/html");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }
}

fn french_page(body: &str) {
    assert!(body.contains("lang=\"fr\""), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_plugins_decide_as_their_readmes_say() {
    let env = env().await;
    let parent = env.token("parent-42", "resp2d", &["0440001A"], &["ine-1", "ine-2"]);
    let elsewhere = env.token("parent-9", "resp2d", &["0350009Z"], &["ine-5"]);

    // children-only: a legal guardian opens their own child's livret, not another's.
    assert_eq!(
        env.get("/livret/eleves/ine-1/notes", Some(&parent))
            .await
            .status(),
        200
    );
    let r = env.get("/livret/eleves/ine-9/notes", Some(&parent)).await;
    assert_eq!(r.status(), 403);
    french_page(&r.text().await.unwrap());

    // uai-allowlist: only the listed schools' people enter.
    assert_eq!(env.get("/pilote/", Some(&parent)).await.status(), 200);
    let r = env.get("/pilote/", Some(&elsewhere)).await;
    assert_eq!(r.status(), 403);
    french_page(&r.text().await.unwrap());

    // maintenance-window: 503 with Retry-After during the window, upstream untouched.
    let served = env.app.requests();
    let r = env.get("/ent/accueil", None).await;
    assert_eq!(r.status(), 503);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 4 * 3600, "{retry}");
    assert!(r.text().await.unwrap().contains("Maintenance en cours."));
    assert_eq!(env.app.requests(), served);

    // campaign-window: closed after the campaign; before it, Retry-After until it opens.
    let r = env.get("/bourses/demande", Some(&parent)).await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("retry-after").is_none());
    french_page(&r.text().await.unwrap());
    let r = env.get("/futur/demande", Some(&parent)).await;
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 86_400
    );

    // directory-check: an active account enters, an inactive one is refused, a broken
    // directory fails closed with 503.
    assert_eq!(env.get("/compte/", Some(&parent)).await.status(), 200);
    let inactive = env.token("inactive-7", "resp2d", &[], &[]);
    assert_eq!(env.get("/compte/", Some(&inactive)).await.status(), 403);
    let unknown = env.token("someone-else", "resp2d", &[], &[]);
    let r = env.get("/compte/", Some(&unknown)).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hostcalls_plugin_exercises_every_host_function() {
    let env = env().await;
    let text = |r: reqwest::Response| async move { (r.status().as_u16(), r.text().await.unwrap()) };

    // Request headers with pseudo-headers, as plugins expect them.
    let (status, headers) = text(env.get("/t/headers", None).await).await;
    assert_eq!(status, 200);
    for line in [
        ":authority: 127.0.0.1",
        ":path: /t/headers",
        ":method: GET",
        ":scheme: http",
        "accept: text/html",
    ] {
        assert!(headers.contains(line), "{line} in {headers}");
    }

    // Changes reach the upstream: set, added, removed headers and a new path.
    let r = client()
        .get(env.vigie.url("/t/set-headers"))
        .header("x-remove", "gone")
        .send()
        .await
        .unwrap();
    let echo: Value = r.json().await.unwrap();
    assert_eq!(echo["path"], "/echoed");
    assert_eq!(echo["headers"]["x-set"][0], "1");
    assert_eq!(echo["headers"]["x-added"][0], "a");
    assert!(echo["headers"].get("x-remove").is_none(), "{echo}");

    // Local responses, any status, with the plugin's headers.
    let r = env.get("/t/respond/418", None).await;
    assert_eq!(r.status(), 418);
    assert_eq!(r.headers()["x-local"], "yes");
    assert_eq!(r.text().await.unwrap(), "local answer");

    // Properties: Envoy's names and Vigie's identity.
    let parent = env.token("parent-42", "resp2d", &["0440001A"], &["ine-1", "ine-2"]);
    for (path, want) in [
        ("request.method", "GET"),
        ("request.url_path", "/t/property/request.url_path"),
        ("xds.route_name", "who"),
        ("xds.cluster_name", "app"),
        ("plugin_name", "hostcalls"),
        ("vigie.subject", "parent-42"),
        ("vigie.profile", "responsable"),
        ("vigie.issuer", "idp"),
        ("vigie.school_ids", "0440001A"),
        ("vigie.children_ids", "ine-1,ine-2"),
    ] {
        let (status, value) =
            text(env.get(&format!("/t/property/{path}"), Some(&parent)).await).await;
        assert_eq!((status, value.as_str()), (200, want), "{path}");
    }
    assert_eq!(
        text(env.get("/t/property/vigie.nope", Some(&parent)).await)
            .await
            .0,
        404
    );

    // Shared data with compare-and-swap, metrics, queues.
    assert_eq!(
        text(env.get("/t/shared", None).await).await,
        (200, "v2".into())
    );
    assert_eq!(
        text(env.get("/t/metrics", None).await).await,
        (200, "counter=1 gauge=42".into())
    );
    let metric = env
        .vigie
        .metric(r#"vigie_plugin_counter_total{metric="hostcalls_requests",plugin="hostcalls"}"#);
    assert_eq!(metric, 1.0);
    assert_eq!(
        text(env.get("/t/queue", None).await).await,
        (200, "a,b,empty".into())
    );

    // The request body, held until its end.
    let r = client()
        .post(env.vigie.url("/t/body"))
        .body("hello body")
        .send()
        .await
        .unwrap();
    assert_eq!(text(r).await, (200, "got 10 bytes: hello body".into()));

    // A callout to a named upstream, answered while the request waits.
    let (status, body) = text(env.get("/t/dispatch/annuaire", None).await).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "status: 200\nbody: from the directory")
    );

    // Response headers and status rewritten.
    let r = env.get("/t/response-headers", None).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["x-response"], "changed");

    // Bad arguments: each call gets the status the SDKs expect, the plugin goes on.
    let (status, lines) = text(env.get("/t/bad", None).await).await;
    assert_eq!(status, 200);
    for expected in [
        "log_bad_pointer=6",
        "log_bad_level=2",
        "map_value_bad_map=2",
        "map_value_absent=1",
        "map_value_bad_out=6",
        "set_pairs_truncated=2",
        "add_bad_name=2",
        "buffer_bad_type=2",
        "buffer_config_outside_configure=1",
        "effective_context_unknown=2",
        "property_absent=1",
        "continue_bad_stream=2",
        "shared_absent=1",
        "dequeue_unknown=1",
        "increment_unknown=1",
        "define_bad_type=2",
        "foreign_unknown=1",
        "local_bad_status=2",
        "call_unknown_upstream=2",
        "call_without_path=2",
    ] {
        assert!(
            lines.lines().any(|l| l == expected),
            "{expected} in\n{lines}"
        );
    }

    // on_log runs for every request the plugin saw: answered locally, proxied, or failed
    // upstream (502 from Vigie).
    assert_eq!(env.get("/t/down/page", None).await.status(), 502);
    let logged = |what: &str| {
        env.vigie
            .json_logs(|v| v["plugin"] == "hostcalls")
            .iter()
            .any(|v| {
                v["message"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with(&format!(" logged {what}"))
            })
    };
    env.vigie.poll_until("on_log for each kind of request", || {
        logged("respond") && logged("set-headers") && logged("down")
    });

    // A reset request: the connection is closed without an answer.
    assert!(
        client()
            .get(env.vigie.url("/t/close"))
            .send()
            .await
            .is_err()
    );
    // A trap: 503 for that request, the next one is served by a new instance.
    assert_eq!(env.get("/t/trap", None).await.status(), 503);
    assert_eq!(env.get("/t/respond/200", None).await.status(), 200);
}
