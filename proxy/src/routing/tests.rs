#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use super::*;
use crate::config::file::Balancing;
use crate::metrics::Metrics;
use crate::upstreams::{HashKey, UpstreamSpec};

fn pool() -> Arc<Pool> {
    Arc::new(Pool::build(UpstreamSpec {
        name: "u".into(),
        backends: vec![(
            "127.0.0.1:1".into(),
            vec!["127.0.0.1:1".parse().expect("addr")],
        )],
        balancing: Balancing::RoundRobin,
        hash_key: HashKey::ClientAddress,
        connect_timeout: std::time::Duration::from_secs(1),
        read_timeout: std::time::Duration::from_secs(1),
        write_timeout: std::time::Duration::from_secs(1),
        idle_timeout: std::time::Duration::from_secs(1),
        health_check: None,
        tls: None,
    }))
}

fn route(name: &str, hosts: &[&str], prefix: &str, rewrite: Option<&str>) -> Arc<Route> {
    let metrics = Metrics::new().expect("metrics");
    Arc::new(Route {
        spec: RouteSpec {
            name: name.into(),
            hosts: hosts
                .iter()
                .map(|h| HostPattern::parse(h).expect("host"))
                .collect(),
            path_prefix: prefix.into(),
            upstream: "u".into(),
            rewrite_prefix: rewrite.map(String::from),
            request_headers: HeaderRules::default(),
            response_headers: HeaderRules::default(),
            access: crate::auth::Access::Public,
            rate_limits: Vec::new(),
            essential: false,
            plugins: Vec::new(),
        },
        upstream: pool(),
        metrics: metrics.for_route(name),
        audience: "u".into(),
        name: name.into(),
        pre_auth: Vec::new(),
        post_auth: Vec::new(),
        gate: None,
        plugins: Vec::new(),
    })
}

fn table() -> Routes {
    Routes::new(vec![
        route("root", &[], "/", None),
        route("ts", &[], "/ts", None),
        route("ts-bourses", &[], "/ts/bourses", None),
        route("ent-nantes", &["ent.ac-nantes.fr"], "/", None),
        route("ent-nantes-api", &["ent.ac-nantes.fr"], "/api", None),
        route("academies", &["*.ac-nantes.fr"], "/", None),
    ])
}

fn selected(routes: &Routes, host: Option<&str>, path: &str) -> Option<String> {
    routes.select(host, path).map(|r| r.spec.name.clone())
}

#[test]
fn longest_prefix_on_whole_segments() {
    let t = table();
    assert_eq!(selected(&t, None, "/ts").as_deref(), Some("ts"));
    assert_eq!(selected(&t, None, "/ts/x").as_deref(), Some("ts"));
    assert_eq!(
        selected(&t, None, "/ts/bourses/2026").as_deref(),
        Some("ts-bourses")
    );
    assert_eq!(selected(&t, None, "/tsx").as_deref(), Some("root"));
    assert_eq!(selected(&t, None, "/ts/boursesX").as_deref(), Some("ts"));
}

#[test]
fn host_first_exact_then_wildcard_then_any() {
    let t = table();
    assert_eq!(
        selected(&t, Some("ent.ac-nantes.fr"), "/api/v1").as_deref(),
        Some("ent-nantes-api")
    );
    assert_eq!(
        selected(&t, Some("ENT.ac-nantes.fr:443"), "/").as_deref(),
        Some("ent-nantes")
    );
    assert_eq!(
        selected(&t, Some("ent.ac-nantes.fr."), "/").as_deref(),
        Some("ent-nantes")
    );
    assert_eq!(
        selected(&t, Some("lycee.ac-nantes.fr"), "/ts").as_deref(),
        Some("academies")
    );
    assert_eq!(
        selected(&t, Some("ac-nantes.fr"), "/ts").as_deref(),
        Some("ts"),
        "the wildcard needs a sub-domain"
    );
    assert_eq!(
        selected(&t, Some("[::1]:8080"), "/ts").as_deref(),
        Some("ts")
    );
}

#[test]
fn no_route_without_a_catch_all() {
    let t = Routes::new(vec![route("ts", &[], "/ts", None)]);
    assert_eq!(selected(&t, None, "/"), None);
    assert_eq!(selected(&t, None, "/other"), None);
}

#[test]
fn prefix_rewrite() {
    let r = route("ts", &[], "/ts", Some("/"));
    assert_eq!(r.upstream_path("/ts"), "/");
    assert_eq!(r.upstream_path("/ts/a/b"), "/a/b");
    let r = route("ts", &[], "/ts", Some("/api/v2"));
    assert_eq!(r.upstream_path("/ts/a"), "/api/v2/a");
    assert_eq!(r.upstream_path("/ts"), "/api/v2");
    let r = route("root", &[], "/", Some("/app/"));
    assert_eq!(r.upstream_path("/x"), "/app/x");
    assert_eq!(
        route("plain", &[], "/ts", None).upstream_path("/ts/a"),
        "/ts/a"
    );
}

#[test]
fn paths_are_normalised_or_refused() {
    assert_eq!(normalize_path("/a//b///c").as_deref(), Ok("/a/b/c"));
    assert!(matches!(
        normalize_path("/a/b"),
        Ok(std::borrow::Cow::Borrowed("/a/b"))
    ));
    assert_eq!(normalize_path("/a/../admin"), Err(PathError::DotSegment));
    assert_eq!(normalize_path("/a/./b"), Err(PathError::DotSegment));
    assert_eq!(normalize_path("/a/.."), Err(PathError::DotSegment));
    assert_eq!(
        normalize_path("/a%2F..%2Fadmin"),
        Err(PathError::EncodedSeparator)
    );
    assert_eq!(
        normalize_path("/a/%2e%2e/admin"),
        Err(PathError::EncodedSeparator)
    );
    assert_eq!(normalize_path("/a\\b"), Err(PathError::Backslash));
    assert_eq!(normalize_path("a"), Err(PathError::NotAbsolute));
    assert_eq!(
        normalize_path("/caf%C3%A9/a.b/..c").as_deref(),
        Ok("/caf%C3%A9/a.b/..c")
    );
}
