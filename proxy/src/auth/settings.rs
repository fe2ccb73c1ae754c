//! `identity:`: what every route shares about identities (header prefix, headers stripped,
//! `acr` order, the verified-token cache, Vigie's own signed assertion).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Problems;
use crate::config::file::IdentitySection;

/// The validated `identity:` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentitySettings {
    /// Prefix of Vigie's identity headers (`X-Vigie-`).
    pub header_prefix: String,
    /// Further client-sent headers removed from every request.
    pub strip: Vec<http::HeaderName>,
    /// `acr` values, weakest first.
    pub acr_order: Vec<String>,
    /// Vigie's signed assertion, when configured.
    pub assertion: Option<AssertionSpec>,
    /// Verified-token cache settings.
    pub token_cache: TokenCacheSettings,
}

/// Verified-token cache settings (one cache per provider).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenCacheSettings {
    /// On by default.
    pub enabled: bool,
    /// Memory bound, in bytes.
    pub max_bytes: u64,
    /// Longest trust without a new check.
    pub max_ttl: Duration,
}

/// Validated `identity.assertion:`.
#[derive(Clone, PartialEq, Eq)]
pub struct AssertionSpec {
    /// `iss` of the assertions.
    pub issuer: String,
    /// The signing key file and its PEM.
    pub key: (PathBuf, Vec<u8>),
    /// The next key, published before it signs.
    pub next: Option<(PathBuf, Vec<u8>)>,
    /// Lifetime of an assertion.
    pub lifetime: Duration,
}

impl std::fmt::Debug for AssertionSpec {
    // Private keys are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionSpec")
            .field("issuer", &self.issuer)
            .field("key", &self.key.0)
            .field("next", &self.next.as_ref().map(|n| &n.0))
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

// === impl IdentitySettings ===

impl IdentitySettings {
    pub(crate) fn from_file(
        section: &IdentitySection,
        base: &Path,
        problems: &mut Problems,
    ) -> IdentitySettings {
        let header_prefix = match &section.header_prefix {
            None => "X-Vigie-".to_string(),
            Some(p) => {
                let valid = p.value.len() >= 2
                    && p.value.ends_with('-')
                    && http::HeaderName::from_bytes(p.value.trim_end_matches('-').as_bytes())
                        .is_ok();
                if !valid {
                    problems.report(
                        "identity.header_prefix",
                        &p.referenced,
                        format!("invalid header_prefix {:?}: expected a header name prefix ending with '-', such as \"X-Vigie-\"", p.value),
                    );
                }
                p.value.clone()
            }
        };
        let assertion = section.assertion.as_ref().and_then(|a| {
            let read = |f: &serde_saphyr::Spanned<PathBuf>,
                        field: &str,
                        problems: &mut Problems| {
                let file = base.join(&f.value);
                let pem = std::fs::read(&file)
                    .map_err(|e| e.to_string())
                    .and_then(|pem| super::assertion::SigningKey::from_pem(&pem).map(|_| pem));
                match pem {
                    Ok(pem) => Some((file, pem)),
                    Err(e) => {
                        problems.report(
                            format!("identity.assertion.{field}"),
                            &f.referenced,
                            format!("cannot use {} as an ES256 signing key: {e}", file.display()),
                        );
                        None
                    }
                }
            };
            let key = read(&a.signing_key, "signing_key", problems)?;
            let next = a
                .next_signing_key
                .as_ref()
                .and_then(|n| read(n, "next_signing_key", problems));
            Some(AssertionSpec {
                issuer: a.issuer.clone(),
                key,
                next,
                lifetime: a.lifetime.map_or(Duration::from_secs(60), |d| d.0),
            })
        });
        IdentitySettings {
            header_prefix,
            strip: section.strip_headers.iter().map(|h| h.0.clone()).collect(),
            acr_order: section
                .acr_order
                .clone()
                .unwrap_or_else(|| vec!["eidas1".into(), "eidas2".into(), "eidas3".into()]),
            assertion,
            token_cache: TokenCacheSettings {
                enabled: section.token_cache.enabled.unwrap_or(true),
                max_bytes: section
                    .token_cache
                    .max_size
                    .map_or(64 << 20, |s| s.0 as u64),
                max_ttl: section
                    .token_cache
                    .max_ttl
                    .map_or(Duration::from_secs(300), |d| d.0),
            },
        }
    }
}
