#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use super::embedded::{IdleOrAbsolute, Stored};
use super::*;

pub(super) fn record() -> SessionRecord {
    SessionRecord {
        identity: Arc::new(Identity {
            provider: "fc".into(),
            subject: "parent".into(),
            profile: Some("responsable".into()),
            display_name: None,
            school_ids: vec![],
            children_ids: vec![],
            acr: Some("eidas1".into()),
            expires_at: 0,
            ine_hash: None,
            level: None,
            birth_date: None,
        }),
        id_token: Some("header.payload.signature".into()),
        created_at: 1,
        saml: None,
    }
}

#[test]
fn ids_are_random_256_bit_and_never_printed() {
    let (a, b) = (SessionId::generate(), SessionId::generate());
    assert_ne!(a, b);
    assert_eq!(a.as_str().len(), 43);
    assert_eq!(SessionId::parse(a.as_str()), Some(a.clone()));
    assert_eq!(format!("{a:?}"), "SessionId(…)");
    for bad in [
        "",
        "short",
        &"a".repeat(44),
        &format!("{}!", &"a".repeat(42)),
    ] {
        assert_eq!(SessionId::parse(bad), None, "{bad:?}");
    }
    assert!(
        !format!("{:?}", record()).contains("signature"),
        "the ID token is never printed"
    );
}

#[tokio::test]
async fn the_embedded_store_keeps_finds_and_forgets() {
    let store = EmbeddedStore::new(
        Timeouts {
            idle: Duration::from_secs(60),
            absolute: Duration::from_secs(3600),
        },
        1000,
    );
    let id = SessionId::generate();
    assert!(store.get(&id).await.unwrap().is_none());
    store.create(&id, record()).await.unwrap();
    assert_eq!(
        store.get(&id).await.unwrap().unwrap().identity.subject,
        "parent"
    );
    store.delete(&id).await.unwrap();
    assert!(store.get(&id).await.unwrap().is_none());
}

#[test]
fn idle_timeout_is_capped_by_the_absolute_one() {
    let policy = IdleOrAbsolute(Timeouts {
        idle: Duration::from_secs(600),
        absolute: Duration::from_secs(3600),
    });
    let created = Instant::now();
    let stored = Stored {
        record: Arc::new(record()),
        created,
    };
    assert_eq!(policy.left(&stored, created), Duration::from_secs(600));
    assert_eq!(
        policy.left(&stored, created + Duration::from_secs(3300)),
        Duration::from_secs(300)
    );
    assert_eq!(
        policy.left(&stored, created + Duration::from_secs(4000)),
        Duration::ZERO
    );
}

#[test]
fn a_read_moves_the_idle_timer_only_beyond_its_resolution() {
    use moka::Expiry;
    let policy = IdleOrAbsolute(Timeouts {
        idle: Duration::from_secs(600),
        absolute: Duration::from_secs(3600),
    });
    let created = Instant::now();
    let stored = Arc::new(Stored {
        record: Arc::new(record()),
        created,
    });
    let id = SessionId::generate();
    let read = |after: u64, current: u64| {
        policy.expire_after_read(
            &id,
            &stored,
            created + Duration::from_secs(after),
            Some(Duration::from_secs(current)),
            created,
        )
    };
    // Read 5 s after the last use: within the 10 s resolution, the timer is kept.
    assert_eq!(read(5, 595), Some(Duration::from_secs(595)));
    // Read 20 s after: the idle timer starts again.
    assert_eq!(read(20, 580), Some(Duration::from_secs(600)));
    // Near the absolute timeout, the cap wins.
    assert_eq!(read(3500, 300), Some(Duration::from_secs(100)));
}

#[tokio::test]
async fn the_embedded_replay_cache_accepts_a_key_once() {
    let store = EmbeddedStore::new(
        Timeouts {
            idle: Duration::from_secs(60),
            absolute: Duration::from_secs(3600),
        },
        1000,
    );
    let until = crate::sessions::unix_now() + 60;
    assert!(store.first_use("a", until).await.unwrap());
    assert!(!store.first_use("a", until).await.unwrap());
    assert!(store.first_use("b", until).await.unwrap());
}
