#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use vigie_load_tests::redis::{RedisCluster, RedisServer};

use super::*;
use crate::sessions::tests::record;

pub(crate) fn settings(urls: Vec<String>, cluster: bool) -> RedisSettings {
    let yaml = format!(
        "urls: [{}]\ncluster: {cluster}\ntimeout: 300ms\nlocal_cache: {{ ttl: 30s }}\n",
        urls.join(", ")
    );
    let section: crate::config::file::RedisSection = serde_saphyr::from_str(&yaml).unwrap();
    let mut problems = crate::config::Problems::new(None);
    let settings = RedisSettings::from_file(&section, std::path::Path::new("."), &mut problems);
    problems.finish(()).unwrap();
    settings.unwrap()
}

pub(crate) const TIMEOUTS: Timeouts = Timeouts {
    idle: Duration::from_secs(600),
    absolute: Duration::from_secs(3600),
};

pub(crate) fn store(settings: &RedisSettings, timeouts: Timeouts) -> RedisStore {
    let metrics = StoreMetrics::register(&crate::metrics::Metrics::new().unwrap()).unwrap();
    RedisStore::start(settings, timeouts, metrics).unwrap()
}

fn fresh() -> SessionRecord {
    SessionRecord {
        created_at: crate::sessions::unix_now(),
        ..record()
    }
}

/// Polls `cond` every 20ms until it holds; panics after `within`.
async fn eventually(what: &str, within: Duration, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn subscribed(store: &RedisStore) {
    eventually("subscription", Duration::from_secs(5), async || {
        store.link.is_subscribed()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_kept_found_and_revoked_on_every_node() {
    let redis = RedisServer::start().unwrap();
    let settings = settings(vec![redis.url()], false);
    let (a, b) = (store(&settings, TIMEOUTS), store(&settings, TIMEOUTS));
    subscribed(&a).await;
    subscribed(&b).await;

    let id = SessionId::generate();
    a.create(&id, fresh()).await.unwrap();
    let seen = b.get(&id).await.unwrap().expect("B finds A's session");
    assert_eq!(seen.identity.subject, "parent");
    assert!(
        b.get(&id).await.unwrap().is_some(),
        "now from B's local cache"
    );
    assert_eq!(b.metrics.local.with_label_values(&["hit"]).get(), 1);

    // Only a digest of the id reaches Redis.
    let keys = redis.command("KEYS *").unwrap();
    assert!(
        keys.contains("vigie:session:") && !keys.contains(id.as_str()),
        "{keys}"
    );

    a.delete(&id).await.unwrap();
    let revoked_at = Instant::now();
    eventually(
        "B forgets the session",
        Duration::from_secs(1),
        async || b.get(&id).await.unwrap().is_none(),
    )
    .await;
    assert!(revoked_at.elapsed() < Duration::from_secs(1));
    assert_eq!(b.metrics.revocations.get(), 1);
    assert!(a.get(&SessionId::generate()).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_enforced_by_redis_and_by_login_time() {
    let redis = RedisServer::start().unwrap();
    let settings = settings(vec![redis.url()], false);
    let idle = Timeouts {
        idle: Duration::from_secs(1),
        absolute: Duration::from_secs(3600),
    };
    let s = store(&settings, idle);
    let id = SessionId::generate();
    s.create(&id, fresh()).await.unwrap();
    assert!(
        redis
            .command(&format!("TTL vigie:session:{}", RedisStore::digest(&id)))
            .unwrap()
            .starts_with(":1")
    );
    eventually(
        "the idle session ends",
        Duration::from_secs(5),
        async || redis.command("DBSIZE").unwrap().starts_with(":0"),
    )
    .await;

    // A record logged in long ago is refused and deleted, whatever its TTL.
    static NOW: AtomicU64 = AtomicU64::new(0);
    NOW.store(crate::sessions::unix_now(), Ordering::SeqCst);
    let mut s = store(&settings, TIMEOUTS);
    s.now = || NOW.load(Ordering::SeqCst);
    let id = SessionId::generate();
    s.create(&id, fresh()).await.unwrap();
    NOW.fetch_add(3600, Ordering::SeqCst);
    assert!(s.get(&id).await.unwrap().is_none());
    assert!(redis.command("DBSIZE").unwrap().starts_with(":0"));
}

#[test]
fn time_left_is_idle_capped_by_the_absolute_end() {
    let t = Timeouts {
        idle: Duration::from_secs(1800),
        absolute: Duration::from_secs(3600),
    };
    assert_eq!(time_left(1000, 1000, t), Some(Duration::from_secs(1800)));
    assert_eq!(time_left(1000, 3000, t), Some(Duration::from_secs(1600)));
    assert_eq!(time_left(1000, 4600, t), None);
    assert_eq!(time_left(1000, 9000, t), None);
    assert_eq!(
        time_left(1000, 10, t),
        Some(Duration::from_secs(1800)),
        "clock behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_an_error_never_an_anonymous_pass_and_heals() {
    let mut redis = RedisServer::start().unwrap();
    let settings = settings(vec![redis.url()], false);
    let (a, b) = (store(&settings, TIMEOUTS), store(&settings, TIMEOUTS));
    subscribed(&b).await;
    let id = SessionId::generate();
    a.create(&id, fresh()).await.unwrap();
    assert!(b.get(&id).await.unwrap().is_some());

    // Stopped: refused connections, fast errors; the local copy is not trusted any more.
    redis.stop();
    eventually("B notices", Duration::from_secs(2), async || {
        !b.link.is_subscribed()
    })
    .await;
    let started = Instant::now();
    assert!(b.get(&id).await.is_err());
    assert!(a.create(&SessionId::generate(), fresh()).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(2));

    // Back with its data: the session is still there.
    redis.restart().unwrap();
    eventually("B reads again", Duration::from_secs(10), async || {
        matches!(b.get(&id).await, Ok(Some(_)))
    })
    .await;
    subscribed(&b).await;

    // Frozen: commands time out (300ms) instead of hanging.
    redis.freeze();
    let started = Instant::now();
    assert!(a.get(&SessionId::generate()).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
    redis.thaw();
    eventually("A reads again", Duration::from_secs(10), async || {
        matches!(a.get(&id).await, Ok(Some(_)))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_keeps_and_revokes_sessions_too() {
    let cluster = RedisCluster::start().unwrap();
    let settings = settings(cluster.urls()[..1].to_vec(), true);
    let (a, b) = (store(&settings, TIMEOUTS), store(&settings, TIMEOUTS));
    subscribed(&a).await;
    subscribed(&b).await;
    let ids: Vec<SessionId> = (0..20).map(|_| SessionId::generate()).collect();
    for id in &ids {
        a.create(id, fresh()).await.unwrap();
    }
    for id in &ids {
        assert!(b.get(id).await.unwrap().is_some());
    }
    let spread = cluster
        .nodes
        .iter()
        .filter(|n| !n.command("DBSIZE").unwrap().starts_with(":0"))
        .count();
    assert!(spread >= 2, "keys land on several nodes");
    a.delete(&ids[0]).await.unwrap();
    eventually(
        "B forgets the session",
        Duration::from_secs(1),
        async || b.get(&ids[0]).await.unwrap().is_none(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_key_is_accepted_once_by_the_whole_fleet() {
    let server = RedisServer::start().unwrap();
    let s = settings(vec![server.url()], false);
    let (a, b) = (store(&s, TIMEOUTS), store(&s, TIMEOUTS));
    let until = crate::sessions::unix_now() + 60;
    assert!(a.first_use("saml:_assertion1", until).await.unwrap());
    assert!(
        !b.first_use("saml:_assertion1", until).await.unwrap(),
        "another node"
    );
    assert!(
        !a.first_use("saml:_assertion1", until).await.unwrap(),
        "the same node"
    );
    assert!(b.first_use("saml:_assertion2", until).await.unwrap());
    // Remembered until its deadline, not forever.
    let ttl: i64 = a
        .link
        .query(redis::cmd("TTL").arg(format!(
            "vigie:used:{}",
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, b"saml:_assertion1"))
        )))
        .await
        .unwrap();
    assert!((50..=61).contains(&ttl), "{ttl}");
}
