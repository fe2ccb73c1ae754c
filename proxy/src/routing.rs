//! `routes:`: which route, and so which upstream, serves a request.
//!
//! Selection is by host first (an exact host, then the longest `*.` wildcard, then routes
//! without hosts), then by the longest path prefix, matched on whole segments. Paths are
//! normalised before matching (see [`normalize_path`]) so that a route's access rules cannot
//! be sidestepped with `..`, encoded slashes or doubled slashes.

mod headers;
mod path;
mod spec;

use std::collections::HashMap;
use std::sync::Arc;

pub use headers::HeaderRules;
pub use path::{PathError, normalize_path};
pub use spec::{HostPattern, RouteSpec};

use crate::metrics::RouteMetrics;
use crate::ratelimit::RateLimit;
use crate::upstreams::{Gate, Pool};

/// A route ready to serve: its spec and the upstream pool it sends to.
#[derive(Debug)]
pub struct Route {
    /// What the config says.
    pub spec: RouteSpec,
    /// Where requests go.
    pub upstream: Arc<Pool>,
    /// This route's request counters and latency histogram.
    pub metrics: Arc<RouteMetrics>,
    /// Audience of the identity assertions sent upstream (the upstream's name).
    pub audience: Arc<str>,
    /// The route's name, shared with rate-limit keys.
    pub name: Arc<str>,
    /// Rate limits checked before authentication, in order.
    pub pre_auth: Vec<Arc<RateLimit>>,
    /// Rate limits keyed by the person, checked after authentication.
    pub post_auth: Vec<Arc<RateLimit>>,
    /// The upstream's concurrency gate, when it has one.
    pub gate: Option<Arc<Gate>>,
    /// Its plugin chain, in order.
    pub plugins: Vec<Arc<crate::plugins::Plugin>>,
}

/// Every route of a config generation, indexed for [`Routes::select`].
#[derive(Debug, Default)]
pub struct Routes {
    exact: HashMap<String, Vec<Arc<Route>>>,
    wildcard: Vec<(String, Vec<Arc<Route>>)>,
    any_host: Vec<Arc<Route>>,
}

// === impl Route ===

impl Route {
    /// Whether this route's prefix covers `path` (on whole segments).
    pub fn matches(&self, path: &str) -> bool {
        let prefix = self.spec.path_prefix.as_str();
        prefix == "/"
            || (path.starts_with(prefix)
                && matches!(path.as_bytes().get(prefix.len()), None | Some(b'/')))
    }

    /// The path sent upstream: the prefix replaced when the route asks for it.
    pub fn upstream_path<'p>(&self, path: &'p str) -> std::borrow::Cow<'p, str> {
        let Some(rewrite) = &self.spec.rewrite_prefix else {
            return path.into();
        };
        let prefix_len = if self.spec.path_prefix == "/" {
            0
        } else {
            self.spec.path_prefix.len()
        };
        let rest = path.get(prefix_len..).unwrap_or("");
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        match (rewrite.ends_with('/'), rest.is_empty()) {
            (_, true) => rewrite.clone().into(),
            (true, false) => format!("{rewrite}{rest}").into(),
            (false, false) => format!("{rewrite}/{rest}").into(),
        }
    }
}

// === impl Routes ===

impl Routes {
    /// Indexes `routes`; each list is kept longest prefix first.
    pub fn new(routes: Vec<Arc<Route>>) -> Routes {
        let mut table = Routes::default();
        for route in routes {
            if route.spec.hosts.is_empty() {
                table.any_host.push(route.clone());
            }
            for host in &route.spec.hosts {
                match host {
                    HostPattern::Exact(h) => table
                        .exact
                        .entry(h.clone())
                        .or_default()
                        .push(route.clone()),
                    HostPattern::Wildcard(suffix) => {
                        match table.wildcard.iter_mut().find(|(s, _)| s == suffix) {
                            Some((_, list)) => list.push(route.clone()),
                            None => table.wildcard.push((suffix.clone(), vec![route.clone()])),
                        }
                    }
                }
            }
        }
        let by_prefix = |list: &mut Vec<Arc<Route>>| {
            list.sort_by_key(|r| std::cmp::Reverse(r.spec.path_prefix.len()));
        };
        table.exact.values_mut().for_each(by_prefix);
        table.wildcard.iter_mut().for_each(|(_, l)| by_prefix(l));
        table
            .wildcard
            .sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        by_prefix(&mut table.any_host);
        table
    }

    /// The route for a request to `host` (as sent, any port is ignored) and normalised `path`.
    pub fn select<'a>(&'a self, host: Option<&str>, path: &str) -> Option<&'a Arc<Route>> {
        let first = |list: &'a [Arc<Route>]| list.iter().find(move |r| r.matches(path));
        if let Some(host) = host.map(host_without_port) {
            let host: std::borrow::Cow<'_, str> = if host.bytes().any(|b| b.is_ascii_uppercase()) {
                host.to_ascii_lowercase().into()
            } else {
                host.into()
            };
            let host = host.trim_end_matches('.');
            if let Some(r) = self.exact.get(host).and_then(|l| first(l)) {
                return Some(r);
            }
            for (suffix, list) in &self.wildcard {
                if host.len() > suffix.len()
                    && host.ends_with(suffix.as_str())
                    && let Some(r) = first(list)
                {
                    return Some(r);
                }
            }
        }
        first(&self.any_host)
    }

    /// Every route, each once.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Route>> {
        let mut seen = std::collections::HashSet::new();
        self.exact
            .values()
            .flatten()
            .chain(self.wildcard.iter().flat_map(|(_, l)| l))
            .chain(self.any_host.iter())
            .filter(move |r| seen.insert(Arc::as_ptr(r)))
    }
}

/// `example.fr:8443` → `example.fr`; `[::1]:8443` → `[::1]`.
fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    })
}

#[cfg(test)]
mod tests;
