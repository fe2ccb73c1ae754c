//! The OpenID Connect authorization code flow with PKCE (S256), as FranceConnect v2 requires:
//! `state` and a `nonce` bound to the browser by a sealed cookie, `acr_values` asked and the
//! returned `acr` checked, the code exchanged at once, the ID token verified with the
//! provider's cached keys, and the userinfo read as a signed JWT (or JSON if configured).

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::LoginSpec;
use crate::auth::Identity;
use crate::auth::provider::Provider;
use crate::auth::verify::{self, Rules, VerifyError};
use crate::config::file::UserinfoFormat;

/// What a login in progress remembers, sealed in the login cookie.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Pending {
    pub(super) provider: String,
    pub(super) state: String,
    pub(super) nonce: String,
    pub(super) verifier: String,
    pub(super) redirect_uri: String,
    pub(super) return_to: String,
    pub(super) expires: u64,
}

/// How long a login may take, from the click to the callback.
pub(super) const PENDING_LIFETIME: u64 = 600;
/// Largest token or userinfo answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// Why a login failed; each is a metric label, and the person sees a page in French.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// No provider of that name offers login.
    #[error("unknown_provider")]
    UnknownProvider,
    /// The provider could not be reached or answered wrongly ({0}).
    #[error("provider_unavailable")]
    Unavailable(String),
    /// No login was started from this browser, or it expired.
    #[error("no_login_in_progress")]
    NoPending,
    /// The `state` sent back is not the one sent.
    #[error("state")]
    State,
    /// The provider answered with an error (its code).
    #[error("refused")]
    Refused(String),
    /// The code could not be exchanged ({0}).
    #[error("token_exchange")]
    TokenExchange(String),
    /// The ID token is refused.
    #[error("id_token")]
    IdToken(VerifyError),
    /// The ID token's `nonce` is missing or not ours.
    #[error("nonce")]
    Nonce,
    /// The `acr` is weaker than asked.
    #[error("acr")]
    Acr,
    /// The userinfo is unusable ({0}).
    #[error("userinfo")]
    Userinfo(String),
}

/// The authorization request: where to send the browser, and the sealed pending login.
pub(super) async fn start(
    provider: &Provider,
    login: &LoginSpec,
    return_to: String,
    origin: &str,
    now: u64,
) -> Result<(String, Pending), LoginError> {
    let metadata = provider
        .discovery
        .metadata()
        .await
        .map_err(|e| LoginError::Unavailable(e.to_string()))?;
    let endpoint = metadata
        .authorization_endpoint
        .as_deref()
        .ok_or_else(|| LoginError::Unavailable("no authorization_endpoint".into()))?;
    let pending = Pending {
        provider: provider.name.to_string(),
        state: random(),
        nonce: random(),
        verifier: random(),
        redirect_uri: LoginSpec::absolute(&login.redirect_uri, origin),
        return_to,
        expires: now + PENDING_LIFETIME,
    };
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        pending.verifier.as_bytes(),
    ));
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &login.client_id)
        .append_pair("redirect_uri", &pending.redirect_uri)
        .append_pair("scope", &login.scope)
        .append_pair("state", &pending.state)
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    if let Some(acr) = &login.acr_values {
        query.append_pair("acr_values", acr);
    }
    Ok((super::with_query(endpoint, &query.finish()), pending))
}

/// Completes a login from the callback's query: the identity and the raw ID token.
pub(super) async fn finish(
    provider: &Provider,
    login: &LoginSpec,
    query: &[(String, String)],
    pending: &Pending,
    acr_order: &[String],
    now: u64,
    instant: Instant,
) -> Result<(Identity, String), LoginError> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(error) = param("error") {
        return Err(LoginError::Refused(
            error
                .chars()
                .filter(char::is_ascii_graphic)
                .take(64)
                .collect(),
        ));
    }
    if !param("state").is_some_and(|s| constant_time_eq(s.as_bytes(), pending.state.as_bytes())) {
        return Err(LoginError::State);
    }
    let code = param("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| LoginError::TokenExchange("no code".into()))?;
    let metadata = provider
        .discovery
        .metadata()
        .await
        .map_err(|e| LoginError::Unavailable(e.to_string()))?;
    let token_endpoint = metadata
        .token_endpoint
        .as_deref()
        .ok_or_else(|| LoginError::Unavailable("no token_endpoint".into()))?;
    let tokens =
        super::token::exchange(provider, login, token_endpoint, code, pending, now).await?;
    let rules = Rules {
        audiences: vec![login.client_id.clone()],
        max_size: MAX_ANSWER,
        ..provider.spec.rules.clone()
    };
    let mut claims = verified(provider, &tokens.id_token, &rules, now, instant, false)
        .await
        .map_err(LoginError::IdToken)?;
    check_id_token(&claims, login, pending, acr_order)?;
    if let (Some(endpoint), false) = (
        metadata.userinfo_endpoint.as_deref(),
        login.userinfo == UserinfoFormat::None,
    ) {
        let info = userinfo(
            provider,
            login,
            endpoint,
            &tokens.access_token,
            &rules,
            now,
            instant,
        )
        .await?;
        if info.get("sub") != claims.get("sub") {
            return Err(LoginError::Userinfo("its sub is not the ID token's".into()));
        }
        for (k, v) in info {
            if !matches!(k.as_str(), "iss" | "aud" | "exp" | "iat" | "nbf" | "sub") {
                claims.insert(k, v);
            }
        }
    }
    let name: Arc<str> = provider.name.clone();
    let mut identity = provider
        .spec
        .claims
        .identity(&name, &claims)
        .ok_or(LoginError::IdToken(VerifyError::Claims))?;
    if identity.profile.is_none() {
        identity.profile = login.default_profile.clone();
    }
    Ok((identity, tokens.id_token))
}

/// `nonce`, `azp`, `iat` and `acr` of a verified ID token.
fn check_id_token(
    claims: &Map<String, Value>,
    login: &LoginSpec,
    pending: &Pending,
    acr_order: &[String],
) -> Result<(), LoginError> {
    let nonce = claims.get("nonce").and_then(Value::as_str);
    if !nonce.is_some_and(|n| constant_time_eq(n.as_bytes(), pending.nonce.as_bytes())) {
        return Err(LoginError::Nonce);
    }
    if let Some(Value::Array(auds)) = claims.get("aud") {
        let azp = claims.get("azp").and_then(Value::as_str);
        if auds.len() > 1 && azp != Some(login.client_id.as_str()) {
            return Err(LoginError::IdToken(VerifyError::Audience));
        }
    }
    if !claims.get("iat").is_some_and(Value::is_u64) {
        return Err(LoginError::IdToken(VerifyError::Claims));
    }
    if let Some(asked) = &login.acr_values {
        // Several values asked: the weakest is what the provider may return.
        let rank = |a: &str| acr_order.iter().position(|x| x == a);
        let floor = asked.split_whitespace().filter_map(rank).min();
        let got = claims.get("acr").and_then(Value::as_str).and_then(rank);
        if let Some(floor) = floor
            && got.is_none_or(|g| g < floor)
        {
            return Err(LoginError::Acr);
        }
    }
    Ok(())
}

/// A JWT from the provider, verified with its keys (`document`: `exp` may be absent).
async fn verified(
    provider: &Provider,
    jwt: &str,
    rules: &Rules,
    now: u64,
    instant: Instant,
    document: bool,
) -> Result<Map<String, Value>, VerifyError> {
    let inspected = verify::inspect(jwt, rules.max_size, &rules.algorithms)?;
    if inspected.issuer.as_deref() != Some(rules.issuer.as_str()) {
        return Err(VerifyError::Issuer);
    }
    let keys = provider
        .keys_for(inspected.kid.as_deref(), inspected.alg, instant)
        .await?;
    let key = keys
        .find(inspected.kid.as_deref(), inspected.alg)
        .ok_or(VerifyError::UnknownKey)?;
    if document {
        verify::verify_document(jwt, &inspected, key, rules, now)
    } else {
        verify::verify(jwt, &inspected, key, rules, now)
    }
}

/// The userinfo, called right after the exchange (FranceConnect answers only then).
async fn userinfo(
    provider: &Provider,
    login: &LoginSpec,
    endpoint: &str,
    access_token: &str,
    rules: &Rules,
    now: u64,
    instant: Instant,
) -> Result<Map<String, Value>, LoginError> {
    let failed = |why: String| LoginError::Userinfo(why);
    let resp = provider
        .client
        .get(endpoint)
        .bearer_auth(access_token)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(failed(format!("HTTP {}", resp.status().as_u16())));
    }
    let jwt_answer = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/jwt"));
    let body = super::token::read_limited(resp, MAX_ANSWER)
        .await
        .map_err(failed)?;
    match (login.userinfo, jwt_answer) {
        (UserinfoFormat::Jwt, true) => {
            let jwt = std::str::from_utf8(&body)
                .map_err(|_| failed("not text".into()))?
                .trim();
            verified(provider, jwt, rules, now, instant, true)
                .await
                .map_err(|e| failed(format!("signed userinfo refused ({e})")))
        }
        (UserinfoFormat::Jwt, false) => Err(failed(
            "an unsigned userinfo where a signed one is required".into(),
        )),
        (_, _) => match serde_json::from_slice(&body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(failed("not a JSON object".into())),
        },
    }
}

/// 256 random bits, base64url (43 characters: FranceConnect wants nonces of at least 22).
fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::thread_rng(), &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}
