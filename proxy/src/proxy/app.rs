//! The transport application behind every listener: wraps each accepted connection in the
//! connection guard (`limits::guard`) and hands it to Pingora's HTTP proxy.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::proxy::HttpProxy;
use pingora::server::ShutdownWatch;

use super::EdgeProxy;
use crate::limits::guard::Guarded;
use crate::reload::Generations;

/// See the module docs.
pub struct EdgeApp {
    proxy: Arc<HttpProxy<EdgeProxy>>,
    generations: Arc<Generations>,
}

impl EdgeApp {
    /// Wraps Pingora's proxy; limits come from the generation current at each accept.
    pub fn new(proxy: Arc<HttpProxy<EdgeProxy>>, generations: Arc<Generations>) -> EdgeApp {
        EdgeApp { proxy, generations }
    }
}

#[async_trait]
impl ServerApp for EdgeApp {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let policy = self.generations.current().head_policy.clone();
        let guarded: Stream = Box::new(Guarded::new(stream, policy));
        self.proxy.process_new(guarded, shutdown).await
    }

    async fn cleanup(&self) {
        self.proxy.cleanup().await;
    }
}
