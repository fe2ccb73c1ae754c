#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use jsonwebtoken::Algorithm;
use vigie_load_tests::keys::{TestKey, jwks};

use super::*;
use crate::auth::source::{FetchError, Fetched};

/// A provider under the test's control: its JWKS (or an outage), and a fetch counter.
#[derive(Default)]
struct FakeProvider {
    jwks: Mutex<Option<String>>,
    max_age: Mutex<Option<Duration>>,
    fetches: AtomicUsize,
}

struct Source(Arc<FakeProvider>);

#[async_trait]
impl KeySource for Source {
    async fn fetch(&self) -> Result<Fetched, FetchError> {
        self.0.fetches.fetch_add(1, Ordering::SeqCst);
        // Let concurrent callers pile up, as a real fetch would.
        tokio::task::yield_now().await;
        let body = self.0.jwks.lock().clone();
        match body {
            Some(body) => Ok(Fetched {
                keys: KeySet::parse(body.as_bytes()).expect("jwks"),
                max_age: *self.0.max_age.lock(),
            }),
            None => Err(FetchError::Status {
                url: "https://idp/jwks".into(),
                status: 503,
            }),
        }
    }
}

fn store(provider: &Arc<FakeProvider>) -> KeyStore {
    let metrics = crate::metrics::Metrics::new().expect("metrics");
    let policy = KeyPolicy {
        min_refresh: Duration::from_secs(60),
        max_refresh: Duration::from_secs(3600),
        unknown_kid_interval: Duration::from_secs(30),
    };
    KeyStore::new(
        "idp",
        Box::new(Source(provider.clone())),
        policy,
        metrics.key_metrics("idp"),
    )
}

fn fetches(p: &FakeProvider) -> usize {
    p.fetches.load(Ordering::SeqCst)
}

#[tokio::test]
async fn keys_load_then_refresh_before_expiry_within_bounds() {
    let k1 = TestKey::generate(Algorithm::ES256, "k1");
    let provider = Arc::new(FakeProvider::default());
    *provider.jwks.lock() = Some(jwks(&[&k1]));
    *provider.max_age.lock() = Some(Duration::from_secs(10)); // below min_refresh: 60 s apply
    let store = store(&provider);
    let t0 = Instant::now();
    assert!(!store.is_loaded());
    assert!(store.refresh_if_due(t0).await);
    assert!(store.keys().unwrap().has_kid("k1"));
    assert!(
        !store.refresh_if_due(t0 + Duration::from_secs(47)).await,
        "fresh for 80% of 60 s"
    );
    assert!(store.refresh_if_due(t0 + Duration::from_secs(49)).await);
    assert_eq!(fetches(&provider), 2);
}

#[tokio::test]
async fn an_outage_keeps_the_known_keys_and_retries_later() {
    let k1 = TestKey::generate(Algorithm::ES256, "k1");
    let provider = Arc::new(FakeProvider::default());
    *provider.jwks.lock() = Some(jwks(&[&k1]));
    let store = store(&provider);
    let t0 = Instant::now();
    store.refresh_if_due(t0).await;
    *provider.jwks.lock() = None;
    let later = t0 + Duration::from_secs(3600);
    assert!(store.refresh_if_due(later).await);
    assert!(store.keys().unwrap().has_kid("k1"), "stale-if-error");
    assert!(
        !store.refresh_if_due(later + Duration::from_secs(1)).await,
        "backoff after a failure"
    );
    assert!(store.refresh_if_due(later + RETRY).await);
    assert_eq!(fetches(&provider), 3);
}

#[tokio::test]
async fn rotation_is_picked_up_by_one_refetch() {
    let k1 = TestKey::generate(Algorithm::ES256, "k1");
    let k2 = TestKey::generate(Algorithm::ES256, "k2");
    let provider = Arc::new(FakeProvider::default());
    *provider.jwks.lock() = Some(jwks(&[&k1]));
    let store = store(&provider);
    let t0 = Instant::now();
    store.refresh_if_due(t0).await;
    *provider.jwks.lock() = Some(jwks(&[&k1, &k2]));
    let keys = store
        .refetch_for(Some("k2"), t0 + Duration::from_secs(1))
        .await;
    assert!(keys.is_some_and(|k| k.has_kid("k2")));
    assert_eq!(fetches(&provider), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_spray_of_unknown_kids_costs_one_fetch_per_interval() {
    let k1 = TestKey::generate(Algorithm::ES256, "k1");
    let provider = Arc::new(FakeProvider::default());
    *provider.jwks.lock() = Some(jwks(&[&k1]));
    let store = Arc::new(store(&provider));
    let t0 = Instant::now();
    store.refresh_if_due(t0).await;
    let mut spray = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let store = store.clone();
        spray.spawn(async move {
            store
                .refetch_for(Some(&format!("random-{i}")), t0 + Duration::from_secs(1))
                .await
        });
    }
    while let Some(found) = spray.join_next().await {
        assert!(found.unwrap().is_none());
    }
    assert_eq!(
        fetches(&provider),
        2,
        "one load, one refetch for the whole spray"
    );
    assert!(
        store
            .refetch_for(Some("again"), t0 + Duration::from_secs(20))
            .await
            .is_none()
    );
    assert_eq!(fetches(&provider), 2, "still inside the interval");
    store
        .refetch_for(Some("again"), t0 + Duration::from_secs(32))
        .await;
    assert_eq!(fetches(&provider), 3, "one more once the interval passed");
}

#[tokio::test]
async fn a_provider_down_at_start_is_fetched_again_by_the_first_token() {
    let k1 = TestKey::generate(Algorithm::ES256, "k1");
    let provider = Arc::new(FakeProvider::default());
    let store = store(&provider);
    let t0 = Instant::now();
    store.refresh_if_due(t0).await;
    assert!(!store.is_loaded());
    *provider.jwks.lock() = Some(jwks(&[&k1]));
    // Inside the retry backoff, a token (here without `kid`) still gets one refetch.
    let keys = store.refetch_for(None, t0 + Duration::from_secs(1)).await;
    assert!(keys.is_some_and(|k| k.has_kid("k1")));
    assert_eq!(fetches(&provider), 2);
}
