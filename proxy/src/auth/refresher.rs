//! The background service that loads each provider's keys (and each SAML provider's metadata
//! from a URL) as soon as a generation names it,
//! and refreshes them before they go stale (see `store`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::reload::Generations;

/// How often the refresher looks for keys due for a refresh.
const TICK: Duration = Duration::from_millis(200);

/// See the module docs.
pub struct KeyRefresher {
    generations: Arc<Generations>,
}

impl KeyRefresher {
    /// A refresher following `generations`.
    pub fn new(generations: Arc<Generations>) -> KeyRefresher {
        KeyRefresher { generations }
    }
}

#[async_trait]
impl BackgroundService for KeyRefresher {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            let generation = self.generations.current();
            let mut due = tokio::task::JoinSet::new();
            for provider in generation.auth.providers.values() {
                let provider = provider.clone();
                due.spawn(async move { provider.keys.refresh_if_due(Instant::now()).await });
            }
            for provider in generation.auth.saml.values() {
                let provider = provider.clone();
                due.spawn(async move {
                    provider.refresh_if_due(Instant::now()).await;
                    true
                });
            }
            while due.join_next().await.is_some() {}
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
