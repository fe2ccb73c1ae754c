//! `trusted_proxies:`: who the client is, and the `X-Forwarded-*` headers sent upstream.
//!
//! A client-supplied `X-Forwarded-For` is believed only when the TCP peer is a trusted proxy,
//! and then only up to the first untrusted hop, read from the right (the hops a trusted proxy
//! appended are the only ones it vouches for).

use std::net::IpAddr;

use http::HeaderMap;

use crate::config::values::Cidr;

/// Networks whose forwarding headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

/// What Vigie tells the upstream about the original request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forwarded {
    /// The client's address: the peer, or the first untrusted hop behind trusted proxies.
    pub client: IpAddr,
    /// Value of `X-Forwarded-For` to send.
    pub for_chain: String,
    /// `http` or `https`, as the client used it.
    pub proto: &'static str,
    /// Host the client asked for, if known.
    pub host: Option<String>,
    /// Whether the peer is a trusted proxy (its `Forwarded` header may then be kept).
    pub peer_trusted: bool,
}

// === impl TrustedProxies ===

impl TrustedProxies {
    /// Builds the set from the parsed `trusted_proxies:` entries.
    pub fn new(cidrs: &[Cidr]) -> TrustedProxies {
        TrustedProxies(cidrs.iter().map(|c| c.0).collect())
    }

    /// Whether `ip` is in one of the trusted networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// Works out the client and the forwarding headers for a request that reached Vigie from
/// `peer` over TLS or not, with request headers `headers` and authority `host`.
pub fn resolve(
    peer: IpAddr,
    tls: bool,
    host: Option<&str>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Forwarded {
    let peer = peer.to_canonical();
    let peer_trusted = trusted.contains(peer);
    let mut client = peer;
    let mut for_chain = peer.to_string();
    let mut proto = if tls { "https" } else { "http" };
    let mut forwarded_host = None;
    if peer_trusted {
        let hops = forwarded_for(headers);
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) => {
                    client = ip;
                    if !trusted.contains(ip) {
                        break;
                    }
                }
                // An unreadable hop ends the chain: the last readable trusted hop is the client.
                None => break,
            }
        }
        if !hops.is_empty() {
            for_chain = format!("{}, {peer}", hops.join(", "));
        }
        proto = match header_str(headers, "x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            Some(p) if p.eq_ignore_ascii_case("http") => "http",
            _ => proto,
        };
        forwarded_host = header_str(headers, "x-forwarded-host")
            .filter(|h| http::uri::Authority::try_from(*h).is_ok())
            .map(str::to_string);
    }
    Forwarded {
        client,
        for_chain,
        proto,
        host: forwarded_host.or_else(|| host.map(str::to_string)),
        peer_trusted,
    }
}

/// Every hop of every `X-Forwarded-For` header, in order, trimmed.
fn forwarded_for(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect()
}

/// An address from a hop: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

#[cfg(test)]
mod tests;
