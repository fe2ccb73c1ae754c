#![allow(clippy::expect_used)] // test support: a failed key generation is a broken test machine

//! What a SAML identity provider does to a message, for the development ÉduConnect and for
//! tests: RSA keys with self-signed certificates (generated on the spot, never committed),
//! enveloped signatures (exclusive canonicalization, RSA-SHA256, SHA-256) and assertion
//! encryption (RSA-OAEP key transport, AES-GCM content).
//!
//! Canonicalization is Vigie's own (`vigie::saml::c14n`); tests cross-check these messages
//! with `xmlsec1`, and Vigie with messages of an IdP it did not write (pysaml2).

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OaepPublicEncryptingKey, PublicEncryptingKey};
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use vigie::saml::xml::{Element, Node};
use vigie::saml::{c14n, xml};

mod build;

pub use build::{ResponseSpec, escape, oid};

const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";

/// An RSA-2048 key and its self-signed certificate.
pub struct RsaIdentity {
    pair: RsaKeyPair,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

impl RsaIdentity {
    /// A fresh key, its certificate naming `cn`.
    pub fn generate(cn: &str) -> RsaIdentity {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("rsa key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let cert = params.self_signed(&key).expect("certificate");
        let key_der = key.serialize_der();
        RsaIdentity {
            pair: RsaKeyPair::from_pkcs8(&key_der).expect("pkcs8"),
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            key_der,
        }
    }

    /// A key and certificate read from PEM (PKCS#8 key): another party's, such as the keys a
    /// test IdP wrote.
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> RsaIdentity {
        let block = |pem: &str, label: &str| {
            x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
                .filter_map(Result::ok)
                .find(|p| p.label == label)
                .expect("a PEM block")
                .contents
        };
        let key_der = block(key_pem, "PRIVATE KEY");
        RsaIdentity {
            pair: RsaKeyPair::from_pkcs8(&key_der).expect("pkcs8"),
            cert_der: block(cert_pem, "CERTIFICATE"),
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
            key_der,
        }
    }

    /// The certificate as written in `ds:X509Certificate`.
    pub fn cert_base64(&self) -> String {
        STANDARD.encode(&self.cert_der)
    }

    /// An RSA PKCS#1 v1.5 SHA-256 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .expect("rsa signature");
        signature
    }
}

/// Finds the element whose `ID` is `id`.
pub fn by_id<'a>(e: &'a Element, id: &str) -> Option<&'a Element> {
    if e.attr("ID") == Some(id) {
        return Some(e);
    }
    e.children.iter().find_map(|c| match c {
        Node::Element(c) => by_id(c, id),
        Node::Text(_) => None,
    })
}

/// `doc` with an enveloped signature of its element `ID="id"`, by `key`, inserted right
/// after the first occurrence of `after` (such as `</saml:Issuer>`) following that
/// element's start.
pub fn sign_enveloped(doc: &str, id: &str, after: &str, key: &RsaIdentity) -> String {
    // Comments are dropped, as exclusive canonicalization without comments does: a comment
    // in signed text leaves the signature valid (the attack tables rely on it).
    let limits = xml::Limits {
        allow_comments: true,
        ..xml::LIMITS
    };
    let root =
        xml::parse_in(doc, &xml::Scope::new(), &limits).expect("the document to sign parses");
    let element = by_id(&root, id).expect("the element to sign");
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        c14n::exclusive(element, None, &[]).as_bytes(),
    );
    let exc = "http://www.w3.org/2001/10/xml-exc-c14n#";
    let signed_info = format!(
        "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{exc}\"/>\
         <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"{exc}\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
         <ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
        STANDARD.encode(digest.as_ref())
    );
    let wrapper = format!("<ds:Signature xmlns:ds=\"{DSIG}\">{signed_info}</ds:Signature>");
    let parsed = xml::parse(&wrapper).expect("signature template");
    let Some(Node::Element(si)) = parsed.children.first() else {
        unreachable!("the template starts with SignedInfo")
    };
    let value = STANDARD.encode(key.sign(c14n::exclusive(si, None, &[]).as_bytes()));
    let signature = format!(
        "<ds:Signature xmlns:ds=\"{DSIG}\">{signed_info}<ds:SignatureValue>{value}</ds:SignatureValue>\
         <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
         </ds:Signature>",
        key.cert_base64()
    );
    let start = doc
        .find(&format!("ID=\"{id}\""))
        .expect("the ID in the text");
    let at = start + doc[start..].find(after).expect("the insertion point") + after.len();
    format!("{}{signature}{}", &doc[..at], &doc[at..])
}

/// `xml` without its first `<P:Signature ...>...</P:Signature>` element (any prefix `P`).
pub fn strip_signature(xml: &str) -> String {
    let Some(start) = xml.find(":Signature").and_then(|i| xml[..i].rfind('<')) else {
        return xml.to_string();
    };
    let prefix = &xml[start + 1..xml[start..].find(':').map_or(start, |i| start + i)];
    let close = format!("</{prefix}:Signature>");
    let end = xml[start..]
        .find(&close)
        .map_or(xml.len(), |i| start + i + close.len());
    format!("{}{}", &xml[..start], &xml[end..])
}

/// AES-GCM content encryption of an assertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// `xmlenc11#aes128-gcm` (Shibboleth's default).
    Aes128Gcm,
    /// `xmlenc11#aes256-gcm`.
    Aes256Gcm,
}

/// `saml:EncryptedAssertion` holding `assertion` (a complete element with its namespace
/// declarations) for the SP whose encryption certificate is `sp_cert_der`; the
/// EncryptedKey is inline in the data's KeyInfo, as OpenSAML places it.
pub fn encrypt_assertion(assertion: &str, sp_cert_der: &[u8], content: Content) -> String {
    let rng = SystemRandom::new();
    let (alg, uri, len) = match content {
        Content::Aes128Gcm => (
            &AES_128_GCM,
            "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            16,
        ),
        Content::Aes256Gcm => (
            &AES_256_GCM,
            "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            32,
        ),
    };
    let mut key = vec![0u8; len];
    rng.fill(&mut key).expect("random");
    let mut iv = [0u8; NONCE_LEN];
    rng.fill(&mut iv).expect("random");
    let mut data = assertion.as_bytes().to_vec();
    LessSafeKey::new(UnboundKey::new(alg, &key).expect("aes key"))
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::empty(), &mut data)
        .expect("aes-gcm");
    let sealed = [iv.as_slice(), &data].concat();
    let public = OaepPublicEncryptingKey::new(
        PublicEncryptingKey::from_der(&spki(sp_cert_der)).expect("spki"),
    )
    .expect("oaep key");
    let mut wrapped = vec![0u8; public.ciphertext_size()];
    let wrapped = public
        .encrypt(&OAEP_SHA1_MGF1SHA1, &key, &mut wrapped, None)
        .expect("rsa-oaep");
    format!(
        "<saml:EncryptedAssertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">\
         <xenc:EncryptedData xmlns:xenc=\"{XENC}\" Id=\"_ed{id}\" Type=\"{XENC}Element\">\
         <xenc:EncryptionMethod Algorithm=\"{uri}\"/>\
         <ds:KeyInfo xmlns:ds=\"{DSIG}\"><xenc:EncryptedKey Id=\"_ek{id}\">\
         <xenc:EncryptionMethod Algorithm=\"{XENC}rsa-oaep-mgf1p\">\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"/></xenc:EncryptionMethod>\
         <xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData>\
         </xenc:EncryptedKey></ds:KeyInfo>\
         <xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData>\
         </xenc:EncryptedData></saml:EncryptedAssertion>",
        STANDARD.encode(wrapped),
        STANDARD.encode(sealed),
        id = random_hex(8),
    )
}

/// The SubjectPublicKeyInfo of a DER certificate.
fn spki(der: &[u8]) -> Vec<u8> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("certificate");
    cert.tbs_certificate.subject_pki.raw.to_vec()
}

/// `n` random bytes, hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    SystemRandom::new().fill(&mut bytes).expect("random");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
