//! Enveloped XML signatures, the one shape SAML identity providers use, verified
//! digest-first.
//!
//! Accepted: exactly one `ds:Signature` child of the signed element, holding `SignedInfo`,
//! `SignatureValue` and an ignored `KeyInfo` (the keys come from the IdP's metadata, never
//! from the message); exclusive canonicalization; RSA-SHA256; exactly one `Reference` to the
//! element itself by its `ID`; the transforms exactly enveloped-signature then exclusive
//! canonicalization; SHA-256. Anything else (XSLT, XPath, several references, other
//! algorithms) is refused before any transform could run.
//!
//! Order of work, and the contract: the `SignedInfo` is canonicalized and its RSA signature
//! checked; the reference is read from a re-parse of those canonical bytes; the element is
//! canonicalized without its signature and its SHA-256 compared; the element returned is a
//! re-parse of exactly the digested bytes, so callers can only ever read signed content.

use aws_lc_rs::digest;
use std::sync::Arc;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::c14n;
use super::ns::{DSIG, EXC_C14N};
use super::xml::{self, Element, XmlError};

/// Exclusive canonicalization, without comments.
pub const ALG_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// RSA PKCS#1 v1.5 with SHA-256.
pub const ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// SHA-256.
pub const ALG_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// The enveloped-signature transform.
pub const ALG_ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Why a signature was refused. [`DsigError::reason`] is a stable label for metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsigError {
    /// No `ds:Signature` child.
    #[error("the element carries no signature")]
    Missing,
    /// More than one `ds:Signature` child.
    #[error("the element carries more than one signature")]
    Several,
    /// Something other than the accepted structure.
    #[error("unexpected {0} in the signature")]
    Shape(String),
    /// An algorithm or transform outside the allowed set.
    #[error("algorithm or transform not accepted: {0}")]
    Algorithm(String),
    /// The reference is not `#` + the signed element's `ID`.
    #[error("the reference does not point at the signed element")]
    Reference,
    /// The RSA signature does not verify with any IdP key.
    #[error("the signature value does not verify with any of the IdP's keys")]
    BadSignature,
    /// The digest of the signed element differs.
    #[error("the digest of the signed element does not match")]
    Digest,
    /// The canonical bytes do not parse (a canonicalization defect: fails closed).
    #[error("signed content: {0}")]
    Xml(#[from] XmlError),
}

impl DsigError {
    /// A short label naming the reason.
    pub fn reason(&self) -> &'static str {
        match self {
            DsigError::Missing => "signature_missing",
            DsigError::Several => "signature_several",
            DsigError::Shape(_) => "signature_shape",
            DsigError::Algorithm(_) => "signature_algorithm",
            DsigError::Reference => "signature_reference",
            DsigError::BadSignature => "signature_invalid",
            DsigError::Digest => "digest_mismatch",
            DsigError::Xml(_) => "xml",
        }
    }
}

/// An RSA public key of the identity provider, from a certificate of its metadata.
#[derive(Clone)]
pub struct VerifyKey {
    // Parsed once, when the metadata is read, not at each verification.
    key: Arc<ParsedPublicKey>,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifyKey(rsa)")
    }
}

impl VerifyKey {
    /// The RSA key of a DER X.509 certificate (2048 to 8192 bits are verified).
    pub fn from_certificate(der: &[u8]) -> Result<VerifyKey, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let spki = &cert.tbs_certificate.subject_pki;
        if spki.algorithm.algorithm != x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION {
            return Err("the certificate's key is not an RSA key".into());
        }
        let key = ParsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA256,
            spki.subject_public_key.data.as_ref(),
        )
        .map_err(|e| format!("the certificate's RSA key is not usable: {e}"))?;
        Ok(VerifyKey { key: Arc::new(key) })
    }

    /// The key of a base64 DER certificate, as in `ds:X509Certificate`.
    pub fn from_base64_certificate(text: &str) -> Result<VerifyKey, String> {
        let der = decode_base64(text).ok_or("the certificate is not base64")?;
        VerifyKey::from_certificate(&der)
    }

    pub(super) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

/// Base64 with any XML whitespace inside, as signature and cipher values are written.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    if !text.as_bytes().iter().any(space) {
        return STANDARD.decode(text).ok();
    }
    let compact: Vec<u8> = text.bytes().filter(|b| !space(b)).collect();
    STANDARD.decode(compact).ok()
}

/// What a `SignedInfo` says, once its shape was checked.
#[derive(Debug, PartialEq, Eq)]
struct SignedInfo {
    prefixes: Vec<String>,
    reference: String,
    reference_prefixes: Vec<String>,
    digest: Vec<u8>,
}

/// Verifies the enveloped signature of `element` with any of `keys`, and returns the
/// element re-parsed from the digested bytes (its signature left out).
pub fn verify(element: &Element, keys: &[VerifyKey]) -> Result<Element, DsigError> {
    let mut signatures = element.children_named(DSIG, "Signature");
    let signature = signatures.next().ok_or(DsigError::Missing)?;
    if signatures.next().is_some() {
        return Err(DsigError::Several);
    }
    let mut parts = signature.elements();
    let signed_info = parts
        .next()
        .filter(|e| e.is(DSIG, "SignedInfo"))
        .ok_or_else(|| DsigError::Shape("content before SignedInfo".into()))?;
    let value = parts
        .next()
        .filter(|e| e.is(DSIG, "SignatureValue"))
        .ok_or_else(|| DsigError::Shape("content instead of SignatureValue".into()))?;
    match parts.next() {
        None => {}
        Some(k) if k.is(DSIG, "KeyInfo") => {}
        Some(other) => return Err(DsigError::Shape(other.qname())),
    }
    if let Some(extra) = parts.next() {
        return Err(DsigError::Shape(extra.qname()));
    }
    if signature.has_text() {
        return Err(DsigError::Shape("text".into()));
    }
    // The shape is checked on the unsigned tree first, so that nothing else (a transform, a
    // second reference) is ever looked at; it is checked again on the signed bytes below.
    let claimed = read_signed_info(signed_info)?;
    let canonical = c14n::exclusive(signed_info, None, &claimed.prefixes);
    let signature_value = decode_base64(&value.text())
        .ok_or_else(|| DsigError::Shape("SignatureValue is not base64".into()))?;
    if !keys
        .iter()
        .any(|k| k.verifies(canonical.as_bytes(), &signature_value))
    {
        return Err(DsigError::BadSignature);
    }
    let signed = read_signed_info(&xml::parse(&canonical)?)?;
    if signed.prefixes != claimed.prefixes {
        return Err(DsigError::Algorithm("canonicalization parameters".into()));
    }
    if element.attr("ID") != Some(signed.reference.as_str()) {
        return Err(DsigError::Reference);
    }
    let digested = c14n::exclusive(element, Some(signature), &signed.reference_prefixes);
    let actual = digest::digest(&digest::SHA256, digested.as_bytes());
    if actual.as_ref() != signed.digest.as_slice() {
        return Err(DsigError::Digest);
    }
    Ok(xml::parse(&digested)?)
}

fn read_signed_info(si: &Element) -> Result<SignedInfo, DsigError> {
    if si.has_text() || !si.attrs.is_empty() {
        return Err(DsigError::Shape("SignedInfo attributes or text".into()));
    }
    let parts: Vec<&Element> = si.elements().collect();
    let [c14n_method, sig_method, reference] = parts.as_slice() else {
        return Err(DsigError::Shape(format!(
            "SignedInfo with {} children (one Reference expected)",
            parts.len()
        )));
    };
    expect(c14n_method, "CanonicalizationMethod")?;
    let prefixes = exc_c14n_params(c14n_method)?;
    expect(sig_method, "SignatureMethod")?;
    algorithm(sig_method, ALG_RSA_SHA256)?;
    if sig_method.elements().next().is_some() {
        return Err(DsigError::Shape("SignatureMethod parameters".into()));
    }
    expect(reference, "Reference")?;
    if reference.attrs.len() != 1 {
        return Err(DsigError::Shape("Reference attributes".into()));
    }
    let id = reference
        .attr("URI")
        .and_then(|u| u.strip_prefix('#'))
        .filter(|id| !id.is_empty())
        .ok_or(DsigError::Reference)?;
    let r: Vec<&Element> = reference.elements().collect();
    let [transforms, digest_method, digest_value] = r.as_slice() else {
        return Err(DsigError::Shape("Reference content".into()));
    };
    expect(transforms, "Transforms")?;
    let t: Vec<&Element> = transforms.elements().collect();
    let [enveloped, exc] = t.as_slice() else {
        return Err(DsigError::Algorithm(format!("{} transforms", t.len())));
    };
    expect(enveloped, "Transform")?;
    algorithm(enveloped, ALG_ENVELOPED)?;
    if enveloped.elements().next().is_some() {
        return Err(DsigError::Algorithm(
            "enveloped-signature parameters".into(),
        ));
    }
    expect(exc, "Transform")?;
    let reference_prefixes = exc_c14n_params(exc)?;
    expect(digest_method, "DigestMethod")?;
    algorithm(digest_method, ALG_SHA256)?;
    expect(digest_value, "DigestValue")?;
    let digest = decode_base64(&digest_value.text())
        .filter(|d| d.len() == 32)
        .ok_or_else(|| DsigError::Shape("DigestValue".into()))?;
    Ok(SignedInfo {
        prefixes,
        reference: id.to_string(),
        reference_prefixes,
        digest,
    })
}

fn expect(e: &Element, local: &str) -> Result<(), DsigError> {
    if e.is(DSIG, local) {
        Ok(())
    } else {
        Err(DsigError::Shape(format!(
            "{} where {local} was expected",
            e.qname()
        )))
    }
}

fn algorithm(e: &Element, expected: &str) -> Result<(), DsigError> {
    match e.attr("Algorithm") {
        Some(a) if a == expected => Ok(()),
        Some(other) => Err(DsigError::Algorithm(other.chars().take(120).collect())),
        None => Err(DsigError::Algorithm(format!(
            "{} without Algorithm",
            e.qname()
        ))),
    }
}

/// An exclusive-canonicalization method or transform, and its InclusiveNamespaces prefixes.
fn exc_c14n_params(e: &Element) -> Result<Vec<String>, DsigError> {
    algorithm(e, ALG_EXC_C14N)?;
    let params: Vec<&Element> = e.elements().collect();
    match params.as_slice() {
        [] => Ok(Vec::new()),
        [inclusive] if inclusive.is(EXC_C14N, "InclusiveNamespaces") => Ok(inclusive
            .attr("PrefixList")
            .unwrap_or_default()
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect()),
        _ => Err(DsigError::Algorithm("canonicalization parameters".into())),
    }
}

#[cfg(test)]
#[path = "dsig_tests.rs"]
mod tests;
