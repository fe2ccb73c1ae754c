//! Vigie's signed identity assertion: a short-lived ES256 JWT telling an upstream who the
//! request is from, which the upstream verifies with the keys Vigie publishes at
//! `/.well-known/jwks.json`. Rotation: list the next key; it is published at once and signs
//! when it becomes `signing_key` at a later reload.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::Identity;
use super::settings::AssertionSpec;

/// Signs assertions and publishes the verification keys.
pub struct AssertionSigner {
    issuer: String,
    key: SigningKey,
    lifetime: std::time::Duration,
    jwks: Bytes,
}

/// An ES256 key with its public JWK and key id.
pub struct SigningKey {
    encoding: EncodingKey,
    /// RFC 7638 thumbprint, used as `kid`.
    pub kid: String,
    jwk: Jwk,
}

// === impl SigningKey ===

impl SigningKey {
    /// Reads a P-256 private key (PEM, PKCS#8).
    pub fn from_pem(pem: &[u8]) -> Result<SigningKey, String> {
        let encoding = EncodingKey::from_ec_pem(pem).map_err(|e| e.to_string())?;
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256)
            .map_err(|e| format!("not a P-256 key ({e})"))?;
        let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else {
            return Err("not an elliptic-curve key".into());
        };
        // RFC 7638: the required members, in lexicographic order, without spaces.
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            ec.x, ec.y
        );
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        let kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::ES256);
        Ok(SigningKey { encoding, kid, jwk })
    }
}

// === impl AssertionSigner ===

impl AssertionSigner {
    /// The signer configured by `spec` (its keys were checked when the config was loaded).
    pub fn new(spec: &AssertionSpec) -> Result<AssertionSigner, String> {
        let key = SigningKey::from_pem(&spec.key.1)?;
        let next = spec
            .next
            .as_ref()
            .map(|(_, pem)| SigningKey::from_pem(pem))
            .transpose()?;
        let keys: Vec<&Jwk> = std::iter::once(&key.jwk)
            .chain(next.as_ref().map(|n| &n.jwk))
            .collect();
        let jwks =
            serde_json::to_vec(&serde_json::json!({ "keys": keys })).map_err(|e| e.to_string())?;
        Ok(AssertionSigner {
            issuer: spec.issuer.clone(),
            key,
            lifetime: spec.lifetime,
            jwks: jwks.into(),
        })
    }

    /// The public keys, as a JWKS document.
    pub fn jwks(&self) -> Bytes {
        self.jwks.clone()
    }

    /// Lifetime of an assertion.
    pub fn lifetime(&self) -> std::time::Duration {
        self.lifetime
    }

    /// An assertion for `identity`, addressed to `audience`, issued at Unix time `now`.
    pub fn sign(&self, identity: &Identity, audience: &str, now: u64) -> Result<String, String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key.kid.clone());
        header.typ = Some("JWT".into());
        let exp = now + self.lifetime.as_secs().max(1);
        let claims = serde_json::json!({
            "iss": self.issuer,
            "aud": audience,
            "sub": identity.subject,
            "iat": now,
            "exp": exp.min(identity.expires_at.max(now + 1)),
            "jti": format!("{:032x}", rand::random::<u128>()),
            "idp": &*identity.provider,
            "profile": identity.profile,
            "acr": identity.acr,
            "name": identity.display_name,
            "school_ids": identity.school_ids,
            "children_ids": identity.children_ids,
        });
        jsonwebtoken::encode(&header, &claims, &self.key.encoding).map_err(|e| e.to_string())
    }
}
