//! The per-request cost of the traffic decisions: a rate-limit check (one limit by client
//! address over 10,000 clients; then that limit and one by person together, with the header
//! fields), and a waiting-room visit on one node. Run with
//! `cargo bench -p vigie-bench --bench traffic`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use prometheus::IntCounter;
use vigie::auth::Identity;
use vigie::config::file::LimitKeyPart;
use vigie::ratelimit::{self, RateHeaders, RateLimit, RateLimitSpec, Requester};
use vigie::waiting::{Params, Room};

fn limit(name: &str, key: &[LimitKeyPart]) -> Arc<RateLimit> {
    let spec = RateLimitSpec {
        name: name.into(),
        key: key.to_vec(),
        rate: "1000000/s".parse().unwrap(),
        burst: 1_000_000,
        max_keys: 100_000,
    };
    Arc::new(RateLimit::build(spec, IntCounter::new("x", "x").unwrap()))
}

fn traffic(c: &mut Criterion) {
    let clients: Vec<IpAddr> = (0..10_000u32)
        .map(|i| IpAddr::from((0x0a00_0000 + i).to_be_bytes()))
        .collect();
    let route: Arc<str> = "livret".into();
    let per_client = [limit("per_client", &[LimitKeyPart::ClientAddress])];
    let mut i = 0;
    c.bench_function("ratelimit/check one limit by client, 10k clients", |b| {
        b.iter(|| {
            i = (i + 1) % clients.len();
            let who = Requester {
                client: clients[i],
                identity: None,
                route: &route,
            };
            let mut headers = RateHeaders::default();
            black_box(ratelimit::check_all(&per_client, &who, &mut headers)).unwrap();
            headers
        })
    });
    let both = [
        per_client[0].clone(),
        limit("per_person", &[LimitKeyPart::Subject]),
    ];
    let people: Vec<Identity> = (0..10_000)
        .map(|n| Identity {
            provider: "franceconnect".into(),
            subject: format!("{n:064x}"),
            ..Identity::default()
        })
        .collect();
    c.bench_function("ratelimit/check by client and by person, 10k people", |b| {
        b.iter(|| {
            i = (i + 1) % clients.len();
            let who = Requester {
                client: clients[i],
                identity: Some(&people[i]),
                route: &route,
            };
            let mut headers = RateHeaders::default();
            black_box(ratelimit::check_all(&both, &who, &mut headers)).unwrap();
            headers
        })
    });
    let p = Params {
        rate_per_ms: 0.05,
        burst: 5.0,
        ttl_ms: 30_000,
        capacity: 1_000_000,
    };
    let mut room = Room::new(&p, 0);
    let mut now = 0;
    c.bench_function(
        "waiting/visit a room 10x over its rate (enter or poll)",
        |b| {
            b.iter(|| {
                now += 2;
                match room.enter(&p, now) {
                    vigie::waiting::Answer::Waiting { ticket, .. } if ticket > 100 => {
                        black_box(room.poll(&p, ticket - 100, now))
                    }
                    other => Some(other),
                }
            })
        },
    );
}

criterion_group!(benches, traffic);
criterion_main!(benches);
