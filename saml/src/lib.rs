//! ÉduConnect's SAML 2.0 for Vigie, as a narrow service provider: the shapes a Shibboleth
//! IdP sends are accepted, nothing else. No dependency on the proxy, so it can be fuzzed
//! and benchmarked alone.
//!
//! The verifier is digest-first (see `../shared/SAML.md` §4.2): a message is parsed by a
//! hardened reader (`xml`), its signature checked over exclusive-canonical bytes (`c14n`,
//! `dsig`), and every value is then read from a re-parse of exactly the bytes that were
//! digested, so unsigned content (wrapping attacks, comments) never reaches the reader.
//! Assertions are decrypted (`decrypt`) only after the Response signature holds
//! (`response`). `metadata`, `redirect` (the HTTP-Redirect binding) and `messages` cover the
//! rest of the protocol.

pub mod c14n;
pub mod decrypt;
pub mod dsig;
pub mod messages;
pub mod metadata;
pub mod redirect;
pub mod response;
pub mod time;
pub mod xml;

/// Namespaces of the messages.
pub mod ns {
    /// SAML 2.0 protocol.
    pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    /// SAML 2.0 assertions.
    pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    /// SAML 2.0 metadata.
    pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    /// XML Signature.
    pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    /// XML Encryption.
    pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
    /// XML Encryption 1.1.
    pub const XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
    /// Exclusive canonicalization, its InclusiveNamespaces element.
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
}
