//! Limits on a fake clock: quotas, bursts, keys (behind trusted proxies, IPv6 by /64, people,
//! routes), the header fields, and the bound on remembered keys.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use http::HeaderMap;
use prometheus::IntCounter;

use super::*;
use crate::config::values::{Cidr, Rate};
use crate::forwarded::{self, TrustedProxies};

fn spec(name: &str, key: &[LimitKeyPart], rate: &str, burst: u32, max_keys: u64) -> RateLimitSpec {
    RateLimitSpec {
        name: name.into(),
        key: key.to_vec(),
        rate: rate.parse::<Rate>().expect("rate"),
        burst,
        max_keys,
    }
}

fn limiter(
    spec: RateLimitSpec,
) -> (
    Arc<Limiter<FakeRelativeClock>>,
    FakeRelativeClock,
    IntCounter,
) {
    let clock = FakeRelativeClock::default();
    let counter = IntCounter::new("limited", "test").expect("counter");
    let limit = Limiter::with_clock(spec, clock.clone(), counter.clone());
    (Arc::new(limit), clock, counter)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn from(client: &str) -> LimitKey {
    LimitKey {
        client: Some(client_key(ip(client))),
        ..LimitKey::default()
    }
}

fn allowed(v: Verdict) -> bool {
    matches!(v, Verdict::Allowed { .. })
}

#[test]
fn a_burst_then_the_sustained_rate() {
    let (limit, clock, counter) = limiter(spec(
        "per_client",
        &[LimitKeyPart::ClientAddress],
        "2/s",
        3,
        100,
    ));
    let key = from("192.0.2.1");
    for n in (0..3).rev() {
        assert_eq!(
            limit.check(&key),
            Verdict::Allowed {
                remaining: n,
                reset: Duration::from_millis(500) * (3 - n)
            }
        );
    }
    assert_eq!(
        limit.check(&key),
        Verdict::Limited {
            retry_after: Duration::from_millis(500)
        }
    );
    clock.advance(Duration::from_millis(499));
    assert!(
        !allowed(limit.check(&key)),
        "one cell every 500 ms, not sooner"
    );
    clock.advance(Duration::from_millis(1));
    assert!(allowed(limit.check(&key)));
    assert!(!allowed(limit.check(&key)));
    // A long pause refills the burst, never beyond it.
    clock.advance(Duration::from_secs(60));
    assert_eq!((0..5).filter(|_| allowed(limit.check(&key))).count(), 3);
    assert_eq!(counter.get(), 5, "every refusal is counted");
}

#[test]
fn over_a_minute_the_rate_holds() {
    let (limit, clock, _) = limiter(spec("api", &[], "600/min", 10, 100));
    let key = LimitKey::default();
    let mut passed = 0;
    // 50 requests a second for 60 s: 10 at once, then one every 100 ms.
    for _ in 0..3000 {
        passed += usize::from(allowed(limit.check(&key)));
        clock.advance(Duration::from_millis(20));
    }
    assert!((600..=611).contains(&passed), "{passed} passed");
}

#[test]
fn clients_behind_trusted_proxies_are_counted_apart() {
    let (limit, _, _) = limiter(spec("c", &[LimitKeyPart::ClientAddress], "1/s", 1, 100));
    let trusted = TrustedProxies::new(&["10.0.0.0/8".parse::<Cidr>().expect("cidr")]);
    let key_of = |peer: &str, xff: &str| {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().expect("header"));
        let client = forwarded::resolve(ip(peer), false, None, &headers, &trusted).client;
        let route: Arc<str> = "r".into();
        let who = Requester {
            client,
            identity: None,
            route: &route,
        };
        limit.key(&who).expect("key")
    };
    // Two parents behind the académie's load balancer: two keys.
    assert!(allowed(limit.check(&key_of("10.1.1.1", "198.51.100.7"))));
    assert!(allowed(limit.check(&key_of("10.1.1.1", "198.51.100.8"))));
    assert!(
        !allowed(limit.check(&key_of("10.2.2.2", "198.51.100.7"))),
        "same client, other proxy"
    );
    // A client not behind a trusted proxy cannot pick its key with X-Forwarded-For.
    assert!(allowed(
        limit.check(&key_of("203.0.113.9", "198.51.100.50"))
    ));
    assert!(!allowed(
        limit.check(&key_of("203.0.113.9", "198.51.100.51"))
    ));
    // Spoofed hops left of the first untrusted one do not count either.
    assert!(!allowed(
        limit.check(&key_of("10.1.1.1", "1.2.3.4, 198.51.100.8"))
    ));
}

#[test]
fn ipv6_clients_are_counted_by_their_64() {
    assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
    assert_eq!(
        client_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
        ip("2001:db8:1:2::")
    );
    assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    assert_eq!(client_key(ip("192.0.2.1")), ip("192.0.2.1"));
    let (limit, _, _) = limiter(spec("c", &[LimitKeyPart::ClientAddress], "1/s", 2, 100));
    assert!(allowed(limit.check(&from("2001:db8:1:2::1"))));
    assert!(allowed(limit.check(&from("2001:db8:1:2:dead:beef::9"))));
    assert!(
        !allowed(limit.check(&from("2001:db8:1:2::3"))),
        "same /64, same count"
    );
    assert!(
        allowed(limit.check(&from("2001:db8:1:3::1"))),
        "next /64, its own count"
    );
}

#[test]
fn keys_combine_people_routes_and_addresses() {
    let person = |subject: &str| crate::auth::Identity {
        provider: "franceconnect".into(),
        subject: subject.into(),
        ..crate::auth::Identity::default()
    };
    let (a, b) = (person("a"), person("b"));
    let (livret, bourse): (Arc<str>, Arc<str>) = ("livret".into(), "bourse".into());
    let who = |client: &str, identity, route| Requester {
        client: ip(client),
        identity,
        route,
    };
    let (by_person, _, _) = limiter(spec("p", &[LimitKeyPart::Subject], "1/s", 1, 100));
    let key = |l: &Limiter<_>, w: Requester<'_>| l.key(&w).expect("key");
    assert!(allowed(
        by_person.check(&key(&by_person, who("192.0.2.1", Some(&a), &livret)))
    ));
    assert!(allowed(
        by_person.check(&key(&by_person, who("192.0.2.1", Some(&b), &livret)))
    ));
    assert!(
        !allowed(by_person.check(&key(&by_person, who("198.51.100.1", Some(&a), &bourse)))),
        "the same person from elsewhere, on another route"
    );
    assert_eq!(by_person.key(&who("192.0.2.1", None, &livret)), None);

    let (per_route, _, _) = limiter(spec(
        "r",
        &[LimitKeyPart::ClientAddress, LimitKeyPart::Route],
        "1/s",
        1,
        100,
    ));
    assert!(allowed(
        per_route.check(&key(&per_route, who("192.0.2.1", None, &livret)))
    ));
    assert!(allowed(
        per_route.check(&key(&per_route, who("192.0.2.1", None, &bourse)))
    ));
    assert!(!allowed(
        per_route.check(&key(&per_route, who("192.0.2.1", None, &livret)))
    ));

    let (global, _, _) = limiter(spec("g", &[], "1/s", 1, 100));
    assert!(allowed(
        global.check(&key(&global, who("192.0.2.1", Some(&a), &livret)))
    ));
    assert!(!allowed(
        global.check(&key(&global, who("198.51.100.1", Some(&b), &bourse)))
    ));
}

#[test]
fn header_fields_name_each_limit() {
    let (client, clock, _) = limiter(spec(
        "per_client",
        &[LimitKeyPart::ClientAddress],
        "2/s",
        4,
        100,
    ));
    let (global, _, _) = limiter(spec("livret", &[], "100/s", 100, 100));
    let route: Arc<str> = "livret".into();
    let who = Requester {
        client: ip("192.0.2.1"),
        identity: None,
        route: &route,
    };
    let limits = [client, global];
    let mut headers = RateHeaders::default();
    check_all(&limits, &who, &mut headers).expect("allowed");
    assert_eq!(
        headers.policy,
        r#""per_client";q=4;w=2, "livret";q=100;w=1"#
    );
    assert_eq!(headers.state, r#""per_client";r=3;t=1, "livret";r=99;t=1"#);
    for _ in 0..3 {
        check_all(&limits, &who, &mut RateHeaders::default()).expect("within the burst");
    }
    let refusal = check_all(&limits, &who, &mut RateHeaders::default()).expect_err("limited");
    assert_eq!(refusal.limit, "per_client");
    assert_eq!(refusal.retry_after, 1, "500 ms rounds up to 1 s");
    assert_eq!(refusal.headers.state, r#""per_client";r=0;t=1"#);
    clock.advance(Duration::from_millis(500));
    assert!(check_all(&limits, &who, &mut RateHeaders::default()).is_ok());
}

#[test]
fn a_flood_of_distinct_addresses_keeps_the_table_bounded() {
    let (limit, _, _) = limiter(spec("c", &[LimitKeyPart::ClientAddress], "1/s", 2, 10_000));
    let abuser = from("192.0.2.66");
    let mut abuser_passed = 0;
    for i in 0..100_000u32 {
        let v4 = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
        assert!(
            allowed(limit.check(&from(&v4.to_string()))),
            "a new address has its burst"
        );
        if i % 10 == 0 {
            abuser_passed += usize::from(allowed(limit.check(&abuser)));
        }
    }
    let kept = limit.tracked_keys();
    assert!(kept <= 10_000, "{kept} keys kept; the bound is 10000");
    assert_eq!(
        abuser_passed, 2,
        "the frequent key stays remembered, so stays limited"
    );
}
