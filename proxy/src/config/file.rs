//! The serde mirror of Vigie's YAML file: one struct per section, field names identical to
//! the YAML keys, unknown keys refused. These types are only read by `config::load`; the rest
//! of the proxy works with the validated runtime types each section's module builds from them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_saphyr::Spanned;

mod identity;
mod plugins;
mod saml;
mod sessions;
mod traffic;

pub use identity::*;
pub use plugins::*;
pub use saml::*;
pub use sessions::*;
pub use traffic::*;

use super::values::{ByteSize, Cidr, Duration, HeaderName, HeaderValue, ListenAddr};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Process-wide settings.
    #[serde(default)]
    pub server: ServerSection,
    /// Log format and level.
    #[serde(default)]
    pub logging: LoggingSection,
    /// Where clients connect: at least one.
    pub listeners: Spanned<Vec<ListenerSection>>,
    /// The operator endpoint (`/metrics`, `/healthz`, `/readyz`).
    pub admin: AdminSection,
    /// Networks whose `X-Forwarded-*` headers are believed (load balancers, CDNs).
    #[serde(default)]
    pub trusted_proxies: Vec<Cidr>,
    /// Protocol limits applied to every client connection.
    #[serde(default)]
    pub limits: LimitsSection,
    /// Named pools of backends.
    pub upstreams: Spanned<BTreeMap<String, UpstreamSection>>,
    /// Identity providers whose tokens are accepted, by name.
    #[serde(default)]
    pub identity_providers: BTreeMap<String, ProviderSection>,
    /// What Vigie tells upstreams about the identity, and how.
    #[serde(default)]
    pub identity: IdentitySection,
    /// Login sessions owned by the edge.
    #[serde(default)]
    pub sessions: SessionsSection,
    /// Named rate limits, applied by the routes that list them.
    #[serde(default)]
    pub rate_limits: std::collections::BTreeMap<String, Spanned<RateLimitSection>>,
    /// Which requests go where.
    pub routes: Spanned<Vec<RouteSection>>,
    /// `plugins:`, by name.
    #[serde(default)]
    pub plugins: BTreeMap<String, Spanned<PluginSection>>,
}

/// `server:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Worker threads of the proxy; default: one per CPU.
    pub threads: Option<Spanned<usize>>,
    /// After SIGTERM, how long in-flight requests may run before the process exits (default 10s).
    pub grace_period: Option<Duration>,
    /// After the grace period, how long runtimes get to stop (default 5s).
    pub shutdown_timeout: Option<Duration>,
    /// How often the config file is checked for changes; `0s` turns watching off (default 2s).
    pub watch_interval: Option<Duration>,
    /// Let idle worker threads take tasks from busy ones (default false: each thread serves
    /// the connections it accepted, which measured ~15% less CPU per request here).
    pub work_stealing: Option<bool>,
    /// Where compiled plugins are kept between runs (default `$XDG_CACHE_HOME/vigie/plugins`
    /// or `~/.cache/vigie/plugins`; must be private to Vigie's user).
    pub plugin_cache: Option<Spanned<PathBuf>>,
}

/// `logging:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingSection {
    /// `json` (default) or `text`.
    pub format: Option<LogFormat>,
    /// A tracing filter such as `info` or `info,vigie=debug`; `RUST_LOG` overrides it.
    pub level: Option<String>,
    /// One JSON line per request (default true).
    pub access_log: Option<bool>,
}

/// Output format of the logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}

/// One entry of `listeners:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSection {
    /// A name for logs and metrics.
    pub name: Spanned<String>,
    /// Address and port to bind.
    pub address: Spanned<ListenAddr>,
    /// Present for HTTPS: certificate chain and key, PEM files.
    pub tls: Option<TlsSection>,
}

/// `listeners[].tls:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain, leaf first. Relative paths start at the config file's folder.
    pub certificate: Spanned<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: Spanned<PathBuf>,
}

/// `admin:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address of the admin listener; keep it off the public network.
    pub address: Spanned<ListenAddr>,
}

/// `limits:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Largest request head (request line and headers) accepted; larger gets 431 (default 32KiB).
    pub max_request_header_size: Option<Spanned<ByteSize>>,
    /// Time a client has to send a whole request head once it started (default 10s).
    pub header_read_timeout: Option<Duration>,
    /// How long an idle client connection is kept open between requests (default 60s).
    pub keepalive_timeout: Option<Duration>,
    /// Requests served on one HTTP/1 connection before it is closed (default 1000).
    pub max_requests_per_connection: Option<u32>,
    /// How long an idle HTTP/2 connection is kept (default 120s).
    pub h2_idle_timeout: Option<Duration>,
}

/// One entry of `upstreams:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    /// `host:port` of each backend; names are resolved at load and again at each health check.
    pub backends: Spanned<Vec<Spanned<String>>>,
    /// How a backend is picked (default `round_robin`).
    #[serde(default)]
    pub balancing: Balancing,
    /// With `consistent_hash`: what is hashed (`client_address`, `header:NAME`, `cookie:NAME`, `path`).
    pub hash_key: Option<Spanned<String>>,
    /// Time to establish a connection (default 2s).
    pub connect_timeout: Option<Duration>,
    /// Time to wait for each read from the backend, including the response head (default 30s).
    pub read_timeout: Option<Duration>,
    /// Time to wait for each write to the backend (default 30s).
    pub write_timeout: Option<Duration>,
    /// How long an idle pooled connection to a backend is kept (default 60s).
    pub idle_timeout: Option<Duration>,
    /// Active health checks; absent means every backend is assumed healthy.
    pub health_check: Option<HealthCheckSection>,
    /// Present to speak HTTPS to the backends.
    pub tls: Option<UpstreamTlsSection>,
    /// A bound on the requests sent at once, with a short queue beyond it.
    pub concurrency: Option<Spanned<ConcurrencySection>>,
}

/// Backend selection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Balancing {
    /// Each backend in turn.
    #[default]
    RoundRobin,
    /// The same key always goes to the same backend while it is healthy (ketama).
    ConsistentHash,
}

/// `upstreams.NAME.health_check:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckSection {
    /// Path probed with GET (a 200 is healthy); absent means a TCP (or TLS) connect check.
    pub http_path: Option<String>,
    /// Host header of the probe (default: the upstream's TLS SNI, or `localhost`).
    pub host: Option<String>,
    /// Time between checks (default 5s).
    pub interval: Option<Duration>,
    /// Time a single check may take (default 1s).
    pub timeout: Option<Duration>,
    /// Consecutive successes to mark a backend healthy again (default 1).
    pub healthy_after: Option<usize>,
    /// Consecutive failures to mark a backend unhealthy (default 2).
    pub unhealthy_after: Option<usize>,
}

/// `upstreams.NAME.tls:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTlsSection {
    /// Server name sent and verified.
    pub sni: String,
    /// PEM bundle of CAs trusted for the backends (default: the system's roots).
    pub ca_file: Option<Spanned<PathBuf>>,
    /// Verify the backend's certificate and name (default true; false only for tests).
    pub verify: Option<bool>,
}

/// One entry of `routes:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    /// A unique name, used in logs and metrics.
    pub name: Spanned<String>,
    /// Host names served (exact, or `*.example.fr`); absent means any host.
    #[serde(default)]
    pub hosts: Vec<Spanned<String>>,
    /// Path prefix matched on whole segments (`/ts` matches `/ts` and `/ts/x`, not `/tsx`).
    pub path_prefix: Spanned<String>,
    /// Name of the upstream that serves it.
    pub upstream: Spanned<String>,
    /// Who may enter: `public`, or the accepted credentials and profiles.
    pub access: Spanned<AccessSection>,
    /// Replaces the matched prefix before the request goes upstream.
    pub rewrite_prefix: Option<Spanned<String>>,
    /// Headers set or removed on the request sent upstream.
    #[serde(default)]
    pub request_headers: HeaderRulesSection,
    /// Headers set or removed on the response sent to the client.
    #[serde(default)]
    pub response_headers: HeaderRulesSection,
    /// Names of the `rate_limits:` applied, in order.
    #[serde(default)]
    pub rate_limits: Vec<Spanned<String>>,
    /// Kept when Vigie sheds load (slots reserved under `concurrency`); default false.
    #[serde(default)]
    pub essential: bool,
    /// Names of `plugins:` run on the route's requests, in order (after authentication).
    #[serde(default)]
    pub plugins: Vec<Spanned<String>>,
}

/// `request_headers:` / `response_headers:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRulesSection {
    /// Headers to set, replacing any value already present.
    #[serde(default)]
    pub add: BTreeMap<HeaderName, HeaderValue>,
    /// Headers to remove.
    #[serde(default)]
    pub remove: Vec<HeaderName>,
}
