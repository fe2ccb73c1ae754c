//! The queue on a fake clock: the admission rate holds, admission follows arrival, tickets are
//! used once, abandoned ones expire without taking credit.

use super::*;

/// 10 admissions a second, a burst of 10, tickets living 30 s.
const P: Params = Params {
    rate_per_ms: 0.01,
    burst: 10.0,
    ttl_ms: 30_000,
    capacity: 1_000,
};

fn admitted(a: impl Into<Option<Answer>>) -> bool {
    a.into() == Some(Answer::Admitted)
}

/// `n` newcomers at time 0, each of whom must wait: their tickets (numbered from 0, and
/// with everyone before them ahead).
fn queue(room: &mut Room, p: &Params, n: usize) -> Vec<u64> {
    (0..n)
        .map(|_| match room.enter(p, 0) {
            Answer::Waiting { ticket, ahead } => {
                assert_eq!(ahead, ticket);
                ticket
            }
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn under_the_rate_nobody_waits() {
    let mut room = Room::new(&P, 0);
    for i in 0..100u64 {
        assert!(
            admitted(room.enter(&P, i * 150)),
            "one login every 150 ms passes"
        );
    }
    assert!(room.is_empty());
}

#[test]
fn ten_times_the_rate_admits_at_the_rate_in_arrival_order() {
    let mut room = Room::new(&P, 0);
    let mut now = 0;
    let mut tickets = Vec::new();
    let mut admitted_at = Vec::new();
    // 100 newcomers a second for 10 s; everyone waiting comes back every second.
    for second in 0..10u64 {
        for i in 0..100 {
            now = second * 1000 + i * 10;
            match room.enter(&P, now) {
                Answer::Admitted => admitted_at.push((now, None)),
                Answer::Waiting { ticket, .. } => tickets.push(ticket),
                Answer::Full => panic!("1000 places are enough"),
            }
        }
        for &t in &tickets {
            if admitted(room.poll(&P, t, now)) {
                admitted_at.push((now, Some(t)));
            }
        }
        tickets.retain(|t| !admitted_at.iter().any(|(_, a)| *a == Some(*t)));
    }
    // At most the burst plus the rate over the elapsed time.
    let allowed = 10 + (now as usize) / 100;
    assert!(
        admitted_at.len() <= allowed,
        "{} > {allowed}",
        admitted_at.len()
    );
    // Polling once a second, some accrual is lost to the burst cap between sweeps.
    assert!(
        admitted_at.len() * 10 >= allowed * 9,
        "at least 90% of the rate is used: {} of {allowed}",
        admitted_at.len()
    );
    let order: Vec<u64> = admitted_at.iter().filter_map(|(_, t)| *t).collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "first come, first served: {order:?}"
    );
    assert_eq!(order[0], 0);
}

#[test]
fn the_queue_position_goes_down_as_tickets_are_admitted() {
    let p = Params { burst: 1.0, ..P };
    let mut room = Room::new(&p, 0);
    assert!(admitted(room.enter(&p, 0)));
    let waiting = queue(&mut room, &p, 5);
    assert_eq!(
        room.poll(&p, waiting[4], 0),
        Some(Answer::Waiting {
            ticket: 4,
            ahead: 4
        })
    );
    // 100 ms later one credit moved the head past ticket 0.
    assert_eq!(
        room.poll(&p, waiting[4], 100),
        Some(Answer::Waiting {
            ticket: 4,
            ahead: 3
        })
    );
    assert!(admitted(room.poll(&p, waiting[0], 100)));
}

#[test]
fn a_ticket_is_used_once() {
    let p = Params { burst: 1.0, ..P };
    let mut room = Room::new(&p, 0);
    assert!(admitted(room.enter(&p, 0)));
    let Answer::Waiting { ticket, .. } = room.enter(&p, 0) else {
        panic!("queued")
    };
    assert!(admitted(room.poll(&p, ticket, 100)));
    assert_eq!(room.poll(&p, ticket, 100), None, "replayed");
    assert_eq!(room.poll(&p, 999, 100), None, "never issued");
}

#[test]
fn abandoned_tickets_expire_and_take_no_credit() {
    // One admission a second, tickets living 1 s.
    let p = Params {
        rate_per_ms: 0.001,
        burst: 1.0,
        ttl_ms: 1_000,
        ..P
    };
    let mut room = Room::new(&p, 0);
    assert!(admitted(room.enter(&p, 0)));
    // Three people queue; the first two leave and never come back.
    let t = queue(&mut room, &p, 3);
    assert_eq!(
        room.poll(&p, t[2], 90),
        Some(Answer::Waiting {
            ticket: 2,
            ahead: 2
        })
    );
    // At 1.05 s one admission accrued: the two abandoned tickets expired at 1 s and do not
    // take it; the third, still refreshing, does.
    assert!(admitted(room.poll(&p, t[2], 1_050)));
    assert_eq!(room.poll(&p, t[0], 1_050), None, "expired");
    assert!(room.is_empty());
    // A ticket not refreshed within its time to live expires.
    let Answer::Waiting { ticket, .. } = room.enter(&p, 1_050) else {
        panic!("queued")
    };
    assert_eq!(room.poll(&p, ticket, 2_100), None);
}

#[test]
fn turns_accrue_between_rare_visits_but_sends_stay_paced() {
    let p = Params { burst: 1.0, ..P };
    let mut room = Room::new(&p, 0);
    assert!(admitted(room.enter(&p, 0)));
    let tickets = queue(&mut room, &p, 60);
    // Nobody calls for 5 s: 50 turns came (their ahead is 0), but the provider is sent one
    // login at once (the burst), then one every 100 ms, in ticket order.
    let first: Vec<bool> = tickets
        .iter()
        .map(|&t| admitted(room.poll(&p, t, 5_000)))
        .collect();
    assert_eq!(first.iter().filter(|a| **a).count(), 1);
    assert!(first[0]);
    assert_eq!(
        room.poll(&p, tickets[49], 5_000),
        Some(Answer::Waiting {
            ticket: 49,
            ahead: 0
        })
    );
    assert_eq!(
        room.poll(&p, tickets[55], 5_000),
        Some(Answer::Waiting {
            ticket: 55,
            ahead: 5
        })
    );
    for (step, &t) in tickets[1..50].iter().enumerate() {
        let now = 5_100 + 100 * step as u64;
        assert!(admitted(room.poll(&p, t, now)), "ticket {t} at {now}");
        assert!(
            !admitted(room.poll(&p, tickets[step + 2], now)),
            "one per 100 ms"
        );
    }
}

#[test]
fn a_full_room_turns_newcomers_away_without_a_ticket() {
    let p = Params {
        burst: 1.0,
        capacity: 3,
        ..P
    };
    let mut room = Room::new(&p, 0);
    assert!(admitted(room.enter(&p, 0)));
    let tickets = queue(&mut room, &p, 3);
    assert_eq!(room.enter(&p, 0), Answer::Full);
    assert_eq!(room.len(), 3, "no ticket for the one turned away");
    // Room again once someone passes.
    assert!(admitted(room.poll(&p, tickets[0], 100)));
    assert!(matches!(
        room.enter(&p, 100),
        Answer::Waiting { ticket: 3, .. }
    ));
}

#[test]
fn a_clock_going_back_changes_nothing() {
    let mut room = Room::new(&P, 10_000);
    for _ in 0..10 {
        assert!(admitted(room.enter(&P, 10_000)));
    }
    assert!(
        matches!(room.enter(&P, 5_000), Answer::Waiting { .. }),
        "no credit from the past"
    );
}
