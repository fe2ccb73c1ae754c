//! Loading Vigie's one YAML file into a validated [`Config`].
//!
//! Owns reading the file and turning YAML into typed values: syntax and type errors come from
//! serde with the YAML path and line; cross-checks (unknown upstream, duplicate route, missing
//! certificate...) are collected across every section so an operator sees them all at once.
//! What each section means belongs to the section's module (`listeners`, `routing`, ...).

mod error;
pub mod file;
pub mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) use error::Problems;
pub use error::{ConfigError, ConfigErrors};
pub use values::Duration;

use crate::auth::IdentitySettings;
use crate::auth::provider::ProviderSpec;
use crate::forwarded::TrustedProxies;
use crate::limits::Limits;
use crate::listeners::{AdminSpec, ListenerSpec};
use crate::logging::LogSettings;
use crate::plugins::PluginSpec;
use crate::ratelimit::RateLimitSpec;
use crate::routing::RouteSpec;
use crate::saml::spec::SamlSpec;
use crate::server::ServerSettings;
use crate::sessions::SessionSettings;
use crate::upstreams::{ConcurrencySpec, UpstreamSpec};
use crate::waiting::WaitingRoomSpec;

/// Largest configuration file accepted.
const MAX_FILE_SIZE: u64 = 4 << 20;

/// A whole, validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from, if any.
    pub source: Option<PathBuf>,
    /// A hash of the text it was parsed from: the reloader compares the file with it.
    pub text_hash: u64,
    /// `server:`
    pub server: ServerSettings,
    /// `logging:`
    pub logging: LogSettings,
    /// `listeners:`
    pub listeners: Vec<ListenerSpec>,
    /// `admin:`
    pub admin: AdminSpec,
    /// `limits:`
    pub limits: Limits,
    /// `trusted_proxies:`
    pub trusted_proxies: TrustedProxies,
    /// `upstreams:`, by name.
    pub upstreams: BTreeMap<String, UpstreamSpec>,
    /// `routes:`, in file order.
    pub routes: Vec<RouteSpec>,
    /// `upstreams.NAME.concurrency:`, by upstream name, for those that have one.
    pub concurrency: BTreeMap<String, ConcurrencySpec>,
    /// `identity_providers.NAME.waiting_room:`, by provider name, for those that have one.
    pub waiting_rooms: BTreeMap<String, WaitingRoomSpec>,
    /// `rate_limits:`, by name.
    pub rate_limits: BTreeMap<String, RateLimitSpec>,
    /// `identity_providers:` of kind `oidc`, by name.
    pub providers: BTreeMap<String, ProviderSpec>,
    /// `identity_providers:` of kind `saml`, by name.
    pub saml: BTreeMap<String, SamlSpec>,
    /// `identity:`
    pub identity: IdentitySettings,
    /// `sessions:`
    pub sessions: SessionSettings,
    /// `plugins:`, by name, loaded and checked.
    pub plugins: BTreeMap<String, PluginSpec>,
}

/// Reads and validates the file at `path`. Relative paths inside it start at its folder.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = read(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, Some(path), base)
}

/// Reads the text of a configuration file, refusing files too large to be one.
pub fn read(path: &Path) -> Result<String, ConfigErrors> {
    let unreadable = |e: std::io::Error| {
        ConfigError::whole_file(Some(path), format!("cannot read the file: {e}"))
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_FILE_SIZE {
        return Err(ConfigError::whole_file(
            Some(path),
            format!("the file is {size} bytes; the limit is {MAX_FILE_SIZE}"),
        )
        .into());
    }
    Ok(std::fs::read_to_string(path).map_err(unreadable)?)
}

/// Validates YAML `text`; `file` names it in errors and `base` anchors relative paths.
pub fn parse(text: &str, file: Option<&Path>, base: &Path) -> Result<Config, ConfigErrors> {
    let mut error_path = String::new();
    let parsed: Result<file::FileConfig, _> =
        serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_path_to_error::deserialize(de).map_err(|e| {
                error_path = e.path().to_string();
                e.into_inner()
            })
        });
    let raw = parsed.map_err(|e| error::from_yaml(file, error_path, &e))?;
    let mut problems = Problems::new(file);
    let upstreams = UpstreamSpec::from_file(&raw.upstreams, base, &mut problems);
    let (providers, saml) = identity_providers(&raw.identity_providers, base, &mut problems);
    let identity = IdentitySettings::from_file(&raw.identity, base, &mut problems);
    let rate_limits = RateLimitSpec::from_file(&raw.rate_limits, &mut problems);
    let routes = RouteSpec::from_file(
        &raw.routes,
        &upstreams,
        &providers,
        raw.identity_providers
            .values()
            .any(|p| p.kind.value == file::ProviderKind::Saml),
        &identity,
        &rate_limits,
        &mut problems,
    );
    let cache = match &raw.server.plugin_cache {
        Some(dir) => Some(base.join(&dir.value)),
        None => crate::plugins::engine::default_cache_dir(),
    };
    let plugins = PluginSpec::from_file(
        &raw.plugins,
        base,
        cache.as_deref(),
        &upstreams.keys().cloned().collect(),
        &mut problems,
    );
    check_route_plugins(&raw.routes, &raw.plugins, &mut problems);
    let waiting_rooms = raw
        .identity_providers
        .iter()
        .filter_map(|(name, p)| {
            let w = p.waiting_room.as_ref()?;
            let path = format!("identity_providers.{name}");
            if p.kind.value == file::ProviderKind::Oidc && p.login.is_none() {
                problems.report(
                    format!("{path}.waiting_room"),
                    &w.referenced,
                    "a waiting room queues logins: this provider has no `login:` section",
                );
            }
            Some((
                name.clone(),
                WaitingRoomSpec::from_file(name, w, &path, &rate_limits, &mut problems),
            ))
        })
        .collect();
    let config = Config {
        source: file.map(Path::to_path_buf),
        text_hash: text_hash(text.as_bytes()),
        server: ServerSettings::from_file(&raw.server, &mut problems),
        logging: LogSettings::from_file(&raw.logging),
        listeners: ListenerSpec::from_file(&raw.listeners, &raw.admin, base, &mut problems),
        admin: AdminSpec::from_file(&raw.admin),
        limits: Limits::from_file(&raw.limits, &mut problems),
        trusted_proxies: TrustedProxies::new(&raw.trusted_proxies),
        routes,
        concurrency: raw
            .upstreams
            .value
            .iter()
            .filter_map(|(name, u)| {
                let c = u.concurrency.as_ref()?;
                let path = format!("upstreams.{name}.concurrency");
                Some((
                    name.clone(),
                    ConcurrencySpec::from_file(c, &path, &mut problems),
                ))
            })
            .collect(),
        rate_limits,
        waiting_rooms,
        upstreams,
        providers,
        saml,
        identity,
        sessions: SessionSettings::from_file(&raw.sessions, base, &mut problems),
        plugins,
    };
    problems.finish(config)
}

/// The hash of a configuration text that [`Config::text_hash`] holds.
pub fn text_hash(text: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Each plugin a route lists is declared, and listed once.
fn check_route_plugins(
    routes: &serde_saphyr::Spanned<Vec<file::RouteSection>>,
    plugins: &BTreeMap<String, serde_saphyr::Spanned<file::PluginSection>>,
    problems: &mut Problems,
) {
    for (i, r) in routes.value.iter().enumerate() {
        for (j, name) in r.plugins.iter().enumerate() {
            let at = format!("routes[{i}].plugins[{j}]");
            if r.plugins[..j].iter().any(|n| n.value == name.value) {
                let msg = format!("plugin {:?} is listed twice", name.value);
                problems.report(&at, &name.referenced, msg);
            } else if !plugins.contains_key(&name.value) {
                let known: Vec<&str> = plugins.keys().map(String::as_str).collect();
                let known = if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                };
                let msg = format!("no plugin named {:?}; known: {known}", name.value);
                problems.report(&at, &name.referenced, msg);
            }
        }
    }
}

/// `identity_providers:`, split by kind.
fn identity_providers(
    raw: &BTreeMap<String, file::ProviderSection>,
    base: &Path,
    problems: &mut Problems,
) -> (BTreeMap<String, ProviderSpec>, BTreeMap<String, SamlSpec>) {
    let mut oidc = BTreeMap::new();
    let mut saml = BTreeMap::new();
    let now = crate::sessions::unix_now() as i64;
    for (name, p) in raw {
        match p.kind.value {
            file::ProviderKind::Oidc => {
                if let Some(spec) = ProviderSpec::from_file(name, p, base, problems) {
                    oidc.insert(name.clone(), spec);
                }
            }
            file::ProviderKind::Saml => {
                let path = format!("identity_providers.{name}");
                let oidc_only = [
                    ("issuer", p.issuer.is_some()),
                    ("jwks_uri", p.jwks_uri.is_some()),
                    ("audiences", p.audiences.is_some()),
                    ("algorithms", p.algorithms.is_some()),
                    ("login", p.login.is_some()),
                ];
                for (field, given) in oidc_only {
                    if given {
                        problems.report(
                            format!("{path}.{field}"),
                            &p.kind.referenced,
                            format!("{field} is for kind oidc; a saml provider is set under saml:"),
                        );
                    }
                }
                match &p.saml {
                    Some(s) => {
                        if let Some(spec) = SamlSpec::from_file(name, s, base, now, problems) {
                            saml.insert(name.clone(), spec);
                        }
                    }
                    None => problems.report(
                        format!("{path}.saml"),
                        &p.kind.referenced,
                        "a provider of kind saml needs a saml: section",
                    ),
                }
            }
        }
    }
    (oidc, saml)
}

#[cfg(test)]
mod tests;
