//! A live upstream pool: the balancer over its backends, their health, and the options of
//! every connection Vigie opens to them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures::FutureExt;
use parking_lot::Mutex;
use pingora::lb::selection::RoundRobin;
use pingora::lb::selection::consistent::KetamaHashing;
use pingora::lb::{Backend, Backends, LoadBalancer};
use pingora::upstreams::peer::{HttpPeer, PeerOptions};
use pingora::utils::tls::WrappedX509;

use super::discovery::Resolver;
use super::health;
use super::spec::UpstreamSpec;
use crate::config::file::Balancing;

/// How many backends `select` may look at before giving up (all of them, in practice).
const MAX_SELECT_ITERATIONS: usize = 256;

/// One upstream, live. Shared by every route that names it and kept across reloads while its
/// spec is unchanged, so health state and pooled connections survive a reload.
pub struct Pool {
    /// What the config says.
    pub spec: UpstreamSpec,
    balancer: Balancer,
    options: PeerOptions,
    /// Keeps this pool's connections apart from every other pool's: Pingora's reuse key
    /// ignores the CA bundle, so without it an upstream trusting another CA could be handed
    /// a connection verified for a different upstream at the same address.
    group_key: u64,
    next_check: Mutex<Instant>,
    checked: AtomicBool,
}

enum Balancer {
    RoundRobin(LoadBalancer<RoundRobin>),
    Hash(LoadBalancer<KetamaHashing>),
}

/// Dispatches a method call to whichever balancer the pool has.
macro_rules! balancer {
    ($pool:expr, $lb:ident => $body:expr) => {
        match &$pool.balancer {
            Balancer::RoundRobin($lb) => $body,
            Balancer::Hash($lb) => $body,
        }
    };
}

// === impl Pool ===

impl Pool {
    /// Builds the pool from a validated spec; no I/O (the first health check runs later,
    /// in the background, see [`health::HealthChecker`]).
    pub fn build(spec: UpstreamSpec) -> Pool {
        let backends = || {
            let mut b = Backends::new(Box::new(Resolver::new(spec.backends.clone())));
            if let Some(check) = &spec.health_check {
                b.set_health_check(health::probe(&spec, check));
            }
            b
        };
        let balancer = match spec.balancing {
            Balancing::RoundRobin => Balancer::RoundRobin(LoadBalancer::from_backends(backends())),
            Balancing::ConsistentHash => Balancer::Hash(LoadBalancer::from_backends(backends())),
        };
        let pool = Pool {
            options: peer_options(&spec),
            group_key: group_key(&spec),
            balancer,
            next_check: Mutex::new(Instant::now()),
            checked: AtomicBool::new(spec.health_check.is_none()),
            spec,
        };
        // The resolver's first answer needs no I/O, so this completes at once.
        let _ = balancer!(pool, lb => lb.update().now_or_never());
        pool
    }

    /// A healthy backend for `key` (ignored by round robin) not rejected by `skip`.
    pub fn select(&self, key: &[u8], skip: impl Fn(&Backend) -> bool) -> Option<Backend> {
        balancer!(self, lb => lb.select_with(key, MAX_SELECT_ITERATIONS, |b, healthy| healthy && !skip(b)))
    }

    /// The peer to connect to for `backend`, with this upstream's timeouts and TLS settings.
    pub fn peer(&self, backend: &Backend) -> Option<HttpPeer> {
        let addr = *backend.addr.as_inet()?;
        let (tls, sni) = match &self.spec.tls {
            Some(t) => (true, t.sni.clone()),
            None => (false, String::new()),
        };
        let mut peer = HttpPeer::new(addr, tls, sni);
        peer.options = self.options.clone();
        peer.group_key = self.group_key;
        Some(peer)
    }

    /// Every known backend address and whether it is healthy now.
    pub fn health(&self) -> Vec<(SocketAddr, bool)> {
        balancer!(self, lb => {
            let backends = lb.backends();
            backends
                .get_backend()
                .iter()
                .filter_map(|b| Some((*b.addr.as_inet()?, backends.ready(b))))
                .collect()
        })
    }

    /// Number of backends currently known.
    pub fn len(&self) -> usize {
        balancer!(self, lb => lb.backends().get_backend().len())
    }

    /// Whether the pool has no backend at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ready to serve: checked at least once (when checks are configured) and one backend healthy.
    pub fn is_ready(&self) -> bool {
        self.checked.load(Ordering::Acquire) && self.health().iter().any(|(_, healthy)| *healthy)
    }

    /// Re-resolves the backends and probes them if the check interval has passed.
    pub(super) async fn check_if_due(&self, now: Instant) {
        let Some(check) = &self.spec.health_check else {
            return;
        };
        {
            let mut next = self.next_check.lock();
            if now < *next {
                return;
            }
            *next = now + check.interval;
        }
        if let Err(e) = balancer!(self, lb => lb.update().await) {
            tracing::warn!(upstream = %self.spec.name, error = %e, "backend discovery failed");
        }
        balancer!(self, lb => lb.backends().run_health_check(true).await);
        self.checked.store(true, Ordering::Release);
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.spec.name)
            .finish_non_exhaustive()
    }
}

/// A key unique to this upstream's name and TLS trust, for [`Pool::group_key`].
fn group_key(spec: &UpstreamSpec) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    spec.name.hash(&mut h);
    if let Some(tls) = &spec.tls {
        tls.sni.hash(&mut h);
        tls.verify.hash(&mut h);
        tls.ca.as_ref().map(|(_, certs)| certs).hash(&mut h);
    }
    h.finish()
}

/// Connection options shared by every request to this upstream.
fn peer_options(spec: &UpstreamSpec) -> PeerOptions {
    let mut o = PeerOptions::new();
    o.connection_timeout = Some(spec.connect_timeout);
    o.total_connection_timeout = Some(spec.connect_timeout * 2);
    o.read_timeout = Some(spec.read_timeout);
    o.write_timeout = Some(spec.write_timeout);
    o.idle_timeout = Some(spec.idle_timeout);
    if let Some(tls) = &spec.tls {
        o.verify_cert = tls.verify;
        o.verify_hostname = tls.verify;
        o.ca = tls.ca.as_ref().map(|(_, certs)| ca_list(certs));
    }
    o
}

/// CA certificates as Pingora wants them (each was parsed when the config was loaded).
pub(super) fn ca_list(certs: &[Vec<u8>]) -> Arc<[WrappedX509]> {
    certs
        .iter()
        .map(|der| WrappedX509::new(der.clone(), pingora::utils::tls::parse_x509))
        .collect::<Vec<_>>()
        .into()
}
