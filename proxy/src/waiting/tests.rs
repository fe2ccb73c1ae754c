#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The fleet's queue (the Lua script in a real redis-server) against the reference machine,
//! visits with and without Redis, and tickets that cannot be forged.

use std::time::Duration;

use vigie_load_tests::redis::RedisServer;

use super::*;
use crate::config::values::Rate;
use crate::sessions::redis::tests::{TIMEOUTS, settings, store};
use crate::sessions::seal::Sealer;

fn spec(rate: &str, burst: u32, nodes: u32) -> WaitingRoomSpec {
    WaitingRoomSpec {
        provider: "fc".into(),
        admission_rate: rate.parse::<Rate>().unwrap(),
        burst,
        nodes,
        refresh: Duration::from_secs(5),
        ticket_ttl: Duration::from_secs(30),
        max_waiting: 1000,
        rate_limits: Vec::new(),
    }
}

fn room(spec: WaitingRoomSpec) -> WaitingRoom {
    let registry = prometheus::Registry::new();
    let families = RoomFamilies::register(|c| registry.register(c)).unwrap();
    WaitingRoom::new(spec, families.for_provider("fc"), 0)
}

/// A small deterministic generator (xorshift), so a failure replays.
struct Steps(u64);

impl Steps {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_script_is_the_reference_machine() {
    let server = RedisServer::start().expect("redis-server (installed by .ci/prepare)");
    let redis = store(&settings(vec![server.url()], false), TIMEOUTS);
    let p = Params {
        // A power of two, so sums of accruals are exact both in Rust and after Lua's
        // 14-digit string round trip: the machines must agree to the last step.
        rate_per_ms: 0.0078125,
        burst: 3.0,
        ttl_ms: 2_000,
        // Small enough that the room fills now and then.
        capacity: 5,
    };
    let shared = shared::SharedRoom::new(&redis, "differential");
    let mut reference = Room::new(&p, 1_000_000);
    let mut steps = Steps(0x5eed);
    let mut now = 1_000_000;
    let mut issued: Vec<u64> = Vec::new();
    let mut kinds = [0usize; 4];
    for step in 0..1500 {
        now += steps.next(120);
        let poll = !issued.is_empty() && steps.next(3) > 0;
        let (expected, got) = if poll {
            // Mostly recent tickets (people still waiting), now and then an old one.
            let recent = issued.len().min(8) as u64;
            let back = if steps.next(10) == 0 {
                steps.next(issued.len() as u64)
            } else {
                steps.next(recent)
            };
            let t = issued[issued.len() - 1 - back as usize];
            let got = shared.poll(&redis, &p, t, now).await.unwrap();
            (reference.poll(&p, t, now), got)
        } else {
            let got = shared.enter(&redis, &p, now).await.unwrap();
            (Some(reference.enter(&p, now)), Some(got))
        };
        assert_eq!(got, expected, "step {step} at {now} (poll: {poll})");
        match expected {
            Some(Answer::Waiting { ticket, .. }) => {
                kinds[0] += 1;
                if !issued.contains(&ticket) {
                    issued.push(ticket);
                }
            }
            Some(Answer::Admitted) => kinds[1] += 1,
            None => kinds[2] += 1,
            Some(Answer::Full) => kinds[3] += 1,
        }
    }
    assert!(
        kinds.iter().all(|&k| k > 50),
        "every outcome was exercised: {kinds:?}"
    );
}

#[tokio::test]
async fn without_redis_a_node_queues_at_the_whole_rate() {
    let room = room(spec("10/s", 2, 1));
    let now = 1_000;
    assert_eq!(room.visit(None, None, now).await, Admission::Admitted);
    assert_eq!(room.visit(None, None, now).await, Admission::Admitted);
    let Admission::Wait {
        ticket,
        ahead,
        estimate,
        refresh,
    } = room.visit(None, None, now).await
    else {
        panic!("the third waits")
    };
    assert_eq!((ticket.number, ahead), (0, 0));
    assert_eq!(estimate, Duration::from_millis(100));
    assert_eq!(
        refresh,
        Duration::from_secs(1),
        "its turn is next: back in a second"
    );
    let far = room.spec.refresh_for(1000);
    assert_eq!(
        far,
        Duration::from_secs(15),
        "a quarter of 100 s, capped at half the ticket's 30 s"
    );
    assert_eq!(
        room.spec.refresh_for(3),
        Duration::from_secs(5),
        "never sooner than refresh"
    );
    assert_eq!(ticket.scope, Scope::Node(room.node));
    // Still waiting a moment later; admitted once 100 ms of credit accrued.
    let again = room.visit(Some(&ticket), None, now + 50).await;
    assert!(
        matches!(again, Admission::Wait { ref ticket, .. } if ticket.number == 0 && ticket.issued == now)
    );
    assert_eq!(
        room.visit(Some(&ticket), None, now + 100).await,
        Admission::Admitted
    );
    // Used: presenting it again is a newcomer's visit.
    let replay = room.visit(Some(&ticket), None, now + 100).await;
    assert!(matches!(replay, Admission::Wait { ref ticket, .. } if ticket.number == 1));
    assert_eq!(room.metrics.unknown.get(), 1);
    assert_eq!(room.metrics.admitted_direct.get(), 2);
    assert_eq!(room.metrics.admitted_queued.get(), 1);
    // A ticket for another provider is not this room's.
    let other = Ticket {
        provider: "educonnect".into(),
        ..ticket
    };
    assert!(matches!(
        room.visit(Some(&other), None, now + 100).await,
        Admission::Wait { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_the_queue_in_redis_and_fall_back_to_their_share() {
    let mut server = RedisServer::start().expect("redis-server (installed by .ci/prepare)");
    let redis = store(&settings(vec![server.url()], false), TIMEOUTS);
    let (a, b) = (room(spec("4/s", 4, 2)), room(spec("4/s", 4, 2)));
    let now = now_ms();
    for _ in 0..4 {
        assert_eq!(a.visit(None, Some(&redis), now).await, Admission::Admitted);
    }
    // Node b sees the burst spent by a: one queue for the fleet.
    let Admission::Wait { ticket, .. } = b.visit(None, Some(&redis), now).await else {
        panic!("b's newcomer waits")
    };
    assert_eq!(ticket.scope, Scope::Fleet);
    // The ticket b gave is good on a.
    assert_eq!(
        a.visit(Some(&ticket), Some(&redis), now + 250).await,
        Admission::Admitted
    );

    server.stop();
    // Each node now admits alone, its share: a burst of 4 / 2 nodes.
    for node in [&a, &b] {
        let later = now + 60_000;
        let admitted =
            futures::future::join_all((0..4).map(|_| node.visit(None, Some(&redis), later)))
                .await
                .into_iter()
                .filter(|v| *v == Admission::Admitted)
                .count();
        assert_eq!(admitted, 2);
        assert_eq!(node.metrics.fallback.get(), 4);
    }
}

#[test]
fn tickets_are_sealed() {
    let sealer = Sealer::random().unwrap();
    let ticket = Ticket {
        provider: "fc".into(),
        scope: Scope::Fleet,
        number: 41,
        issued: 7,
    };
    let cookie = ticket.set_cookie(&sealer, Duration::from_secs(35));
    assert!(cookie.starts_with("__Host-vigie_wait="), "{cookie}");
    assert!(cookie.contains("Max-Age=35"), "{cookie}");
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let headers = |v: &str| {
        let mut h = http::HeaderMap::new();
        h.insert("cookie", format!("{COOKIE}={v}").parse().unwrap());
        h
    };
    assert_eq!(Ticket::from_cookie(&headers(value), &sealer), Some(ticket));
    // Any edit breaks the seal, and another process's key does not open it.
    let mut edited = value.to_string();
    let last = edited.pop().unwrap();
    edited.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(Ticket::from_cookie(&headers(&edited), &sealer), None);
    assert_eq!(
        Ticket::from_cookie(&headers(value), &Sealer::random().unwrap()),
        None
    );
    assert_eq!(Ticket::from_cookie(&headers("not-a-ticket"), &sealer), None);
}
