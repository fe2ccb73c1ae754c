#![allow(clippy::expect_used)] // test support: a failed key generation is a broken test machine

//! Signing keys for test identity providers: generated on the spot (never committed), each
//! with its public JWK, minting tokens with any claims and headers.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// A private key, its algorithm and its `kid`.
pub struct TestKey {
    /// Signature algorithm.
    pub alg: Algorithm,
    /// Key id.
    pub kid: String,
    encoding: EncodingKey,
    /// The public key, as published.
    pub jwk: Jwk,
    /// The private key, PEM (PKCS#8).
    pub pem: String,
}

impl TestKey {
    /// A fresh key for `alg` (ES256, ES384, RS256/PS256 and the other RSA ones, EdDSA).
    pub fn generate(alg: Algorithm, kid: &str) -> TestKey {
        let (rcgen_alg, build): (&'static rcgen::SignatureAlgorithm, fn(&[u8]) -> EncodingKey) =
            match alg {
                Algorithm::ES256 => (&rcgen::PKCS_ECDSA_P256_SHA256, |p| {
                    EncodingKey::from_ec_pem(p).expect("ec key")
                }),
                Algorithm::ES384 => (&rcgen::PKCS_ECDSA_P384_SHA384, |p| {
                    EncodingKey::from_ec_pem(p).expect("ec key")
                }),
                Algorithm::EdDSA => (&rcgen::PKCS_ED25519, |p| {
                    EncodingKey::from_ed_pem(p).expect("ed key")
                }),
                _ => (&rcgen::PKCS_RSA_SHA256, |p| {
                    EncodingKey::from_rsa_pem(p).expect("rsa key")
                }),
            };
        let pair = rcgen::KeyPair::generate_for(rcgen_alg).expect("key generation");
        let pem = pair.serialize_pem();
        let encoding = build(pem.as_bytes());
        let mut jwk = if alg == Algorithm::EdDSA {
            // jsonwebtoken reads Ed25519 JWKs only from PKCS#8 v1; build it from the raw key.
            Jwk {
                common: CommonParameters {
                    key_algorithm: Some(KeyAlgorithm::EdDSA),
                    ..Default::default()
                },
                algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x: URL_SAFE_NO_PAD.encode(pair.public_key_raw()),
                }),
            }
        } else {
            Jwk::from_encoding_key(&encoding, alg).expect("jwk")
        };
        jwk.common.key_id = Some(kid.to_string());
        TestKey {
            alg,
            kid: kid.to_string(),
            encoding,
            jwk,
            pem,
        }
    }

    /// A token with `claims`, this key's `alg` and `kid`.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        self.sign_with(header, claims)
    }

    /// A token with a header of the caller's making.
    pub fn sign_with(&self, header: Header, claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signing")
    }
}

/// A JWKS document holding the public keys of `keys`.
pub fn jwks(keys: &[&TestKey]) -> String {
    let keys: Vec<&Jwk> = keys.iter().map(|k| &k.jwk).collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
