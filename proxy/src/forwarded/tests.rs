#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn trusted(list: &[&str]) -> TrustedProxies {
    let cidrs: Vec<Cidr> = list.iter().map(|s| s.parse().expect("cidr")).collect();
    TrustedProxies::new(&cidrs)
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, http::HeaderValue::from_static(v));
    }
    h
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn untrusted_peer_is_the_client_and_its_headers_are_ignored() {
    let h = headers(&[
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.example"),
    ]);
    let f = resolve(
        ip("203.0.113.9"),
        false,
        Some("portail.fr"),
        &h,
        &trusted(&["10.0.0.0/8"]),
    );
    assert_eq!(f.client, ip("203.0.113.9"));
    assert_eq!(f.for_chain, "203.0.113.9");
    assert_eq!(f.proto, "http");
    assert_eq!(f.host.as_deref(), Some("portail.fr"));
    assert!(!f.peer_trusted);
}

#[test]
fn trusted_peer_chain_is_walked_from_the_right_to_the_first_untrusted_hop() {
    let h = headers(&[
        ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
        ("x-forwarded-for", "10.0.0.2"),
    ]);
    let f = resolve(
        ip("10.0.0.1"),
        true,
        Some("portail.fr"),
        &h,
        &trusted(&["10.0.0.0/8"]),
    );
    assert_eq!(
        f.client,
        ip("198.51.100.7"),
        "6.6.6.6 was written by the client itself"
    );
    assert_eq!(f.for_chain, "6.6.6.6, 198.51.100.7, 10.0.0.2, 10.0.0.1");
    assert_eq!(f.proto, "https");
}

/// A request from the trusted proxy 10.1.1.1 to `internal:8080` carrying `pairs`.
fn via_trusted_proxy(pairs: &[(&'static str, &'static str)]) -> Forwarded {
    let h = headers(pairs);
    resolve(
        ip("10.1.1.1"),
        false,
        Some("internal:8080"),
        &h,
        &trusted(&["10.0.0.0/8"]),
    )
}

#[test]
fn trusted_peer_keeps_proto_and_host_when_valid() {
    let f = via_trusted_proxy(&[
        ("x-forwarded-proto", "HTTPS"),
        ("x-forwarded-host", "ent.ac-nantes.fr"),
    ]);
    assert_eq!(f.proto, "https");
    assert_eq!(f.host.as_deref(), Some("ent.ac-nantes.fr"));
    let f = via_trusted_proxy(&[
        ("x-forwarded-proto", "gopher"),
        ("x-forwarded-host", "bad host"),
    ]);
    assert_eq!(f.proto, "http");
    assert_eq!(f.host.as_deref(), Some("internal:8080"));
}

#[test]
fn unreadable_hop_stops_the_walk_and_ports_and_ipv6_are_understood() {
    let h = headers(&[(
        "x-forwarded-for",
        "[2001:db8::5]:443, garbage, 10.0.0.9:1234",
    )]);
    let f = resolve(ip("10.0.0.1"), false, None, &h, &trusted(&["10.0.0.0/8"]));
    assert_eq!(f.client, ip("10.0.0.9"));
    let h = headers(&[("x-forwarded-for", "[2001:db8::5]:443")]);
    let f = resolve(ip("10.0.0.1"), false, None, &h, &trusted(&["10.0.0.0/8"]));
    assert_eq!(f.client, ip("2001:db8::5"));
}

#[test]
fn ipv4_mapped_peer_matches_ipv4_networks() {
    let f = resolve(
        ip("::ffff:10.0.0.1"),
        false,
        None,
        &headers(&[]),
        &trusted(&["10.0.0.0/8"]),
    );
    assert!(f.peer_trusted);
    assert_eq!(f.client, ip("10.0.0.1"));
}
