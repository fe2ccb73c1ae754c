//! Authentication: from a request's credentials to one [`Identity`], or a precise refusal.
//!
//! Owns identity providers and their keys, token verification and its cache, route access
//! rules, identity headers and Vigie's signed assertion. Hands the rest of the proxy only
//! [`Authenticated`] (an `Identity`) or an [`AuthFailure`]; tokens and keys stay here.

pub mod access;
pub mod assertion;
pub mod discovery;
mod headers;
mod identity;
pub mod keys;
pub mod provider;
pub mod refresher;
mod settings;
pub mod source;
pub mod store;
pub mod token_cache;
pub mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use http::HeaderMap;
use moka::sync::Cache;

pub use access::{Access, Denial, Protected};
pub use identity::{ClaimMapping, Identity};
pub use settings::{AssertionSpec, IdentitySettings, TokenCacheSettings};

use crate::sessions::{SessionId, SessionStore, cookie};
use assertion::AssertionSigner;
use headers::IdentityHeaderNames;
use provider::Provider;
use token_cache::TokenKey;
use verify::VerifyError;

/// A request whose credential was verified and admitted by the route.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// Who it is.
    pub identity: Arc<Identity>,
    token: TokenKey,
}

/// Why a request on a protected route is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credential at all (401, a plain challenge).
    Missing,
    /// Several `Authorization` headers, or not a Bearer token (401 `invalid_request`).
    InvalidRequest,
    /// The token is refused (401 `invalid_token`).
    InvalidToken(VerifyError),
    /// Verified, but the route does not admit it (403, or 401 for `acr`).
    Denied(Denial),
    /// The session store could not answer (503).
    StoreUnavailable,
}

/// Everything requests are authenticated with, for one config generation.
pub struct Authenticator {
    /// Identity providers by name.
    pub providers: BTreeMap<String, Arc<Provider>>,
    /// SAML identity providers (browser logins) by name.
    pub saml: BTreeMap<String, Arc<crate::saml::provider::SamlProvider>>,
    acr_order: Vec<String>,
    signer: Option<AssertionSigner>,
    assertions: Cache<(TokenKey, Arc<str>), http::HeaderValue>,
    /// Lower-case prefix of Vigie's identity headers.
    prefix: String,
    strip: Vec<http::HeaderName>,
    names: IdentityHeaderNames,
}

// === impl AuthFailure ===

impl AuthFailure {
    /// The metric label of this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::InvalidRequest => "invalid_request",
            AuthFailure::InvalidToken(e) => match e {
                VerifyError::TooLarge => "too_large",
                VerifyError::Malformed => "malformed",
                VerifyError::Algorithm => "algorithm",
                VerifyError::Crit => "crit",
                VerifyError::UnknownKey => "unknown_key",
                VerifyError::Signature => "signature",
                VerifyError::Expired => "expired",
                VerifyError::NotYetValid => "not_yet_valid",
                VerifyError::Issuer => "issuer",
                VerifyError::Audience => "audience",
                VerifyError::Claims => "claims",
            },
            AuthFailure::Denied(Denial::Profile) => "profile",
            AuthFailure::Denied(Denial::Acr { .. }) => "acr",
            AuthFailure::StoreUnavailable => "session_store",
        }
    }
}

// === impl Authenticator ===

impl Authenticator {
    /// An authenticator over `providers` and `saml` with the `identity:` settings.
    pub fn new(
        providers: BTreeMap<String, Arc<Provider>>,
        saml: BTreeMap<String, Arc<crate::saml::provider::SamlProvider>>,
        settings: &IdentitySettings,
    ) -> Authenticator {
        let signer = settings.assertion.as_ref().and_then(|spec| match AssertionSigner::new(spec) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "the assertion key cannot be used; no assertion is sent");
                None
            }
        });
        let reuse = signer
            .as_ref()
            .map_or(std::time::Duration::from_secs(1), |s| s.lifetime() / 2);
        Authenticator {
            providers,
            saml,
            acr_order: settings.acr_order.clone(),
            signer,
            assertions: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(reuse)
                .build(),
            prefix: settings.header_prefix.to_ascii_lowercase(),
            strip: settings.strip.clone(),
            names: IdentityHeaderNames::new(&settings.header_prefix),
        }
    }

    /// Authenticates a request to a route with rule `rule`, at Unix time `now` (and monotonic
    /// `instant`, for key refetch pacing): a bearer token when the route accepts them and one
    /// is sent, else the session in `sessions` named by the session cookie.
    pub async fn authenticate(
        &self,
        rule: &Protected,
        headers: &HeaderMap,
        sessions: &dyn SessionStore,
        now: u64,
        instant: Instant,
    ) -> Result<Authenticated, AuthFailure> {
        if !rule.bearer.is_empty() && headers.contains_key(http::header::AUTHORIZATION) {
            return self.bearer(rule, headers, now, instant).await;
        }
        if rule.session
            && let Some(id) = cookie::get(headers, cookie::SESSION).and_then(SessionId::parse)
        {
            match sessions.get(&id).await {
                Ok(Some(record)) => {
                    let identity = record.identity.clone();
                    rule.admits(&identity, &self.acr_order)
                        .map_err(AuthFailure::Denied)?;
                    return Ok(Authenticated {
                        identity,
                        token: token_cache::key_of(id.as_str()),
                    });
                }
                Ok(None) => {}
                Err(_) => return Err(AuthFailure::StoreUnavailable),
            }
        }
        Err(AuthFailure::Missing)
    }

    async fn bearer(
        &self,
        rule: &Protected,
        headers: &HeaderMap,
        now: u64,
        instant: Instant,
    ) -> Result<Authenticated, AuthFailure> {
        let token = bearer_token(headers)?;
        let key = token_cache::key_of(token);
        let candidates: Vec<&Arc<Provider>> = rule
            .bearer
            .iter()
            .filter_map(|n| self.providers.get(n))
            .collect();
        let cached = candidates.iter().find_map(|p| p.tokens.get(&key, now));
        if let Some(first) = candidates.first() {
            first.tokens.count(cached.is_some());
        }
        let identity = match cached {
            Some(identity) => identity,
            None => self.verify(token, key, &candidates, now, instant).await?,
        };
        rule.admits(&identity, &self.acr_order)
            .map_err(AuthFailure::Denied)?;
        Ok(Authenticated {
            identity,
            token: key,
        })
    }

    async fn verify(
        &self,
        token: &str,
        key: TokenKey,
        candidates: &[&Arc<Provider>],
        now: u64,
        instant: Instant,
    ) -> Result<Arc<Identity>, AuthFailure> {
        let invalid = AuthFailure::InvalidToken;
        let max_size = candidates
            .iter()
            .map(|p| p.spec.rules.max_size)
            .max()
            .unwrap_or(0);
        let algorithms: Vec<_> = candidates
            .iter()
            .flat_map(|p| p.spec.rules.algorithms.iter().copied())
            .collect();
        let inspected = verify::inspect(token, max_size, &algorithms).map_err(invalid)?;
        let provider = candidates
            .iter()
            .find(|p| inspected.issuer.as_deref() == Some(p.spec.rules.issuer.as_str()))
            .ok_or(invalid(VerifyError::Issuer))?;
        let keys = provider
            .keys_for(inspected.kid.as_deref(), inspected.alg, instant)
            .await
            .map_err(invalid)?;
        let decoding = keys
            .find(inspected.kid.as_deref(), inspected.alg)
            .ok_or(invalid(VerifyError::UnknownKey))?;
        let claims = verify::verify(token, &inspected, decoding, &provider.spec.rules, now)
            .map_err(invalid)?;
        let identity = Arc::new(
            provider
                .spec
                .claims
                .identity(&provider.name, &claims)
                .ok_or(invalid(VerifyError::Claims))?,
        );
        provider.tokens.insert(key, identity.clone());
        Ok(identity)
    }

    /// Whether a client-sent header must be removed before the request goes upstream.
    pub fn is_stripped(&self, name: &http::HeaderName) -> bool {
        name.as_str().starts_with(&self.prefix) || self.strip.contains(name)
    }

    /// The identity headers a route sends upstream, and the assertion for `audience`.
    pub fn upstream_headers(
        &self,
        who: &Authenticated,
        rule: &Protected,
        audience: &Arc<str>,
        now: u64,
    ) -> Vec<(http::HeaderName, http::HeaderValue)> {
        let id = &who.identity;
        let mut out = Vec::with_capacity(rule.headers.len() + 1);
        for (field, name) in &self.names.fields {
            if !rule.headers.contains(field) {
                continue;
            }
            let value = headers::value(*field, id);
            // Values that are not valid header text (control characters) are left out.
            if let Some(v) = value.and_then(|v| http::HeaderValue::try_from(v).ok()) {
                out.push((name.clone(), v));
            }
        }
        if rule.assertion
            && let Some(value) = self.assertion(who, audience, now)
        {
            out.push((self.names.assertion.clone(), value));
        }
        out
    }

    /// A signed assertion, reused for half its lifetime for the same token and audience.
    fn assertion(
        &self,
        who: &Authenticated,
        audience: &Arc<str>,
        now: u64,
    ) -> Option<http::HeaderValue> {
        let signer = self.signer.as_ref()?;
        let key = (who.token, audience.clone());
        if let Some(v) = self.assertions.get(&key) {
            return Some(v);
        }
        match signer
            .sign(&who.identity, audience, now)
            .map(http::HeaderValue::try_from)
        {
            Ok(Ok(v)) => {
                self.assertions.insert(key, v.clone());
                Some(v)
            }
            Ok(Err(_)) | Err(_) => {
                tracing::error!("cannot sign an identity assertion");
                None
            }
        }
    }

    /// The JWKS of Vigie's assertion keys, when assertions are configured.
    pub fn jwks(&self) -> Option<bytes::Bytes> {
        self.signer.as_ref().map(AssertionSigner::jwks)
    }

    /// Names of SAML providers whose IdP metadata was never loaded.
    pub fn saml_without_metadata(&self) -> Vec<&str> {
        self.saml
            .iter()
            .filter(|(_, p)| !p.has_loaded())
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Names of providers whose keys were never loaded.
    pub fn providers_without_keys(&self) -> Vec<&str> {
        self.providers
            .iter()
            .filter(|(_, p)| !p.keys.is_loaded())
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

impl std::fmt::Debug for Authenticator {
    // No keys, tokens or identities are printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("acr_order", &self.acr_order)
            .field("assertion", &self.signer.is_some())
            .finish_non_exhaustive()
    }
}

/// The one Bearer token of a request: exactly one `Authorization` header, scheme `Bearer`,
/// and a token made of RFC 6750 `b64token` characters.
fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthFailure> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(http::header::AUTHORIZATION) {
            AuthFailure::InvalidRequest
        } else {
            AuthFailure::Missing
        });
    };
    let value = value.to_str().map_err(|_| AuthFailure::InvalidRequest)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthFailure::InvalidRequest)?;
    let token = token.trim();
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || !token.chars().all(b64token) {
        return Err(AuthFailure::InvalidRequest);
    }
    Ok(token)
}

#[cfg(test)]
mod tests;
