//! Validated `sessions.redis:`: where the shared store is and how it is used.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use redis::IntoConnectionInfo;

use crate::config::Problems;
use crate::config::file::RedisSection;

/// Validated `sessions.redis:`. Its `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://` URLs, without credentials.
    pub urls: Vec<String>,
    /// The URLs name nodes of a Redis Cluster.
    pub cluster: bool,
    /// ACL user.
    pub username: Option<String>,
    password: Option<String>,
    /// Prefix of keys and of the revocation channel.
    pub key_prefix: String,
    /// Time one command may take.
    pub timeout: Duration,
    /// Sessions kept in each node (0: no local cache).
    pub local_max_entries: u64,
    /// How long a session read from Redis is reused.
    pub local_ttl: Duration,
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("urls", &self.urls)
            .field("cluster", &self.cluster)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .field("local_max_entries", &self.local_max_entries)
            .field("local_ttl", &self.local_ttl)
            .finish()
    }
}

impl RedisSettings {
    /// Validates `section`, reporting each problem under `sessions.redis`.
    pub(crate) fn from_file(
        section: &RedisSection,
        base: &Path,
        problems: &mut Problems,
    ) -> Option<RedisSettings> {
        let before = problems.len();
        if section.urls.value.is_empty() {
            problems.report(
                "sessions.redis.urls",
                &section.urls.referenced,
                "at least one redis:// URL is needed",
            );
        }
        let cluster = section.cluster.unwrap_or(false);
        if !cluster && section.urls.value.len() > 1 {
            problems.report(
                "sessions.redis.urls",
                &section.urls.referenced,
                "several URLs are for a Redis Cluster: set `cluster: true`, or keep one URL",
            );
        }
        for (i, url) in section.urls.value.iter().enumerate() {
            if let Err(why) = check_url(&url.value) {
                problems.report(format!("sessions.redis.urls[{i}]"), &url.referenced, why);
            }
        }
        let password = section.password_file.as_ref().and_then(|f| {
            let file = base.join(&f.value);
            match std::fs::read_to_string(&file) {
                Ok(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
                Ok(_) => {
                    let why = format!("{} is empty", file.display());
                    problems.report("sessions.redis.password_file", &f.referenced, why);
                    None
                }
                Err(e) => {
                    let why = format!("cannot read {}: {e}", file.display());
                    problems.report("sessions.redis.password_file", &f.referenced, why);
                    None
                }
            }
        });
        let key_prefix = match &section.key_prefix {
            Some(p) if p.value.is_empty() || p.value.chars().any(char::is_whitespace) => {
                problems.report(
                    "sessions.redis.key_prefix",
                    &p.referenced,
                    "expected a non-empty prefix without spaces, such as `vigie:`",
                );
                String::new()
            }
            Some(p) => p.value.clone(),
            None => "vigie:".to_string(),
        };
        let local = &section.local_cache;
        (problems.len() == before).then(|| RedisSettings {
            urls: section.urls.value.iter().map(|u| u.value.clone()).collect(),
            cluster,
            username: section.username.clone(),
            password,
            key_prefix,
            timeout: section.timeout.map_or(Duration::from_millis(500), |d| d.0),
            local_max_entries: local.max_entries.unwrap_or(100_000),
            local_ttl: local.ttl.map_or(Duration::from_secs(5), |d| d.0),
        })
    }

    /// The connection details of each URL, with the credentials and RESP3 (for the
    /// revocation pushes) applied.
    pub fn connection_infos(&self) -> Result<Vec<redis::ConnectionInfo>, String> {
        self.urls
            .iter()
            .map(|url| {
                let info = url
                    .as_str()
                    .into_connection_info()
                    .map_err(|e| e.to_string())?;
                let mut redis = info
                    .redis_settings()
                    .clone()
                    .set_protocol(redis::ProtocolVersion::RESP3);
                if let Some(user) = &self.username {
                    redis = redis.set_username(user);
                }
                if let Some(password) = &self.password {
                    redis = redis.set_password(password);
                }
                Ok(info.set_redis_settings(redis))
            })
            .collect()
    }
}

/// Why `url` cannot name the session store, if it cannot.
fn check_url(url: &str) -> Result<(), String> {
    if url.starts_with("rediss://") {
        return Err("TLS to Redis (rediss://) is not built into this Vigie; use redis:// on a private network".into());
    }
    if !url.starts_with("redis://") {
        return Err(format!("expected a redis://HOST:PORT URL, found {url:?}"));
    }
    let info = url
        .into_connection_info()
        .map_err(|e| format!("not a Redis URL: {e}"))?;
    if info.redis_settings().password().is_some() {
        return Err("the URL holds a password: put it in `password_file` instead".into());
    }
    if info.redis_settings().username().is_some() {
        return Err("the URL holds a user name: put it in `username` instead".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The errors of a config whose `sessions:` is `sessions` (files read from `dir`).
    fn errors_of(sessions: &str, dir: &Path) -> Vec<String> {
        let yaml = format!(
            "listeners: [{{ name: p, address: 127.0.0.1:0 }}]\nadmin: {{ address: 127.0.0.1:0 }}\n\
             upstreams: {{ u: {{ backends: [\"127.0.0.1:1\"] }} }}\n\
             routes: [{{ name: r, path_prefix: /, upstream: u, access: public }}]\n\
             sessions:\n{sessions}"
        );
        match crate::config::parse(&yaml, Some(Path::new("vigie.yaml")), dir) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn the_sessions_section_names_each_mistake() {
        let dir = std::env::temp_dir().join(format!("vigie-redis-cfg-{:x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret"), [7u8; 32]).unwrap();
        std::fs::write(dir.join("password"), "hunter2\n").unwrap();
        let good = "  store: redis\n  secret_file: secret\n  redis:\n    urls: [\"redis://127.0.0.1:6379\"]\n    password_file: password\n";
        assert_eq!(errors_of(good, &dir), Vec::<String>::new());
        let cases = [
            (
                "  store: redis\n  secret_file: secret\n",
                "vigie.yaml:6:10: sessions.store: `store: redis` needs a `sessions.redis` section naming the server",
            ),
            (
                "  secret_file: secret\n  redis: { urls: [\"redis://r:6379\"] }\n",
                "vigie.yaml:7:10: sessions.redis: used only with `store: redis` (the store is `embedded`)",
            ),
            (
                "  store: redis\n  secret_file: secret\n  redis: { urls: [\"redis://:hunter2@r:6379\"] }\n",
                "vigie.yaml:8:19: sessions.redis.urls[0]: the URL holds a password: put it in `password_file` instead",
            ),
            (
                "  store: redis\n  secret_file: secret\n  redis: { urls: [\"redis://a:1\", \"redis://b:1\"] }\n",
                "vigie.yaml:8:18: sessions.redis.urls: several URLs are for a Redis Cluster: set `cluster: true`, or keep one URL",
            ),
            (
                "  store: redis\n  redis: { urls: [\"redis://r:6379\"] }\n",
                "vigie.yaml:7:10: sessions.secret_file: a fleet sharing Redis needs the same `secret_file` on every node (a login may end on another node)",
            ),
            (
                "  store: redis\n  secret_file: secret\n  redis: { urls: [\"redis://r:6379\"], password_file: missing }\n",
                "sessions.redis.password_file: cannot read",
            ),
            (
                "  store: redis\n  secret_file: secret\n  redis: { urls: [\"redis://r:6379\"], key_prefix: \"\" }\n",
                "sessions.redis.key_prefix: expected a non-empty prefix without spaces",
            ),
            (
                "  store: memcached\n",
                "vigie.yaml:6:10: sessions.store: unknown variant `memcached`, expected one of embedded, redis",
            ),
        ];
        for (sessions, expected) in cases {
            let errors = errors_of(sessions, &dir);
            assert!(
                errors.len() == 1 && errors[0].contains(expected),
                "{sessions}\nexpected {expected:?}\ngot {errors:#?}"
            );
            assert!(
                !errors[0].contains("hunter2"),
                "a secret in an error: {}",
                errors[0]
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn urls_name_a_server_and_never_hold_secrets() {
        assert!(check_url("redis://127.0.0.1:6379").is_ok());
        assert!(check_url("redis://redis.vigie.svc:6379/2").is_ok());
        for (bad, why) in [
            ("redis://:hunter2@127.0.0.1:6379", "password_file"),
            ("redis://vigie:hunter2@127.0.0.1:6379", "password_file"),
            ("rediss://127.0.0.1:6379", "TLS"),
            ("http://127.0.0.1:6379", "expected a redis://"),
            ("127.0.0.1:6379", "expected a redis://"),
        ] {
            let err = check_url(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
            assert!(
                !err.contains("hunter2"),
                "{bad}: the error repeats the secret"
            );
        }
    }
}
