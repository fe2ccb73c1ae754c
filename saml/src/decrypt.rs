//! `saml:EncryptedAssertion`, decrypted only after the Response signature held, and only
//! with the algorithms that resist the known XML Encryption attacks: RSA-OAEP key transport
//! (never PKCS#1 v1.5) and AES-GCM content (never CBC).
//!
//! Accepted shape: one `xenc:EncryptedData` (content AES-128-GCM or AES-256-GCM) and exactly
//! one `xenc:EncryptedKey`, inside the data's `ds:KeyInfo` (OpenSAML's inline placement) or
//! beside the data. Key transport `rsa-oaep-mgf1p` (SHA-1), or `xmlenc11#rsa-oaep` with
//! SHA-1/MGF1-SHA-1 or SHA-256/MGF1-SHA-256; no OAEP parameters. Every configured SP key is
//! tried, so a key rollover needs no coordination.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    PrivateDecryptingKey,
};

use super::dsig::decode_base64;
use super::ns::{ASSERTION, DSIG, XENC, XENC11};
use super::xml::{self, Element, XmlError};

const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";
const TAG_LEN: usize = 16;

/// Why an encrypted assertion was refused. [`DecryptError::reason`] labels metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// Something other than the accepted structure.
    #[error("unexpected shape: {0}")]
    Shape(String),
    /// A key transport or content algorithm outside the allowed set.
    #[error("encryption algorithm not accepted: {0}")]
    Algorithm(String),
    /// None of our keys decrypts the content key, or it has the wrong size.
    #[error("the content key does not decrypt with any of our keys")]
    Key,
    /// AES-GCM authentication failed.
    #[error("the content does not decrypt (authentication failed)")]
    Content,
    /// The plaintext is refused by the XML reader.
    #[error("decrypted content: {0}")]
    Xml(#[from] XmlError),
}

impl DecryptError {
    /// A short label naming the reason.
    pub fn reason(&self) -> &'static str {
        match self {
            DecryptError::Shape(_) => "encryption_shape",
            DecryptError::Algorithm(_) => "encryption_algorithm",
            DecryptError::Key => "encryption_key",
            DecryptError::Content => "encryption_content",
            DecryptError::Xml(_) => "xml",
        }
    }
}

/// One of our RSA private keys (the current one, or the next during a rollover).
pub struct DecryptKey {
    key: OaepPrivateDecryptingKey,
}

impl std::fmt::Debug for DecryptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecryptKey(<redacted>)")
    }
}

impl DecryptKey {
    /// A key from PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<DecryptKey, String> {
        let key = PrivateDecryptingKey::from_pkcs8(der)
            .map_err(|e| format!("not an RSA PKCS#8 private key: {e}"))?;
        let key = OaepPrivateDecryptingKey::new(key)
            .map_err(|_| "the RSA key cannot decrypt".to_string())?;
        Ok(DecryptKey { key })
    }
}

/// Decrypts `encrypted` (a `saml:EncryptedAssertion` read from verified bytes) with any of
/// `keys`, and returns the `saml:Assertion` inside, parsed with the namespaces in scope at
/// `encrypted`. Its signature is the caller's to verify.
pub fn assertion(encrypted: &Element, keys: &[DecryptKey]) -> Result<Element, DecryptError> {
    let mut data = encrypted.children_named(XENC, "EncryptedData");
    let data_el = data.next().ok_or_else(|| shape("no EncryptedData"))?;
    if data.next().is_some() {
        return Err(shape("several EncryptedData"));
    }
    if let Some(other) = encrypted
        .elements()
        .find(|e| !e.is(XENC, "EncryptedData") && !e.is(XENC, "EncryptedKey"))
    {
        return Err(shape(&other.qname()));
    }
    let content_alg = method(data_el)?;
    let key_len = match content_alg.attr("Algorithm") {
        Some(AES128_GCM) => 16,
        Some(AES256_GCM) => 32,
        other => {
            return Err(DecryptError::Algorithm(
                other.unwrap_or("none").chars().take(120).collect(),
            ));
        }
    };
    let inline = data_el
        .child(DSIG, "KeyInfo")
        .into_iter()
        .flat_map(|ki| ki.children_named(XENC, "EncryptedKey"));
    let beside = encrypted.children_named(XENC, "EncryptedKey");
    let encrypted_keys: Vec<&Element> = inline.chain(beside).collect();
    let [encrypted_key] = encrypted_keys.as_slice() else {
        return Err(shape(&format!(
            "{} EncryptedKey (one expected)",
            encrypted_keys.len()
        )));
    };
    let oaep = key_transport(method(encrypted_key)?)?;
    let wrapped = cipher_value(encrypted_key)?;
    let content_key = keys
        .iter()
        .find_map(|k| {
            let mut out = vec![0u8; k.key.min_output_size()];
            let len = k.key.decrypt(oaep, &wrapped, &mut out, None).ok()?.len();
            out.truncate(len);
            Some(out)
        })
        .ok_or(DecryptError::Key)?;
    if content_key.len() != key_len {
        return Err(DecryptError::Key);
    }
    let mut sealed = cipher_value(data_el)?;
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(shape("CipherValue too short"));
    }
    let nonce = Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN])
        .map_err(|_| DecryptError::Content)?;
    let aes = if key_len == 16 {
        &AES_128_GCM
    } else {
        &AES_256_GCM
    };
    let key = LessSafeKey::new(UnboundKey::new(aes, &content_key).map_err(|_| DecryptError::Key)?);
    let plain = key
        .open_in_place(nonce, Aad::empty(), &mut sealed[NONCE_LEN..])
        .map_err(|_| DecryptError::Content)?;
    let text = std::str::from_utf8(plain).map_err(|_| shape("content is not UTF-8"))?;
    let assertion = xml::parse_in(text, &encrypted.scope, &xml::LIMITS)?;
    if !assertion.is(ASSERTION, "Assertion") {
        return Err(shape(&format!(
            "{} instead of an Assertion",
            assertion.qname()
        )));
    }
    Ok(assertion)
}

fn shape(what: &str) -> DecryptError {
    DecryptError::Shape(what.to_string())
}

fn method(e: &Element) -> Result<&Element, DecryptError> {
    e.child(XENC, "EncryptionMethod")
        .ok_or_else(|| shape(&format!("{} without EncryptionMethod", e.qname())))
}

fn cipher_value(e: &Element) -> Result<Vec<u8>, DecryptError> {
    let value = e
        .child(XENC, "CipherData")
        .and_then(|d| d.child(XENC, "CipherValue"))
        .ok_or_else(|| shape(&format!("{} without CipherValue", e.qname())))?;
    decode_base64(&value.text()).ok_or_else(|| shape("CipherValue is not base64"))
}

/// The OAEP variant an `EncryptionMethod` of an EncryptedKey names.
fn key_transport(m: &Element) -> Result<&'static OaepAlgorithm, DecryptError> {
    let mut digest = None;
    let mut mgf = None;
    for p in m.elements() {
        if p.is(DSIG, "DigestMethod") && digest.is_none() {
            digest = p.attr("Algorithm");
        } else if p.is(XENC11, "MGF") && mgf.is_none() {
            mgf = p.attr("Algorithm");
        } else {
            return Err(DecryptError::Algorithm(format!("parameter {}", p.qname())));
        }
    }
    match (m.attr("Algorithm"), digest.unwrap_or(SHA1), mgf) {
        (Some(RSA_OAEP_MGF1P), SHA1, None) => Ok(&OAEP_SHA1_MGF1SHA1),
        (Some(RSA_OAEP), SHA1, None | Some(MGF1_SHA1)) => Ok(&OAEP_SHA1_MGF1SHA1),
        (Some(RSA_OAEP), SHA256, Some(MGF1_SHA256)) => Ok(&OAEP_SHA256_MGF1SHA256),
        (alg, digest, mgf) => Err(DecryptError::Algorithm(format!(
            "{} (digest {digest}, mgf {})",
            alg.unwrap_or("none").chars().take(120).collect::<String>(),
            mgf.unwrap_or("default")
        ))),
    }
}
