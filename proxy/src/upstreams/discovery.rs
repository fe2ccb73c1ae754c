//! Backend discovery by name resolution: each `host:port` is resolved again at every health
//! check, and a name that fails to resolve keeps its last known addresses (a DNS outage never
//! empties a pool).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

use async_trait::async_trait;
use parking_lot::Mutex;
use pingora::lb::Backend;
use pingora::lb::discovery::ServiceDiscovery;

/// Resolves the backends of one upstream.
pub(super) struct Resolver {
    last_known: Mutex<Vec<(String, Vec<SocketAddr>)>>,
    /// The first discovery returns the addresses resolved at load, without I/O, so a pool
    /// can be built synchronously.
    primed: Mutex<bool>,
}

impl Resolver {
    pub(super) fn new(targets: Vec<(String, Vec<SocketAddr>)>) -> Resolver {
        Resolver {
            last_known: Mutex::new(targets),
            primed: Mutex::new(true),
        }
    }

    fn backends(&self) -> BTreeSet<Backend> {
        self.last_known
            .lock()
            .iter()
            .flat_map(|(_, addrs)| addrs.iter())
            .map(|a| Backend {
                addr: pingora::protocols::l4::socket::SocketAddr::Inet(*a),
                weight: 1,
                ext: Default::default(),
            })
            .collect()
    }
}

#[async_trait]
impl ServiceDiscovery for Resolver {
    async fn discover(&self) -> pingora::Result<(BTreeSet<Backend>, HashMap<u64, bool>)> {
        if std::mem::take(&mut *self.primed.lock()) {
            return Ok((self.backends(), HashMap::new()));
        }
        let targets: Vec<String> = self
            .last_known
            .lock()
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        for target in targets {
            match tokio::net::lookup_host(target.as_str()).await {
                Ok(addrs) => {
                    let addrs: Vec<SocketAddr> = addrs.collect();
                    if addrs.is_empty() {
                        continue;
                    }
                    let mut known = self.last_known.lock();
                    if let Some(entry) = known.iter_mut().find(|(t, _)| *t == target) {
                        entry.1 = addrs;
                    }
                }
                Err(e) => {
                    tracing::warn!(backend = %target, error = %e, "backend name did not resolve; keeping its last known addresses")
                }
            }
        }
        Ok((self.backends(), HashMap::new()))
    }
}
