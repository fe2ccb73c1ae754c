//! The serde mirror of `sessions:`.

use std::path::PathBuf;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::config::values::Duration;

/// `sessions:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsSection {
    /// `embedded` (default, one node) or `redis` (a fleet).
    pub store: Option<Spanned<StoreKind>>,
    /// A session unused for this long ends (default 30m).
    pub idle_timeout: Option<Duration>,
    /// A session ends this long after login (default 12h).
    pub absolute_timeout: Option<Duration>,
    /// Most sessions the embedded store keeps (default 1000000).
    pub max_sessions: Option<u64>,
    /// File of at least 32 random bytes sealing the login cookies; the same on every node.
    /// Absent: a random secret per process (one node only).
    pub secret_file: Option<Spanned<PathBuf>>,
    /// Where the `redis` store is.
    pub redis: Option<Spanned<RedisSection>>,
}

/// Session store kinds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// In the process.
    #[default]
    Embedded,
    /// In Redis, shared by a fleet.
    Redis,
}

/// `sessions.redis:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSection {
    /// `redis://HOST:PORT[/DB]`: one server, or with `cluster: true` some nodes of a cluster.
    pub urls: Spanned<Vec<Spanned<String>>>,
    /// The URLs are Redis Cluster nodes (default false).
    pub cluster: Option<bool>,
    /// ACL user name (default: none, or `default` with a password).
    pub username: Option<String>,
    /// File holding the password (never written in the YAML or the URL).
    pub password_file: Option<Spanned<PathBuf>>,
    /// Prefix of every key and of the revocation channel (default `vigie:`).
    pub key_prefix: Option<Spanned<String>>,
    /// Time one Redis command may take before the request gets a 503 (default 500ms).
    pub timeout: Option<Duration>,
    /// The small cache of sessions in each node.
    #[serde(default)]
    pub local_cache: LocalCacheSection,
}

/// `sessions.redis.local_cache:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalCacheSection {
    /// Sessions kept in the node (default 100000; 0 disables the cache).
    pub max_entries: Option<u64>,
    /// How long a session read from Redis is reused without asking again (default 5s);
    /// a logout anywhere removes it at once through the revocation channel.
    pub ttl: Option<Duration>,
}
