//! Validation of `routes:` into [`RouteSpec`]s.

use std::collections::{BTreeMap, HashMap};

use serde_saphyr::Spanned;

use super::HeaderRules;
use crate::auth::{Access, IdentitySettings};
use crate::config::Problems;
use crate::config::file::RouteSection;
use crate::ratelimit::RateLimitSpec;

/// One validated route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// Unique name, used as the `route` label in metrics and logs.
    pub name: String,
    /// Hosts served; empty means any host.
    pub hosts: Vec<HostPattern>,
    /// Path prefix without a trailing `/` (except the root, `/`).
    pub path_prefix: String,
    /// Name of the upstream (known to exist).
    pub upstream: String,
    /// Replacement for the prefix on the upstream request.
    pub rewrite_prefix: Option<String>,
    /// Rules for the request sent upstream.
    pub request_headers: HeaderRules,
    /// Rules for the response sent back.
    pub response_headers: HeaderRules,
    /// Who may enter.
    pub access: Access,
    /// Names of the `rate_limits:` applied, in order (known to exist).
    pub rate_limits: Vec<String>,
    /// Kept first when load is shed.
    pub essential: bool,
    /// Names of the `plugins:` run on its requests, in order.
    pub plugins: Vec<String>,
}

/// A host a route serves.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// This host exactly (lower-case).
    Exact(String),
    /// Any sub-domain: `*.ac-nantes.fr` is stored as `.ac-nantes.fr`.
    Wildcard(String),
}

// === impl RouteSpec ===

impl RouteSpec {
    /// Validates every route against the names of the configured upstreams.
    pub(crate) fn from_file(
        routes: &Spanned<Vec<RouteSection>>,
        upstreams: &BTreeMap<String, impl Sized>,
        providers: &BTreeMap<String, crate::auth::provider::ProviderSpec>,
        saml_logins: bool,
        identity: &IdentitySettings,
        limits: &BTreeMap<String, RateLimitSpec>,
        problems: &mut Problems,
    ) -> Vec<RouteSpec> {
        let provider_names: Vec<&str> = providers.keys().map(String::as_str).collect();
        if routes.value.is_empty() {
            problems.report("routes", &routes.referenced, "at least one route is needed");
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut matchers: HashMap<(Option<HostPattern>, String), usize> = HashMap::new();
        let mut specs = Vec::new();
        for (i, r) in routes.value.iter().enumerate() {
            let path = format!("routes[{i}]");
            check_name(&path, &r.name, &mut names, i, problems);
            let hosts: Vec<HostPattern> = r
                .hosts
                .iter()
                .enumerate()
                .filter_map(|(j, h)| match HostPattern::parse(&h.value) {
                    Ok(p) => Some(p),
                    Err(msg) => {
                        problems.report(format!("{path}.hosts[{j}]"), &h.referenced, msg);
                        None
                    }
                })
                .collect();
            let prefix = match check_prefix(&r.path_prefix.value) {
                Ok(p) => p,
                Err(msg) => {
                    problems.report(
                        format!("{path}.path_prefix"),
                        &r.path_prefix.referenced,
                        msg,
                    );
                    continue;
                }
            };
            if !upstreams.contains_key(&r.upstream.value) {
                let known: Vec<&str> = upstreams.keys().map(String::as_str).collect();
                problems.report(
                    format!("{path}.upstream"),
                    &r.upstream.referenced,
                    format!(
                        "no upstream named {:?}; known: {}",
                        r.upstream.value,
                        known.join(", ")
                    ),
                );
            }
            if let Some(rw) = &r.rewrite_prefix
                && (!rw.value.starts_with('/') || rw.value.contains(['?', '#']))
            {
                problems.report(
                    format!("{path}.rewrite_prefix"),
                    &rw.referenced,
                    format!(
                        "invalid rewrite_prefix {:?}: expected a path starting with '/'",
                        rw.value
                    ),
                );
            }
            let keys: Vec<Option<HostPattern>> = if hosts.is_empty() {
                vec![None]
            } else {
                hosts.iter().cloned().map(Some).collect()
            };
            for key in keys {
                let host = key
                    .as_ref()
                    .map_or("any host".to_string(), HostPattern::to_string);
                if let Some(first) = matchers.insert((key, prefix.clone()), i) {
                    problems.report(
                        &path,
                        &r.name.referenced,
                        format!(
                            "duplicate route: {host} with path_prefix {prefix:?} is already served by routes[{first}] ({:?})",
                            routes.value[first].name.value
                        ),
                    );
                }
            }
            let access = Access::from_file(
                &r.access,
                &path,
                &provider_names,
                &identity.acr_order,
                identity.assertion.is_some(),
                saml_logins || providers.values().any(|p| p.login.is_some()),
                problems,
            );
            check_limits(&path, r, &access, limits, problems);
            specs.push(RouteSpec {
                name: r.name.value.clone(),
                hosts,
                path_prefix: prefix,
                upstream: r.upstream.value.clone(),
                rewrite_prefix: r.rewrite_prefix.as_ref().map(|s| s.value.clone()),
                request_headers: HeaderRules::from_file(&r.request_headers),
                response_headers: HeaderRules::from_file(&r.response_headers),
                access,
                rate_limits: r.rate_limits.iter().map(|l| l.value.clone()).collect(),
                essential: r.essential,
                plugins: r.plugins.iter().map(|p| p.value.clone()).collect(),
            });
        }
        specs
    }
}

/// Each listed limit exists, once, and a limit counting people is on a protected route.
fn check_limits(
    path: &str,
    r: &RouteSection,
    access: &Access,
    limits: &BTreeMap<String, RateLimitSpec>,
    problems: &mut Problems,
) {
    for (j, name) in r.rate_limits.iter().enumerate() {
        let at = format!("{path}.rate_limits[{j}]");
        if r.rate_limits[..j].iter().any(|n| n.value == name.value) {
            problems.report(
                &at,
                &name.referenced,
                format!("limit {:?} is listed twice", name.value),
            );
        }
        match limits.get(&name.value) {
            None => {
                let known: Vec<&str> = limits.keys().map(String::as_str).collect();
                problems.report(
                    &at,
                    &name.referenced,
                    format!(
                        "no rate limit named {:?}; known: {}",
                        name.value,
                        if known.is_empty() { "none".into() } else { known.join(", ") }
                    ),
                );
            }
            Some(spec) if spec.needs_identity() && *access == Access::Public => problems.report(
                &at,
                &name.referenced,
                format!(
                    "limit {:?} counts by subject, which needs a protected route (this one is public)",
                    name.value
                ),
            ),
            Some(_) => {}
        }
    }
}

fn check_name<'a>(
    path: &str,
    name: &'a Spanned<String>,
    names: &mut HashMap<&'a str, usize>,
    index: usize,
    problems: &mut Problems,
) {
    let valid = !name.value.is_empty()
        && name
            .value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        problems.report(
            format!("{path}.name"),
            &name.referenced,
            format!(
                "invalid route name {:?}: use letters, digits, '-', '_' and '.'",
                name.value
            ),
        );
    }
    if let Some(first) = names.insert(&name.value, index) {
        problems.report(
            format!("{path}.name"),
            &name.referenced,
            format!(
                "duplicate route name {:?} (also routes[{first}])",
                name.value
            ),
        );
    }
}

/// A prefix must be a clean absolute path; it is stored without its trailing `/`.
fn check_prefix(prefix: &str) -> Result<String, String> {
    let clean = super::normalize_path(prefix)
        .ok()
        .filter(|p| p.as_ref() == prefix);
    if clean.is_none() || prefix.contains(['?', '#', '%']) {
        return Err(format!(
            "invalid path_prefix {prefix:?}: expected a path such as \"/\" or \"/teleservices\" (no '..', '//', '%', '?' or '#')"
        ));
    }
    Ok(if prefix == "/" {
        prefix.into()
    } else {
        prefix.trim_end_matches('/').into()
    })
}

// === impl HostPattern ===

impl HostPattern {
    /// `ent.ac-nantes.fr` or `*.ac-nantes.fr`, case-insensitive, no port.
    pub fn parse(s: &str) -> Result<HostPattern, String> {
        let lower = s.to_ascii_lowercase();
        let (wild, name) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        let valid = !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(format!(
                "invalid host {s:?}: expected a host name such as \"ent.ac-nantes.fr\" or \"*.ac-nantes.fr\" (no port)"
            ));
        }
        Ok(if wild {
            HostPattern::Wildcard(format!(".{name}"))
        } else {
            HostPattern::Exact(name.into())
        })
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostPattern::Exact(h) => write!(f, "host {h}"),
            HostPattern::Wildcard(s) => write!(f, "host *{s}"),
        }
    }
}
