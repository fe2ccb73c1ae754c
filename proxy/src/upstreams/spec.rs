//! Validation of `upstreams:` into [`UpstreamSpec`]s.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_saphyr::Spanned;

use crate::config::Problems;
use crate::config::file::{Balancing, HealthCheckSection, UpstreamSection, UpstreamTlsSection};

/// One validated upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamSpec {
    /// Its name in `upstreams:`.
    pub name: String,
    /// Each backend as written (`host:port`) with the addresses it resolved to at load.
    pub backends: Vec<(String, Vec<SocketAddr>)>,
    /// How a backend is picked.
    pub balancing: Balancing,
    /// What consistent hashing hashes.
    pub hash_key: HashKey,
    /// Time to connect.
    pub connect_timeout: Duration,
    /// Time to wait for each read.
    pub read_timeout: Duration,
    /// Time to wait for each write.
    pub write_timeout: Duration,
    /// Time an idle pooled connection is kept.
    pub idle_timeout: Duration,
    /// Active health checks, if any.
    pub health_check: Option<HealthCheckSpec>,
    /// HTTPS to the backends, if set.
    pub tls: Option<UpstreamTls>,
}

/// What a consistent-hash upstream hashes to pick a backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashKey {
    /// The client's address (after trusted-proxy handling).
    ClientAddress,
    /// The request path.
    Path,
    /// The value of a request header.
    Header(http::HeaderName),
    /// The value of a cookie.
    Cookie(String),
}

/// Validated `health_check:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheckSpec {
    /// GET this path (200 is healthy); `None` for a connect check.
    pub http_path: Option<String>,
    /// Host header of the probe.
    pub host: String,
    /// Time between checks.
    pub interval: Duration,
    /// Time one check may take.
    pub timeout: Duration,
    /// Successes in a row to become healthy.
    pub healthy_after: usize,
    /// Failures in a row to become unhealthy.
    pub unhealthy_after: usize,
}

/// Validated upstream `tls:`.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamTls {
    /// Server name sent and verified.
    pub sni: String,
    /// Trusted CA certificates (DER) from `ca_file`; `None` means the system's roots.
    pub ca: Option<(PathBuf, Vec<Vec<u8>>)>,
    /// Whether the certificate and name are verified.
    pub verify: bool,
}

// === impl UpstreamSpec ===

impl UpstreamSpec {
    /// Validates every upstream. Backend names are resolved now, so a typo fails the load.
    pub(crate) fn from_file(
        section: &Spanned<BTreeMap<String, UpstreamSection>>,
        base: &Path,
        problems: &mut Problems,
    ) -> BTreeMap<String, UpstreamSpec> {
        section
            .value
            .iter()
            .map(|(name, u)| (name.clone(), Self::one(name, u, base, problems)))
            .collect()
    }

    fn one(name: &str, u: &UpstreamSection, base: &Path, problems: &mut Problems) -> UpstreamSpec {
        let path = format!("upstreams.{name}");
        if u.backends.value.is_empty() {
            problems.report(
                format!("{path}.backends"),
                &u.backends.referenced,
                "at least one backend is needed",
            );
        }
        let backends = u
            .backends
            .value
            .iter()
            .enumerate()
            .map(|(i, b)| match resolve(&b.value) {
                Ok(addrs) => (b.value.clone(), addrs),
                Err(msg) => {
                    problems.report(format!("{path}.backends[{i}]"), &b.referenced, msg);
                    (b.value.clone(), Vec::new())
                }
            })
            .collect();
        let hash_key = match (&u.hash_key, u.balancing) {
            (None, _) => HashKey::ClientAddress,
            (Some(k), Balancing::ConsistentHash) => {
                HashKey::parse(&k.value).unwrap_or_else(|msg| {
                    problems.report(format!("{path}.hash_key"), &k.referenced, msg);
                    HashKey::ClientAddress
                })
            }
            (Some(k), Balancing::RoundRobin) => {
                problems.report(
                    format!("{path}.hash_key"),
                    &k.referenced,
                    "hash_key needs `balancing: consistent_hash`",
                );
                HashKey::ClientAddress
            }
        };
        let tls = u
            .tls
            .as_ref()
            .map(|t| UpstreamTls::from_file(t, &path, base, problems));
        let secs = |d: Option<crate::config::Duration>, default: u64| {
            d.map_or(Duration::from_secs(default), |d| d.0)
        };
        UpstreamSpec {
            name: name.to_string(),
            backends,
            balancing: u.balancing,
            hash_key,
            connect_timeout: secs(u.connect_timeout, 2),
            read_timeout: secs(u.read_timeout, 30),
            write_timeout: secs(u.write_timeout, 30),
            idle_timeout: secs(u.idle_timeout, 60),
            health_check: u
                .health_check
                .as_ref()
                .map(|h| HealthCheckSpec::from_file(h, tls.as_ref())),
            tls,
        }
    }

    /// Every address resolved at load, in declaration order.
    pub fn addresses(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.backends.iter().flat_map(|(_, a)| a.iter().copied())
    }
}

/// `host:port` → its addresses (a literal address needs no lookup).
fn resolve(target: &str) -> Result<Vec<SocketAddr>, String> {
    let bad = |why: String| format!("invalid backend {target:?}: {why}");
    let Some((host, port)) = target.rsplit_once(':') else {
        return Err(bad(
            "expected host:port such as \"10.0.0.5:8080\" or \"teleservices:8080\"".into(),
        ));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad(
            "expected host:port with a port between 0 and 65535".into()
        ));
    }
    let addrs: Vec<SocketAddr> = target
        .to_socket_addrs()
        .map_err(|e| bad(format!("cannot resolve it ({e})")))?
        .collect();
    if addrs.is_empty() {
        return Err(bad("it resolves to no address".into()));
    }
    Ok(addrs)
}

// === impl HashKey ===

impl HashKey {
    fn parse(s: &str) -> Result<HashKey, String> {
        let bad = || {
            format!(
                "invalid hash_key {s:?}: expected client_address, path, header:NAME or cookie:NAME"
            )
        };
        match s.split_once(':') {
            None if s == "client_address" => Ok(HashKey::ClientAddress),
            None if s == "path" => Ok(HashKey::Path),
            Some(("header", name)) => http::HeaderName::from_bytes(name.as_bytes())
                .map(HashKey::Header)
                .map_err(|_| bad()),
            Some(("cookie", name)) if !name.is_empty() && !name.contains([';', '=', ' ']) => {
                Ok(HashKey::Cookie(name.to_string()))
            }
            _ => Err(bad()),
        }
    }
}

// === impl HealthCheckSpec ===

impl HealthCheckSpec {
    fn from_file(h: &HealthCheckSection, tls: Option<&UpstreamTls>) -> HealthCheckSpec {
        HealthCheckSpec {
            http_path: h.http_path.clone(),
            host: h
                .host
                .clone()
                .or_else(|| tls.map(|t| t.sni.clone()))
                .unwrap_or_else(|| "localhost".into()),
            interval: h.interval.map_or(Duration::from_secs(5), |d| {
                d.0.max(Duration::from_millis(100))
            }),
            timeout: h.timeout.map_or(Duration::from_secs(1), |d| d.0),
            healthy_after: h.healthy_after.unwrap_or(1).max(1),
            unhealthy_after: h.unhealthy_after.unwrap_or(2).max(1),
        }
    }
}

// === impl UpstreamTls ===

impl UpstreamTls {
    fn from_file(
        t: &UpstreamTlsSection,
        path: &str,
        base: &Path,
        problems: &mut Problems,
    ) -> UpstreamTls {
        let ca = t.ca_file.as_ref().and_then(|f| {
            let file = base.join(&f.value);
            match read_ca(&file) {
                Ok(certs) => Some((file, certs)),
                Err(msg) => {
                    problems.report(format!("{path}.tls.ca_file"), &f.referenced, msg);
                    None
                }
            }
        });
        UpstreamTls {
            sni: t.sni.clone(),
            ca,
            verify: t.verify.unwrap_or(true),
        }
    }
}

impl fmt::Debug for UpstreamTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamTls")
            .field("sni", &self.sni)
            .field("ca_file", &self.ca.as_ref().map(|(p, _)| p))
            .field("verify", &self.verify)
            .finish()
    }
}

/// Reads a PEM bundle of CA certificates, each checked to be a parseable X.509 certificate.
fn read_ca(file: &Path) -> Result<Vec<Vec<u8>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read CA bundle {}: {e}", file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "cannot read CA bundle {}: no PEM certificate found",
            file.display()
        ));
    }
    certs
        .into_iter()
        .map(|c| match x509_parser::parse_x509_certificate(c.as_ref()) {
            Ok(_) => Ok(c.as_ref().to_vec()),
            Err(e) => Err(format!(
                "invalid certificate in CA bundle {}: {e}",
                file.display()
            )),
        })
        .collect()
}
