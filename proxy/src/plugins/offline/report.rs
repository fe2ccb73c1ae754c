//! One request of `vigie plugin test` through the plugin, and its report.

use std::io::Write;
use std::sync::Arc;

use super::{TestRequest, TestResponse};
use crate::auth::Identity;
use crate::plugins::abi::LogLevel;
use crate::plugins::facts::RequestFacts;
use crate::plugins::runtime::Plugin;
use crate::plugins::state::{HeaderList, LocalResponse};
use crate::plugins::stream::{Body, PluginRun, Verdict};

/// What happened to one request.
pub(super) struct Outcome {
    /// The request as sent upstream, when it was.
    forwarded: Option<HeaderList>,
    /// The request head before the plugin.
    original: HeaderList,
    /// Whether the plugin answered itself.
    by_plugin: bool,
    /// Why the plugin failed (the client then gets 503).
    failed: Option<String>,
    /// Whether the plugin reset the request.
    closed: bool,
    /// What the client gets.
    status: u16,
    headers: HeaderList,
    body: Vec<u8>,
}

fn map_of(status: u16, headers: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> HeaderList {
    let mut map = HeaderList::default();
    map.add(b":status", status.to_string().as_bytes());
    map.0.extend(headers);
    map
}

/// The request head `r` describes, with pseudo-headers.
fn request_map(r: &TestRequest, method: &str, host: &str) -> HeaderList {
    let mut request = HeaderList::default();
    request.add(b":authority", host.as_bytes());
    request.add(b":path", r.path.as_bytes());
    request.add(b":method", method.as_bytes());
    request.add(b":scheme", b"https");
    for (k, v) in &r.headers {
        request.add(k.as_bytes(), v.as_bytes());
    }
    request
}

/// Runs `r` through `plugin`.
pub(super) async fn exchange(plugin: &Arc<Plugin>, r: &TestRequest) -> Outcome {
    let method = r.method.as_deref().unwrap_or("GET");
    let host = r.host.as_deref().unwrap_or("vigie.test");
    let mut facts = RequestFacts::offline(method, &r.path, host);
    facts.route = "test".into();
    facts.identity = r.identity.as_ref().map(|i| {
        Arc::new(Identity {
            provider: i.issuer.as_deref().unwrap_or("test").into(),
            subject: i.subject.clone(),
            profile: i.profile.clone(),
            acr: i.acr.clone(),
            school_ids: i.school_ids.clone(),
            children_ids: i.children_ids.clone(),
            ..Identity::default()
        })
    });
    let mut run = PluginRun::new(std::slice::from_ref(plugin), facts);
    let original = request_map(r, method, host);
    let mut verdict = run
        .request_headers(original.clone(), r.body.is_none())
        .await;
    let request = run.changed_request().unwrap_or_else(|| original.clone());
    if let (Verdict::Continue, Some(body)) = (&verdict, &r.body)
        && let Body::Stop(v) = run.request_body(body.clone().into_bytes(), true).await
    {
        verdict = v;
    }
    let mut outcome = Outcome {
        forwarded: None,
        original,
        by_plugin: false,
        failed: None,
        closed: false,
        status: 0,
        headers: HeaderList::default(),
        body: Vec::new(),
    };
    match verdict {
        Verdict::Continue => {
            outcome.forwarded = Some(request);
            let none = TestResponse {
                status: None,
                headers: Default::default(),
                body: String::new(),
            };
            let resp = r.response.as_ref().unwrap_or(&none);
            let headers = resp
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase().into_bytes(), v.clone().into_bytes()));
            let upstream = LocalResponse {
                status: resp.status.unwrap_or(200),
                headers: HeaderList(headers.collect()),
                body: resp.body.clone().into_bytes(),
                details: String::new(),
            };
            respond(&mut run, upstream, &mut outcome).await;
        }
        Verdict::Respond(local) => {
            outcome.by_plugin = true;
            respond(&mut run, local, &mut outcome).await;
        }
        Verdict::Fail { fault, .. } => {
            outcome.failed = Some(fault.to_string());
            outcome.status = 503;
        }
        Verdict::Close => outcome.closed = true,
        Verdict::TooLarge => outcome.status = 413,
    }
    run.finish();
    outcome
}

/// Runs the response callbacks over `resp` and records what the client gets.
async fn respond(run: &mut PluginRun, resp: LocalResponse, outcome: &mut Outcome) {
    let mut map = map_of(resp.status, resp.headers.0);
    let verdict = run
        .response_headers(map.clone(), resp.body.is_empty())
        .await;
    if let Some(seen) = run.response_head() {
        map = seen;
    }
    let body = match verdict {
        Verdict::Continue => match run.response_body(resp.body.clone(), true) {
            Body::Forward(b) => b,
            Body::Stop(_) => resp.body,
        },
        Verdict::Respond(local) => {
            outcome.by_plugin = true;
            map = map_of(local.status, local.headers.0);
            local.body
        }
        Verdict::Fail { fault, .. } => {
            outcome.failed = Some(fault.to_string());
            map = map_of(503, []);
            Vec::new()
        }
        Verdict::Close | Verdict::TooLarge => {
            outcome.closed = true;
            Vec::new()
        }
    };
    outcome.status = map
        .get(b":status")
        .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
        .unwrap_or(200);
    outcome.headers = HeaderList(
        map.0
            .into_iter()
            .filter(|(k, _)| !k.starts_with(b":"))
            .collect(),
    );
    outcome.body = body;
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the plugin changed in the request it let through.
fn changes(o: &Outcome, sent: &HeaderList) -> String {
    let added = sent
        .0
        .iter()
        .filter(|p| !o.original.0.contains(p))
        .map(|(k, v)| format!("{}: {}", text(k), text(v)));
    let removed = o
        .original
        .0
        .iter()
        .filter(|(k, _)| sent.get(k).is_none())
        .map(|(k, _)| format!("-{}", text(k)));
    let all: Vec<String> = added.chain(removed).collect();
    if all.is_empty() {
        "unchanged".into()
    } else {
        all.join(", ")
    }
}

/// Writes the report of request `n`; `Ok(false)` when an expectation failed.
pub(super) fn print(
    out: &mut dyn Write,
    n: usize,
    r: &TestRequest,
    o: &Outcome,
    logs: &[(LogLevel, String)],
) -> std::io::Result<bool> {
    writeln!(out, "[{n}] {}", r.name.as_deref().unwrap_or(&r.path))?;
    let who = r.identity.as_ref().map_or("anonymous".to_string(), |i| {
        format!(
            "{} {}",
            i.profile.as_deref().unwrap_or("(no profile)"),
            i.subject
        )
    });
    let method = r.method.as_deref().unwrap_or("GET");
    writeln!(out, "    {method} {} ({who})", r.path)?;
    for (level, line) in logs {
        writeln!(out, "    plugin log ({level:?}): {line}")?;
    }
    if let Some(sent) = &o.forwarded {
        writeln!(out, "    -> forwarded upstream ({})", changes(o, sent))?;
    }
    if o.closed {
        writeln!(out, "    <- reset by the plugin, no answer")?;
    } else {
        let by = if o.by_plugin {
            "answered by the plugin"
        } else {
            "answer"
        };
        writeln!(out, "    <- {by}: {}, {} bytes", o.status, o.body.len())?;
        for (k, v) in &o.headers.0 {
            writeln!(out, "       {}: {}", text(k), text(v))?;
        }
    }
    if let Some(why) = &o.failed {
        writeln!(out, "    plugin failed: {why}")?;
    }
    let mut met = true;
    if let Some(e) = &r.expect {
        let mut check = |what: String, ok: bool| -> std::io::Result<()> {
            met &= ok;
            writeln!(
                out,
                "    expect {what}: {}",
                if ok { "ok" } else { "FAILED" }
            )
        };
        if let Some(status) = e.status {
            check(format!("status {status}"), !o.closed && o.status == status)?;
        }
        if let Some(forwarded) = e.forwarded {
            check(
                format!("forwarded {forwarded}"),
                o.forwarded.is_some() == forwarded,
            )?;
        }
        if let Some(part) = &e.body_contains {
            let body = text(&o.body);
            check(
                format!("body contains {part:?}"),
                body.contains(part.as_str()),
            )?;
        }
        for (k, v) in &e.headers {
            let got = o.headers.get(k.to_ascii_lowercase().as_bytes());
            check(format!("header {k}: {v}"), got == Some(v.as_bytes()))?;
        }
    }
    writeln!(out)?;
    Ok(met)
}
