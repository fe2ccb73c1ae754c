//! Per-request decisions, measured alone: route selection, path normalisation, forwarding
//! headers, request ids and a failure page. Run with `cargo bench -p vigie-bench`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use vigie::forwarded::{self, TrustedProxies};
use vigie::metrics::Metrics;
use vigie::pages::Rejection;
use vigie::reload::Generation;
use vigie::request_id::RequestId;
use vigie::routing::normalize_path;

/// A national-portal sized table: 60 routes over 20 hosts, a wildcard and catch-alls.
fn config() -> String {
    let mut routes = String::new();
    for i in 0..20 {
        for prefix in ["/", "/api", "/api/v2/eleves"] {
            routes.push_str(&format!(
                "  - name: r{i}{}\n    hosts: [\"ent{i}.ac-nantes.fr\"]\n    path_prefix: {prefix}\n    upstream: u\n    access: public\n",
                prefix.replace('/', "-")
            ));
        }
    }
    routes.push_str(
        "  - name: wild\n    hosts: [\"*.ac-rennes.fr\"]\n    path_prefix: /\n    upstream: u\n    access: public\n",
    );
    routes.push_str(
        "  - name: ts\n    path_prefix: /teleservices\n    upstream: u\n    access: public\n",
    );
    format!(
        "listeners:\n  - name: p\n    address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n\
         trusted_proxies: [10.0.0.0/8]\nupstreams:\n  u:\n    backends: [\"127.0.0.1:9101\"]\nroutes:\n{routes}"
    )
}

fn decisions(c: &mut Criterion) {
    let config = vigie::config::parse(&config(), None, Path::new(".")).expect("valid bench config");
    let metrics = Metrics::new().expect("metrics");
    let generation = Generation::build(1, config, None, &metrics);

    c.bench_function("routing/select exact host, longest prefix", |b| {
        b.iter(|| {
            generation.routes.select(
                black_box(Some("ent17.ac-nantes.fr")),
                black_box("/api/v2/eleves/42"),
            )
        })
    });
    c.bench_function("routing/select wildcard host", |b| {
        b.iter(|| {
            generation
                .routes
                .select(black_box(Some("lycee.ac-rennes.fr:443")), black_box("/x"))
        })
    });
    c.bench_function("routing/normalize_path clean", |b| {
        b.iter(|| normalize_path(black_box("/teleservices/livret/eleve/2026")))
    });
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        http::HeaderValue::from_static("203.0.113.9, 10.1.2.3"),
    );
    let trusted: &TrustedProxies = &generation.trusted_proxies;
    c.bench_function("forwarded/resolve behind two proxies", |b| {
        b.iter(|| {
            forwarded::resolve(
                black_box("10.0.0.1".parse().unwrap()),
                true,
                Some("portail.fr"),
                &headers,
                trusted,
            )
        })
    });
    c.bench_function("request_id/generate", |b| b.iter(RequestId::generate));
    c.bench_function("pages/render 404 html", |b| {
        b.iter(|| Rejection::NoRoute.render(black_box("abc"), false))
    });
}

criterion_group!(benches, decisions);
criterion_main!(benches);
