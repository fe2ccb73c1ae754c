//! Token verification, as a pure function of the token, the keys, the rules and the time.
//!
//! Before any cryptography: a size limit, exactly three base64url parts, a header whose `alg`
//! is one of the issuer's pinned algorithms (never `none`, never HMAC), no `crit`. `jku`,
//! `x5u`, `x5c` and an embedded `jwk` are never looked at; `kid` is only a lookup key. Then
//! the signature (jsonwebtoken, aws-lc-rs), then `iss`, `aud`, `exp`, `nbf`, `iat` with leeway.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// What a token is checked against (one issuer's settings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Expected `iss`.
    pub issuer: String,
    /// Accepted `aud` values.
    pub audiences: Vec<String>,
    /// Accepted signature algorithms.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowed, in seconds.
    pub leeway: u64,
    /// Largest token, in bytes.
    pub max_size: usize,
}

/// Why a token is refused. Each variant is a metric label; none reaches the client as such.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Larger than `max_token_size`.
    #[error("too_large")]
    TooLarge,
    /// Not three base64url parts of JSON.
    #[error("malformed")]
    Malformed,
    /// `alg` is not one of the pinned algorithms.
    #[error("algorithm")]
    Algorithm,
    /// The header carries `crit`.
    #[error("crit")]
    Crit,
    /// No key with this `kid` (and algorithm) in the issuer's key set.
    #[error("unknown_key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("signature")]
    Signature,
    /// `exp` is past (beyond leeway).
    #[error("expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond leeway).
    #[error("not_yet_valid")]
    NotYetValid,
    /// `iss` is not the issuer's.
    #[error("issuer")]
    Issuer,
    /// No accepted audience in `aud`.
    #[error("audience")]
    Audience,
    /// A required claim (`exp`, `iss`, `aud`, the subject) is missing or mistyped.
    #[error("claims")]
    Claims,
}

/// A token that passed the checks done before any key is needed.
#[derive(Debug)]
pub struct Inspected {
    /// The pinned algorithm it claims.
    pub alg: Algorithm,
    /// Its `kid`, if any.
    pub kid: Option<String>,
    /// Its `iss`, read (unverified) to pick the issuer.
    pub issuer: Option<String>,
}

/// Checks size, shape and header, and reads `kid` and the unverified `iss`.
/// `algorithms` is the union of what the candidate issuers accept.
pub fn inspect(
    token: &str,
    max_size: usize,
    algorithms: &[Algorithm],
) -> Result<Inspected, VerifyError> {
    if token.len() > max_size {
        return Err(VerifyError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed);
    };
    if signature.is_empty() || URL_SAFE_NO_PAD.decode(signature).is_err() {
        return Err(VerifyError::Malformed);
    }
    let header = json_part(header)?;
    if header.contains_key("crit") {
        return Err(VerifyError::Crit);
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(|a| a.parse::<Algorithm>().ok())
        .filter(|a| {
            algorithms.contains(a)
                && !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
        })
        .ok_or(VerifyError::Algorithm)?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(VerifyError::Malformed),
    };
    let issuer = json_part(payload)?
        .get("iss")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Inspected { alg, kid, issuer })
}

/// Verifies the signature with `key` and the claims against `rules` at Unix time `now`;
/// returns the claims.
pub fn verify(
    token: &str,
    inspected: &Inspected,
    key: &DecodingKey,
    rules: &Rules,
    now: u64,
) -> Result<Map<String, Value>, VerifyError> {
    let claims = verify_signature(token, inspected, key, rules)?;
    check_claims(&claims, rules, now, true)?;
    Ok(claims)
}

/// Like [`verify`], for documents that may lack `exp` (a signed userinfo answer): the
/// signature, `iss` and `aud` are checked, and the time claims when present.
pub fn verify_document(
    token: &str,
    inspected: &Inspected,
    key: &DecodingKey,
    rules: &Rules,
    now: u64,
) -> Result<Map<String, Value>, VerifyError> {
    let claims = verify_signature(token, inspected, key, rules)?;
    check_claims(&claims, rules, now, false)?;
    Ok(claims)
}

fn verify_signature(
    token: &str,
    inspected: &Inspected,
    key: &DecodingKey,
    rules: &Rules,
) -> Result<Map<String, Value>, VerifyError> {
    if !rules.algorithms.contains(&inspected.alg) {
        return Err(VerifyError::Algorithm);
    }
    let mut validation = Validation::new(inspected.alg);
    // Time and presence checks are done below, against the injected clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data =
        jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).map_err(|e| match e
            .kind()
        {
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidEddsaKey => VerifyError::Signature,
            ErrorKind::InvalidAlgorithm => VerifyError::Algorithm,
            _ => VerifyError::Malformed,
        })?;
    Ok(data.claims)
}

/// `iss`, `aud`, `exp`, `nbf`, `iat` against `rules` at Unix time `now`.
fn check_claims(
    claims: &Map<String, Value>,
    rules: &Rules,
    now: u64,
    require_exp: bool,
) -> Result<(), VerifyError> {
    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == rules.issuer => {}
        Some(_) => return Err(VerifyError::Issuer),
        None => return Err(VerifyError::Claims),
    }
    let accepted = |a: &str| rules.audiences.iter().any(|x| x == a);
    match claims.get("aud") {
        Some(Value::String(a)) if accepted(a) => {}
        Some(Value::Array(list)) if list.iter().filter_map(Value::as_str).any(accepted) => {}
        Some(Value::String(_) | Value::Array(_)) => return Err(VerifyError::Audience),
        _ => return Err(VerifyError::Claims),
    }
    match claims.get("exp").map(Value::as_u64) {
        Some(Some(exp)) if now > exp.saturating_add(rules.leeway) => {
            return Err(VerifyError::Expired);
        }
        Some(Some(_)) => {}
        Some(None) => return Err(VerifyError::Claims),
        None if require_exp => return Err(VerifyError::Claims),
        None => {}
    }
    for name in ["nbf", "iat"] {
        match claims.get(name) {
            None => {}
            Some(v) => {
                let t = v.as_u64().ok_or(VerifyError::Claims)?;
                if t > now.saturating_add(rules.leeway) {
                    return Err(VerifyError::NotYetValid);
                }
            }
        }
    }
    Ok(())
}

fn json_part(part: &str) -> Result<Map<String, Value>, VerifyError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VerifyError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(VerifyError::Malformed),
    }
}

#[cfg(test)]
mod tests;
