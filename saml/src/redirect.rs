//! The HTTP-Redirect binding: a message deflated, base64-encoded and put in the query,
//! signed over the query bytes (`SAMLRequest=…&RelayState=…&SigAlg=…`).
//!
//! Verification works on the raw query **as received**: the signed string is rebuilt from
//! the encoded values exactly as they arrived, never from a decode-then-re-encode that could
//! differ from what the IdP signed (SAML.md §4.2, SLO).

use std::io::{Read, Write};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

use super::dsig::{ALG_RSA_SHA256, VerifyKey};

/// Largest inflated message accepted.
const MAX_INFLATED: u64 = 64 * 1024;
/// Longest query accepted.
const MAX_QUERY: usize = 16 * 1024;

/// Which message a query carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `SAMLRequest` (AuthnRequest, LogoutRequest).
    Request,
    /// `SAMLResponse` (LogoutResponse).
    Response,
}

impl Kind {
    fn param(self) -> &'static str {
        match self {
            Kind::Request => "SAMLRequest",
            Kind::Response => "SAMLResponse",
        }
    }
}

/// Why a redirect-bound message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    /// Missing, repeated or oversized parameters.
    #[error("malformed query: {0}")]
    Query(&'static str),
    /// `SigAlg` other than RSA-SHA256.
    #[error("signature algorithm not accepted")]
    Algorithm,
    /// The signature does not verify with the IdP's keys.
    #[error("the signature does not verify")]
    Signature,
    /// Not base64, not deflate, too large or not UTF-8.
    #[error("the message does not decode: {0}")]
    Encoding(&'static str),
}

/// Our RSA signing key (AuthnRequests, LogoutRequests and LogoutResponses).
pub struct SignKey {
    pair: RsaKeyPair,
}

impl std::fmt::Debug for SignKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignKey(<redacted>)")
    }
}

impl SignKey {
    /// A key from PKCS#8 DER (RSA, at least 2048 bits).
    pub fn from_pkcs8(der: &[u8]) -> Result<SignKey, String> {
        let pair =
            RsaKeyPair::from_pkcs8(der).map_err(|e| format!("not an RSA PKCS#8 key: {e}"))?;
        if pair.public_modulus_len() < 256 {
            return Err("the RSA key has fewer than 2048 bits".into());
        }
        Ok(SignKey { pair })
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut out = vec![0; self.pair.public_modulus_len()];
        // Signing with a valid key into a buffer of the modulus size cannot fail.
        let _ = self
            .pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut out);
        out
    }
}

/// The signed query carrying `xml` (without the leading `?`).
pub fn encode(kind: Kind, xml: &str, relay_state: Option<&str>, key: &SignKey) -> String {
    let mut deflater = DeflateEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = deflater.write_all(xml.as_bytes());
    let deflated = deflater.finish().unwrap_or_default();
    let mut query = format!("{}={}", kind.param(), url(&STANDARD.encode(deflated)));
    if let Some(relay) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&url(relay));
    }
    query.push_str("&SigAlg=");
    query.push_str(&url(ALG_RSA_SHA256));
    let signature = STANDARD.encode(key.sign(query.as_bytes()));
    query.push_str("&Signature=");
    query.push_str(&url(&signature));
    query
}

/// `to` with the signed query carrying `xml` appended: where to send the browser.
pub fn location(
    to: &str,
    kind: Kind,
    xml: &str,
    relay_state: Option<&str>,
    key: &SignKey,
) -> String {
    let separator = if to.contains('?') { '&' } else { '?' };
    format!("{to}{separator}{}", encode(kind, xml, relay_state, key))
}

fn url(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn decode_component(raw: &str) -> String {
    form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A verified redirect-bound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The message XML.
    pub xml: String,
    /// `RelayState`, decoded.
    pub relay_state: Option<String>,
}

/// Verifies the `kind` message in `raw_query` with any of `keys`, then decodes it.
pub fn verify(kind: Kind, raw_query: &str, keys: &[VerifyKey]) -> Result<Received, RedirectError> {
    if raw_query.len() > MAX_QUERY {
        return Err(RedirectError::Query("too long"));
    }
    let (mut message, mut relay, mut sig_alg, mut signature) = (None, None, None, None);
    for pair in raw_query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            n if n == kind.param() => &mut message,
            "RelayState" => &mut relay,
            "SigAlg" => &mut sig_alg,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(RedirectError::Query("a parameter appears twice"));
        }
    }
    let message = message.ok_or(RedirectError::Query("no message"))?;
    let sig_alg = sig_alg.ok_or(RedirectError::Query("unsigned"))?;
    let signature = signature.ok_or(RedirectError::Query("unsigned"))?;
    if decode_component(sig_alg) != ALG_RSA_SHA256 {
        return Err(RedirectError::Algorithm);
    }
    let mut signed = format!("{}={message}", kind.param());
    if let Some(relay) = relay {
        signed.push_str("&RelayState=");
        signed.push_str(relay);
    }
    signed.push_str("&SigAlg=");
    signed.push_str(sig_alg);
    let signature = STANDARD
        .decode(decode_component(signature))
        .map_err(|_| RedirectError::Encoding("Signature is not base64"))?;
    if !keys
        .iter()
        .any(|k| k.verifies(signed.as_bytes(), &signature))
    {
        return Err(RedirectError::Signature);
    }
    let deflated = STANDARD
        .decode(decode_component(message))
        .map_err(|_| RedirectError::Encoding("not base64"))?;
    let mut xml = String::new();
    DeflateDecoder::new(deflated.as_slice())
        .take(MAX_INFLATED + 1)
        .read_to_string(&mut xml)
        .map_err(|_| RedirectError::Encoding("not deflated UTF-8"))?;
    if xml.len() as u64 > MAX_INFLATED {
        return Err(RedirectError::Encoding("too large once inflated"));
    }
    Ok(Received {
        xml,
        relay_state: relay.map(decode_component),
    })
}

#[cfg(test)]
mod tests {
    use vigie_load_tests::saml::RsaIdentity;

    use super::*;

    #[test]
    fn a_signed_redirect_round_trips_and_any_change_breaks_it() {
        let id = RsaIdentity::generate("sp");
        let key = SignKey::from_pkcs8(&id.key_der).unwrap();
        let keys = [VerifyKey::from_certificate(&id.cert_der).unwrap()];
        let xml = "<samlp:LogoutRequest ID=\"_x\">é &amp; ü</samlp:LogoutRequest>";
        let query = encode(Kind::Request, xml, Some("/livret?a=1&b=2"), &key);
        let got = verify(Kind::Request, &format!("extra=1&{query}"), &keys).unwrap();
        assert_eq!(got.xml, xml);
        assert_eq!(got.relay_state.as_deref(), Some("/livret?a=1&b=2"));

        assert_eq!(
            verify(Kind::Response, &query, &keys).unwrap_err(),
            RedirectError::Query("no message")
        );
        let tampered = query.replace("RelayState=%2F", "RelayState=%2F%2F");
        assert_eq!(
            verify(Kind::Request, &tampered, &keys).unwrap_err(),
            RedirectError::Signature
        );
        // The same values encoded differently are not what was signed.
        let reencoded = query.replace("%2F", "%2f");
        assert_eq!(
            verify(Kind::Request, &reencoded, &keys).unwrap_err(),
            RedirectError::Signature
        );
        let sha1 = query.replace("xmldsig-more%23rsa-sha256", "xmldsig%23rsa-sha1");
        assert_eq!(
            verify(Kind::Request, &sha1, &keys).unwrap_err(),
            RedirectError::Algorithm
        );
        let unsigned = &query[..query.find("&SigAlg").unwrap()];
        assert_eq!(
            verify(Kind::Request, unsigned, &keys).unwrap_err(),
            RedirectError::Query("unsigned")
        );
        let twice = format!("{query}&RelayState=x");
        assert!(matches!(
            verify(Kind::Request, &twice, &keys),
            Err(RedirectError::Query(_))
        ));
        let other = [VerifyKey::from_certificate(&RsaIdentity::generate("x").cert_der).unwrap()];
        assert_eq!(
            verify(Kind::Request, &query, &other).unwrap_err(),
            RedirectError::Signature
        );
    }
}
