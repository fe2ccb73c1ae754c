//! Sealed cookies: AES-256-GCM with a key derived (HKDF-SHA256) from the configured secret,
//! a random nonce per cookie, and the cookie's purpose as associated data so that one sealed
//! cookie can never stand in for another. Every node of a fleet shares the secret.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Seals and opens cookie payloads.
pub struct Sealer {
    key: LessSafeKey,
}

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET: usize = 32;

impl Sealer {
    /// A sealer keyed from `secret` (at least [`MIN_SECRET`] bytes).
    pub fn new(secret: &[u8]) -> Result<Sealer, String> {
        if secret.len() < MIN_SECRET {
            return Err(format!(
                "the secret has {} bytes; at least {MIN_SECRET} are needed",
                secret.len()
            ));
        }
        let prk = Salt::new(HKDF_SHA256, b"vigie cookie seal").extract(secret);
        let mut key = [0u8; 32];
        prk.expand(&[b"v1"], &AES_256_GCM)
            .and_then(|okm| okm.fill(&mut key))
            .map_err(|_| "key derivation failed".to_string())?;
        let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| "invalid key".to_string())?;
        Ok(Sealer {
            key: LessSafeKey::new(unbound),
        })
    }

    /// A sealer with a random key: enough for one node, unusable by another.
    pub fn random() -> Result<Sealer, String> {
        let mut secret = [0u8; MIN_SECRET];
        rand::Rng::fill(&mut rand::thread_rng(), &mut secret);
        Sealer::new(&secret)
    }

    /// `plaintext` sealed for `purpose`, as base64url.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::Rng::fill(&mut rand::thread_rng(), &mut nonce);
        let mut buf = plaintext.to_vec();
        // Sealing in place cannot fail for inputs this small.
        let _ = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(purpose.as_bytes()),
            &mut buf,
        );
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The plaintext of a cookie sealed for `purpose`; `None` if forged, altered or for
    /// another purpose.
    pub fn open(&self, purpose: &str, sealed: &str) -> Option<Vec<u8>> {
        let mut bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN + 16 {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&bytes[..NONCE_LEN]).ok()?;
        let mut body = bytes.split_off(NONCE_LEN);
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_purpose_and_key() {
        let sealer = Sealer::new(&[7u8; 32]).expect("sealer");
        let sealed = sealer.seal("login", b"state");
        assert_eq!(
            sealer.open("login", &sealed).as_deref(),
            Some(&b"state"[..])
        );
        assert_eq!(sealer.open("logout", &sealed), None, "another purpose");
        assert_eq!(
            Sealer::new(&[8u8; 32])
                .expect("sealer")
                .open("login", &sealed),
            None,
            "another key"
        );
        let mut tampered = URL_SAFE_NO_PAD.decode(&sealed).expect("b64");
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            sealer.open("login", &URL_SAFE_NO_PAD.encode(tampered)),
            None,
            "altered"
        );
        assert_ne!(
            sealer.seal("login", b"x"),
            sealer.seal("login", b"x"),
            "a fresh nonce each time"
        );
        assert!(Sealer::new(&[1u8; 16]).is_err());
    }
}
