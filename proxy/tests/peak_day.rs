//! The peak-day scenarios of `load-tests/` (the `bench/peak-day.sh` runs), short and slow,
//! so they keep working: what they must show holds at any scale. Rentrée morning: session
//! holders get no errors while newcomers queue, and the provider never receives more than
//! its burst plus its rate in a second. Token spray: session holders get no errors, sprayed
//! tokens get 401 or 429, the JWKS is not refetched for each unknown key id. Speed is
//! measured in `bench/`, never asserted here.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use vigie_load_tests::scenario::{Stack, StackSettings, rentree, spray};

fn settings() -> StackSettings {
    StackSettings {
        vigie: PathBuf::from(env!("CARGO_BIN_EXE_vigie")),
        threads: 1,
        cpus: None,
        waiting_room: String::new(),
        educonnect_room: String::new(),
        extra: String::new(),
        routes: String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rentree_morning_queues_newcomers_and_keeps_session_holders_served() {
    let s = rentree::Settings {
        base_rate: 30.0,
        peak_factor: 10.0,
        calm: Duration::from_secs(2),
        ramp: Duration::from_secs(4),
        hold: Duration::from_secs(3),
        login_share: 0.1,
        abandon_share: 0.1,
    };
    let stack = Stack::start(StackSettings {
        waiting_room: s.waiting_room(),
        educonnect_room: s.waiting_room(),
        ..settings()
    })
    .await
    .unwrap();
    let sessions = Arc::new(stack.make_sessions(40).await.unwrap());
    stack.close_the_gates().await.unwrap();
    let outcome = rentree::run(&stack, &s, sessions).await;
    println!("{}", outcome.report);
    assert!(outcome.session_requests > 500, "{}", outcome.report);
    assert_eq!(outcome.session_errors, 0, "{}", outcome.report);
    assert_eq!(outcome.failed, 0, "{}", outcome.report);
    assert!(outcome.logged_in >= 10, "{}", outcome.report);
    let (rate, burst) = (s.admission_rate() as usize, s.burst() as usize);
    for p in &outcome.providers {
        assert!(p.received > 0, "{}: {}", p.name, outcome.report);
        assert!(p.busiest_second <= rate + burst, "{}", outcome.report);
    }
    assert!(
        stack
            .metric("vigie_waiting_room_tickets_issued_total")
            .await
            > 0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_spray_is_refused_without_touching_session_holders() {
    let s = spray::Settings {
        browse_rate: 50.0,
        spray_rate: 300.0,
        calm: Duration::from_secs(1),
        spray: Duration::from_secs(3),
        sprayers: 5,
    };
    let stack = Stack::start(StackSettings {
        waiting_room: "{ admission_rate: 1000/s }".into(),
        educonnect_room: "{ admission_rate: 1000/s }".into(),
        extra: spray::RATE_LIMITS.into(),
        routes: spray::API_ROUTE.into(),
        ..settings()
    })
    .await
    .unwrap();
    let sessions = Arc::new(stack.make_sessions(20).await.unwrap());
    let outcome = spray::run(&stack, &s, sessions).await;
    println!("{}", outcome.report);
    assert_eq!(outcome.session_errors, 0, "{}", outcome.report);
    let statuses: Vec<u16> = outcome.sprayed.iter().map(|(status, _)| *status).collect();
    assert!(
        statuses.iter().all(|s| [401, 429].contains(s)),
        "{}",
        outcome.report
    );
    assert!(
        statuses.contains(&429),
        "60 a second from each of 5 sprayers: over 20/s"
    );
    assert!(outcome.jwks_fetches <= 1, "{}", outcome.report);
}
