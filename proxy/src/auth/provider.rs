//! `identity_providers:`: each provider's validated settings ([`ProviderSpec`]) and its live
//! state ([`Provider`]: keys and verified tokens), kept across reloads while the spec holds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, AlgorithmFamily};

use super::discovery::Discovery;
use super::identity::ClaimMapping;
use super::source::{FetchError, Fetched, HttpKeySource, KeySource};
use super::store::{KeyMetrics, KeyPolicy, KeyStore};
use super::token_cache::{CacheCounters, TokenCache};
use super::verify::Rules;
use crate::config::Problems;
use crate::config::file::ProviderSection;
use crate::login::LoginSpec;

/// One validated identity provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderSpec {
    /// Its name in the config.
    pub name: String,
    /// What tokens are checked against.
    pub rules: Rules,
    /// Configured JWKS address; `None` means discovery.
    pub jwks_uri: Option<String>,
    /// CA bundle (PEM) replacing the system roots for discovery and JWKS.
    pub ca: Option<(PathBuf, Vec<u8>)>,
    /// Key freshness policy.
    pub keys: KeyPolicy,
    /// Time a fetch may take.
    pub fetch_timeout: Duration,
    /// How claims become the identity.
    pub claims: ClaimMapping,
    /// Browser login with this provider, when configured.
    pub login: Option<LoginSpec>,
}

/// A provider, live.
pub struct Provider {
    /// Its name in the config.
    pub name: Arc<str>,
    /// What it was built from.
    pub spec: ProviderSpec,
    /// Its keys.
    pub keys: KeyStore,
    /// Its verified tokens.
    pub tokens: TokenCache,
    /// The HTTP client of every call to it.
    pub client: reqwest::Client,
    /// Its metadata (endpoints).
    pub discovery: Arc<Discovery>,
}

/// Whether `url` may be fetched: HTTPS, or HTTP to a loopback host (local development).
pub fn is_acceptable_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    match (uri.scheme_str(), uri.host()) {
        (Some("https"), Some(_)) => true,
        (Some("http"), Some(host)) => {
            host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

// === impl ProviderSpec ===

impl ProviderSpec {
    /// Validates one `identity_providers.NAME` entry of kind `oidc`.
    pub(crate) fn from_file(
        name: &str,
        p: &ProviderSection,
        base: &Path,
        problems: &mut Problems,
    ) -> Option<ProviderSpec> {
        let path = format!("identity_providers.{name}");
        let (Some(issuer), Some(audiences)) = (&p.issuer, &p.audiences) else {
            problems.report(
                &path,
                &p.kind.referenced,
                "a provider of kind oidc needs issuer and audiences",
            );
            return None;
        };
        if p.saml.is_some() {
            problems.report(
                format!("{path}.saml"),
                &p.kind.referenced,
                "saml: is for providers of kind saml",
            );
        }
        if !is_acceptable_url(&issuer.value) {
            problems.report(
                format!("{path}.issuer"),
                &issuer.referenced,
                format!("invalid issuer {:?}: expected an https URL", issuer.value),
            );
        }
        if let Some(uri) = &p.jwks_uri
            && !is_acceptable_url(&uri.value)
        {
            problems.report(
                format!("{path}.jwks_uri"),
                &uri.referenced,
                format!("invalid jwks_uri {:?}: expected an https URL", uri.value),
            );
        }
        if audiences.value.is_empty() {
            problems.report(
                format!("{path}.audiences"),
                &audiences.referenced,
                "at least one audience is needed",
            );
        }
        let algorithms = match &p.algorithms {
            None => vec![Algorithm::ES256, Algorithm::RS256],
            Some(list) => list
                .value
                .iter()
                .enumerate()
                // Asymmetric signatures only: an HMAC key would have to be shared with Vigie.
                .filter_map(|(i, a)| match a.value.parse::<Algorithm>().ok().filter(|alg| alg.family() != AlgorithmFamily::Hmac) {
                    Some(alg) => Some(alg),
                    None => {
                        problems.report(
                            format!("{path}.algorithms[{i}]"),
                            &a.referenced,
                            format!("algorithm {:?} is not accepted: expected one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA", a.value),
                        );
                        None
                    }
                })
                .collect(),
        };
        let ca = p.ca_file.as_ref().and_then(|f| {
            let file = base.join(&f.value);
            let read = std::fs::read(&file)
                .map_err(|e| e.to_string())
                .and_then(|pem| {
                    reqwest::Certificate::from_pem_bundle(&pem)
                        .map_err(|e| e.to_string())
                        .and_then(|certs| {
                            if certs.is_empty() {
                                Err("no PEM certificate found".into())
                            } else {
                                Ok(pem)
                            }
                        })
                });
            match read {
                Ok(pem) => Some((file, pem)),
                Err(e) => {
                    problems.report(
                        format!("{path}.ca_file"),
                        &f.referenced,
                        format!("cannot read CA bundle {}: {e}", file.display()),
                    );
                    None
                }
            }
        });
        let d = |v: Option<crate::config::Duration>, secs: u64| {
            v.map_or(Duration::from_secs(secs), |d| d.0)
        };
        let keys = KeyPolicy {
            min_refresh: d(p.keys.min_refresh, 300),
            max_refresh: d(p.keys.max_refresh, 3600),
            unknown_kid_interval: d(p.keys.unknown_kid_interval, 60),
        };
        if keys.min_refresh > keys.max_refresh {
            problems.report(
                format!("{path}.keys"),
                &issuer.referenced,
                "keys.min_refresh must not exceed keys.max_refresh",
            );
        }
        Some(ProviderSpec {
            name: name.to_string(),
            rules: Rules {
                issuer: issuer.value.clone(),
                audiences: audiences.value.clone(),
                algorithms,
                leeway: d(p.leeway, 30).as_secs(),
                max_size: p.max_token_size.map_or(8 * 1024, |s| s.0),
            },
            jwks_uri: p.jwks_uri.as_ref().map(|u| u.value.clone()),
            ca,
            keys,
            fetch_timeout: d(p.keys.timeout, 5),
            claims: ClaimMapping::from_file(&p.claims),
            login: p
                .login
                .as_ref()
                .and_then(|l| LoginSpec::from_file(name, l, base, problems)),
        })
    }
}

// === impl Provider ===

impl Provider {
    /// A live provider with no keys yet (the key refresher loads them).
    pub fn build(spec: ProviderSpec, keys: KeyMetrics, tokens: TokenCache) -> Provider {
        let ca = spec.ca.as_ref().map(|(_, pem)| pem.as_slice());
        let (client, failure) = match super::source::client(ca, spec.fetch_timeout) {
            Ok(c) => (c, None),
            Err(reason) => (reqwest::Client::new(), Some(reason)),
        };
        let discovery = Arc::new(Discovery::new(client.clone(), &spec.rules.issuer));
        let source: Box<dyn KeySource> = match failure {
            None => Box::new(HttpKeySource::new(
                client.clone(),
                spec.jwks_uri.as_deref(),
                discovery.clone(),
            )),
            Some(reason) => Box::new(Unavailable(reason)),
        };
        Provider {
            name: spec.name.as_str().into(),
            keys: KeyStore::new(&spec.name, source, spec.keys, keys),
            tokens,
            client,
            discovery,
            spec,
        }
    }

    /// The keys to verify a token signed with `alg` under `kid`: the current ones, or after
    /// one refetch when the `kid` is unknown (see `store`).
    pub async fn keys_for(
        &self,
        kid: Option<&str>,
        alg: jsonwebtoken::Algorithm,
        instant: std::time::Instant,
    ) -> Result<Arc<super::keys::KeySet>, super::verify::VerifyError> {
        use super::verify::VerifyError::UnknownKey;
        let current = self.keys.keys();
        if let Some(keys) = current.as_ref().filter(|k| k.find(kid, alg).is_some()) {
            return Ok(keys.clone());
        }
        // Refetch when nothing is loaded yet (the provider was down at start) or the `kid`
        // is new (a rotation); a known `kid` with another algorithm is simply refused.
        let worth_refetching = match (&current, kid) {
            (None, _) => true,
            (Some(keys), Some(kid)) => !keys.has_kid(kid),
            (Some(_), None) => false,
        };
        if !worth_refetching {
            return Err(UnknownKey);
        }
        let keys = self
            .keys
            .refetch_for(kid, instant)
            .await
            .ok_or(UnknownKey)?;
        keys.find(kid, alg)
            .is_some()
            .then_some(keys)
            .ok_or(UnknownKey)
    }

    /// A token cache for a provider, from `identity.token_cache`.
    pub fn token_cache(
        settings: &super::TokenCacheSettings,
        counters: CacheCounters,
    ) -> TokenCache {
        TokenCache::new(
            settings.enabled,
            settings.max_bytes,
            settings.max_ttl,
            counters,
        )
    }
}

/// A key source that could not be built (its reason is reported at each attempt).
struct Unavailable(String);

#[async_trait::async_trait]
impl KeySource for Unavailable {
    async fn fetch(&self) -> Result<Fetched, FetchError> {
        Err(FetchError::Request {
            url: String::new(),
            reason: self.0.clone(),
        })
    }
}
