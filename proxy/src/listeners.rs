//! `listeners:` and `admin:`: where clients and operators connect.
//!
//! Owns the validated listener specs, the binding of `:0` addresses (tests and local runs ask
//! for any free port; the port is reserved here so it can be reported before Pingora binds it),
//! and the Pingora listener settings. Does not own what is served (see `proxy` and `admin`).

pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use pingora::listeners::TcpSocketOptions;
use pingora::listeners::tls::TlsSettings;
use pingora::services::listening::Service;
use serde_saphyr::Spanned;

use crate::config::Problems;
use crate::config::file::{AdminSection, ListenerSection};
use tls::{CertStore, TlsSpec};

/// One validated entry of `listeners:`.
#[derive(Clone, Debug)]
pub struct ListenerSpec {
    /// Name used in logs and metrics.
    pub name: String,
    /// Address as configured (port 0 means any free port).
    pub address: SocketAddr,
    /// Certificate and key for HTTPS; `None` for plain HTTP.
    pub tls: Option<TlsSpec>,
}

/// The validated `admin:` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminSpec {
    /// Address as configured (port 0 means any free port).
    pub address: SocketAddr,
}

/// An address ready to hand to Pingora: the actual port, and for `:0` addresses the socket
/// that reserves it until the process exits.
#[derive(Debug)]
pub struct Bound {
    /// The address Pingora binds and that is reported in the `listening` log line.
    pub address: SocketAddr,
    reservation: Option<tokio::net::TcpSocket>,
}

// === impl ListenerSpec ===

impl ListenerSpec {
    /// Validates `listeners:`: at least one, unique names and addresses, readable TLS files.
    pub(crate) fn from_file(
        section: &Spanned<Vec<ListenerSection>>,
        admin: &AdminSection,
        base: &Path,
        problems: &mut Problems,
    ) -> Vec<ListenerSpec> {
        if section.value.is_empty() {
            problems.report(
                "listeners",
                &section.referenced,
                "at least one listener is needed",
            );
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut addresses: HashMap<SocketAddr, String> = HashMap::new();
        addresses.insert(admin.address.value.0, "admin.address".into());
        let mut specs = Vec::new();
        for (i, l) in section.value.iter().enumerate() {
            let path = format!("listeners[{i}]");
            if let Some(first) = names.insert(&l.name.value, i) {
                problems.report(
                    format!("{path}.name"),
                    &l.name.referenced,
                    format!(
                        "duplicate listener name {:?} (also listeners[{first}])",
                        l.name.value
                    ),
                );
            }
            let address = l.address.value.0;
            if address.port() != 0
                && let Some(other) = addresses.insert(address, format!("{path}.address"))
            {
                problems.report(
                    format!("{path}.address"),
                    &l.address.referenced,
                    format!("{address} is already used by {other}"),
                );
            }
            let tls = l
                .tls
                .as_ref()
                .and_then(|t| TlsSpec::from_file(t, &format!("{path}.tls"), base, problems));
            specs.push(ListenerSpec {
                name: l.name.value.clone(),
                address,
                tls,
            });
        }
        specs
    }
}

// === impl AdminSpec ===

impl AdminSpec {
    pub(crate) fn from_file(section: &AdminSection) -> AdminSpec {
        AdminSpec {
            address: section.address.value.0,
        }
    }
}

// === impl Bound ===

impl Bound {
    /// Resolves `:0` to a free port and holds it (SO_REUSEPORT) so nothing else takes it
    /// before Pingora binds; any other address is returned as is.
    pub fn reserve(address: SocketAddr) -> std::io::Result<Bound> {
        if address.port() != 0 {
            return Ok(Bound {
                address,
                reservation: None,
            });
        }
        let socket = match address {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(address)?;
        let address = socket.local_addr()?;
        Ok(Bound {
            address,
            reservation: Some(socket),
        })
    }

    /// Socket options for Pingora's bind: a reserved port must be shared with its reservation.
    pub fn socket_options(&self) -> TcpSocketOptions {
        let mut options = TcpSocketOptions::default();
        if self.reservation.is_some() {
            options.so_reuseport = Some(true);
        }
        options
    }

    /// Adds this address to a Pingora service, as HTTPS when `tls` is given.
    pub fn add_to<A>(&self, service: &mut Service<A>, tls: Option<TlsSettings>) {
        let address = self.address.to_string();
        match tls {
            Some(tls) => service.add_tls_with_settings(&address, Some(self.socket_options()), tls),
            None => service.add_tcp_with_settings(&address, self.socket_options()),
        }
    }
}

/// Pingora TLS settings for a listener: certificates from `store` (swapped on reload),
/// HTTP/2 and HTTP/1.1 by ALPN, TLS 1.2 and 1.3 with AEAD suites only (Pingora's rustls
/// builder allows no other versions, and rustls implements no non-AEAD suite).
pub fn tls_settings(store: &std::sync::Arc<CertStore>) -> pingora::Result<TlsSettings> {
    let mut settings = TlsSettings::intermediate("", "")?;
    settings.set_cert_resolver(store.clone());
    settings.enable_h2();
    Ok(settings)
}
