//! A provider's public keys ([`KeySet`]), parsed from its JWKS.
//!
//! Keys for encryption (`use: enc`), symmetric keys (`kty: oct`) and unknown key types are
//! dropped. Each kept key is bound to the algorithms it may verify: RSA keys to RS*/PS*, P-256
//! to ES256, P-384 to ES384, Ed25519 to EdDSA, and to the JWK's own `alg` when it has one.

use std::collections::HashMap;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

/// Largest JWKS document accepted.
pub const MAX_JWKS_SIZE: usize = 1 << 20;
/// Most keys kept from one JWKS.
const MAX_KEYS: usize = 64;

/// The usable keys of one provider.
#[derive(Clone, Default)]
pub struct KeySet {
    by_kid: HashMap<String, Vec<Key>>,
    without_kid: Vec<Key>,
}

/// A JWKS with its keys not yet read.
#[derive(serde::Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Clone)]
struct Key {
    algorithms: Vec<Algorithm>,
    decoding: DecodingKey,
}

/// Why a JWKS document is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeysError {
    /// Larger than [`MAX_JWKS_SIZE`].
    #[error("the JWKS is larger than {MAX_JWKS_SIZE} bytes")]
    TooLarge,
    /// Not a JWK set.
    #[error("not a JWK set: {0}")]
    Invalid(String),
    /// No key usable for signatures.
    #[error("the JWKS has no usable signing key")]
    Empty,
}

// === impl KeySet ===

impl KeySet {
    /// Parses a JWKS document.
    pub fn parse(body: &[u8]) -> Result<KeySet, KeysError> {
        if body.len() > MAX_JWKS_SIZE {
            return Err(KeysError::TooLarge);
        }
        let set: RawSet =
            serde_json::from_slice(body).map_err(|e| KeysError::Invalid(e.to_string()))?;
        let mut keys = KeySet::default();
        // Each key is read on its own: one key of a type Vigie does not know must not hide
        // the others.
        for raw in set.keys.into_iter().take(MAX_KEYS) {
            let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else {
                continue;
            };
            let Some(key) = Key::from_jwk(&jwk) else {
                continue;
            };
            match &jwk.common.key_id {
                Some(kid) => keys.by_kid.entry(kid.clone()).or_default().push(key),
                None => keys.without_kid.push(key),
            }
        }
        if keys.is_empty() {
            return Err(KeysError::Empty);
        }
        Ok(keys)
    }

    /// The key for a token signed with `alg` under `kid`. Without a `kid`, only an
    /// unambiguous key (the one key for `alg` in the set) is used.
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&DecodingKey> {
        let fits = |k: &&Key| k.algorithms.contains(&alg);
        match kid {
            Some(kid) => self.by_kid.get(kid)?.iter().find(fits).map(|k| &k.decoding),
            None => {
                let mut all = self
                    .by_kid
                    .values()
                    .flatten()
                    .chain(self.without_kid.iter())
                    .filter(fits);
                let only = all.next()?;
                all.next().is_none().then_some(&only.decoding)
            }
        }
    }

    /// Whether a key with this `kid` exists (for any algorithm).
    pub fn has_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.by_kid.values().map(Vec::len).sum::<usize>() + self.without_kid.len()
    }

    /// Whether the set has no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.by_kid.keys().collect::<Vec<_>>())
            .field("without_kid", &self.without_kid.len())
            .finish()
    }
}

// === impl Key ===

impl Key {
    /// A verification key from a JWK, or `None` when it is not a signing key Vigie accepts.
    fn from_jwk(jwk: &Jwk) -> Option<Key> {
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            return None;
        }
        let by_type: Vec<Algorithm> = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa.algorithms().to_vec(),
            AlgorithmParameters::EllipticCurve(p) => match p.curve {
                EllipticCurve::P256 => vec![Algorithm::ES256],
                EllipticCurve::P384 => vec![Algorithm::ES384],
                _ => return None,
            },
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                vec![Algorithm::EdDSA]
            }
            // Symmetric keys are never accepted: HMAC with a published key is no signature.
            _ => return None,
        };
        let declared = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse::<Algorithm>().ok());
        let algorithms = match declared {
            Some(alg) if by_type.contains(&alg) => vec![alg],
            Some(_) => return None,
            None => by_type,
        };
        let decoding = DecodingKey::from_jwk(jwk).ok()?;
        Some(Key {
            algorithms,
            decoding,
        })
    }
}
