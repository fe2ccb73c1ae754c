//! The gate's slots, queue bounds and the essential share.

use std::time::Duration;

use super::*;

fn gate(max: u32, waiting: u32, timeout_ms: u64, reserved: u32) -> Gate {
    let registry = prometheus::Registry::new();
    let families = GateFamilies::register(|c| registry.register(c)).expect("metrics");
    Gate::new(
        ConcurrencySpec {
            max_in_flight: max,
            max_waiting: waiting,
            queue_timeout: Duration::from_millis(timeout_ms),
            reserved,
        },
        families.for_upstream("livret"),
    )
}

#[tokio::test]
async fn a_full_gate_queues_then_admits_when_a_slot_frees() {
    let g = Arc::new(gate(2, 10, 5_000, 0));
    let a = g.enter(true).await.expect("slot 1");
    let _b = g.enter(true).await.expect("slot 2");
    assert_eq!(g.metrics.in_flight.get(), 2);
    let waiter = tokio::spawn({
        let g = g.clone();
        async move { g.enter(true).await.map(|_| ()) }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while g.metrics.waiting.get() == 0 {
        assert!(Instant::now() < deadline, "the third request never queued");
        tokio::task::yield_now().await;
    }
    drop(a);
    assert_eq!(waiter.await.expect("task"), Ok(()));
    assert_eq!(g.metrics.waiting.get(), 0);
    assert_eq!(g.metrics.wait.get_sample_count(), 1);
}

#[tokio::test]
async fn waits_are_bounded_in_time_and_in_number() {
    let g = gate(1, 1, 50, 0);
    let _held = g.enter(true).await.expect("slot");
    let started = Instant::now();
    assert_eq!(g.enter(true).await.err(), Some(Shed::Timeout));
    assert!(started.elapsed() >= Duration::from_millis(50));
    // One waiter allowed: a second one is refused at once, without waiting.
    let (first, second) = tokio::join!(g.enter(true), async {
        tokio::task::yield_now().await;
        let t = Instant::now();
        (g.enter(true).await.err(), t.elapsed())
    });
    assert_eq!(first.err(), Some(Shed::Timeout));
    assert_eq!(second.0, Some(Shed::QueueFull));
    assert!(second.1 < Duration::from_millis(50), "refused at once");
    assert_eq!(g.metrics.shed[2].get(), 1, "essential, queue full");
    assert_eq!(g.metrics.shed[3].get(), 2, "essential, timeout");
    assert_eq!(g.metrics.waiting.get(), 0);
}

#[tokio::test]
async fn optional_routes_leave_the_reserved_share_to_essential_ones() {
    let g = gate(10, 10, 30, 2);
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(g.enter(false).await.expect("an optional slot"));
    }
    assert_eq!(
        g.enter(false).await.err(),
        Some(Shed::Timeout),
        "optional share used up"
    );
    held.push(g.enter(true).await.expect("essential slot 9"));
    held.push(g.enter(true).await.expect("essential slot 10"));
    assert_eq!(
        g.enter(true).await.err(),
        Some(Shed::Timeout),
        "every slot taken"
    );
    // Essential requests may use the optional share too.
    held.remove(0);
    held.push(g.enter(true).await.expect("a freed optional slot"));
    assert_eq!(g.metrics.in_flight.get(), 10);
    drop(held);
    assert_eq!(g.metrics.in_flight.get(), 0, "every slot freed");
}
