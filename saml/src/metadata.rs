//! SAML metadata: the IdP's (read: entityID, endpoints, signing certificates, validity) and
//! ours (written from config, served at a fixed URL for the IdP to import).
//!
//! The IdP's signing certificates come only from its metadata, never from a message. A
//! metadata document may be a single `EntityDescriptor` or an `EntitiesDescriptor` (a
//! federation aggregate); the configured entityID is picked from it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::dsig::VerifyKey;
use super::ns::{DSIG, METADATA, PROTOCOL};
use super::time;
use super::xml::{self, Element, Limits, XmlError};

const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// Metadata documents are larger than messages (an aggregate holds many entities).
const METADATA_LIMITS: Limits = Limits {
    max_bytes: 4 * 1024 * 1024,
    max_depth: 32,
    max_elements: 100_000,
    max_attributes: 32,
    max_namespaces: 32,
    allow_comments: true,
};

/// What we use of the IdP's metadata.
#[derive(Debug, Clone)]
pub struct IdpMetadata {
    /// Its entityID.
    pub entity_id: String,
    /// Single sign-on, HTTP-Redirect binding.
    pub sso_url: String,
    /// Single logout, HTTP-Redirect binding, when offered.
    pub slo_url: Option<String>,
    /// Keys verifying its signatures (rollover: several).
    pub signing_keys: Vec<VerifyKey>,
    /// `validUntil`, Unix seconds, when given.
    pub valid_until: Option<i64>,
}

/// Why metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Not readable XML.
    #[error("{0}")]
    Xml(#[from] XmlError),
    /// The entity is not in the document.
    #[error("no IdP with entityID {0:?} in the metadata")]
    NotFound(String),
    /// Something we need is missing or wrong.
    #[error("{0}")]
    Invalid(String),
    /// `validUntil` has passed.
    #[error("the metadata expired at {0}")]
    Expired(String),
}

/// Reads the IdP `entity_id` from a metadata document, valid at `now` (Unix seconds).
pub fn read_idp(document: &str, entity_id: &str, now: i64) -> Result<IdpMetadata, MetadataError> {
    let root = xml::parse_in(document, &xml::Scope::new(), &METADATA_LIMITS)?;
    let mut valid_until = until(&root)?;
    let entity = if root.is(METADATA, "EntityDescriptor") {
        Some(&root).filter(|e| e.attr("entityID") == Some(entity_id))
    } else if root.is(METADATA, "EntitiesDescriptor") {
        root.children_named(METADATA, "EntityDescriptor")
            .find(|e| e.attr("entityID") == Some(entity_id))
    } else {
        return Err(MetadataError::Invalid(format!(
            "{} is not SAML metadata",
            root.qname()
        )));
    }
    .ok_or_else(|| MetadataError::NotFound(entity_id.to_string()))?;
    if let Some(t) = until(entity)? {
        valid_until = Some(valid_until.map_or(t, |v| v.min(t)));
    }
    if let Some(t) = valid_until.filter(|t| *t <= now) {
        return Err(MetadataError::Expired(time::format(t)));
    }
    let idp = entity
        .children_named(METADATA, "IDPSSODescriptor")
        .find(|d| {
            d.attr("protocolSupportEnumeration")
                .is_some_and(|p| p.split_ascii_whitespace().any(|p| p == PROTOCOL))
        })
        .ok_or_else(|| MetadataError::Invalid("no SAML 2.0 IDPSSODescriptor".into()))?;
    let endpoint = |local: &str| {
        idp.children_named(METADATA, local)
            .find(|s| s.attr("Binding") == Some(REDIRECT))
            .and_then(|s| s.attr("Location"))
            .map(str::to_string)
    };
    let sso_url = endpoint("SingleSignOnService")
        .ok_or_else(|| MetadataError::Invalid("no HTTP-Redirect SingleSignOnService".into()))?;
    let mut signing_keys = Vec::new();
    for kd in idp.children_named(METADATA, "KeyDescriptor") {
        if kd.attr("use").is_some_and(|u| u != "signing") {
            continue;
        }
        let certs = kd
            .child(DSIG, "KeyInfo")
            .into_iter()
            .flat_map(|ki| ki.children_named(DSIG, "X509Data"))
            .flat_map(|d| d.children_named(DSIG, "X509Certificate"));
        for cert in certs {
            signing_keys.push(
                VerifyKey::from_base64_certificate(&cert.text())
                    .map_err(|e| MetadataError::Invalid(format!("signing certificate: {e}")))?,
            );
        }
    }
    if signing_keys.is_empty() {
        return Err(MetadataError::Invalid("no signing certificate".into()));
    }
    Ok(IdpMetadata {
        entity_id: entity_id.to_string(),
        sso_url,
        slo_url: endpoint("SingleLogoutService"),
        signing_keys,
        valid_until,
    })
}

fn until(e: &Element) -> Result<Option<i64>, MetadataError> {
    e.attr("validUntil")
        .map(|v| time::parse(v).ok_or_else(|| MetadataError::Invalid(format!("validUntil {v:?}"))))
        .transpose()
}

/// What our metadata says.
#[derive(Debug, Clone)]
pub struct SpDescription<'a> {
    /// Our entityID.
    pub entity_id: &'a str,
    /// Assertion consumer service (HTTP-POST).
    pub acs_url: &'a str,
    /// Single logout (HTTP-Redirect), when offered.
    pub slo_url: Option<&'a str>,
    /// Signing certificates, DER (current first, then the next one).
    pub signing_certs: Vec<&'a [u8]>,
    /// Encryption certificates, DER (current first, then the next one).
    pub encryption_certs: Vec<&'a [u8]>,
}

/// Our metadata document.
pub fn write_sp(sp: &SpDescription<'_>) -> String {
    let key = |usage: &str, der: &[u8], methods: &str| {
        format!(
            "<md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}\
             </ds:X509Certificate></ds:X509Data></ds:KeyInfo>{methods}</md:KeyDescriptor>\n",
            STANDARD.encode(der)
        )
    };
    let methods = "<md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"/>\
                   <md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes128-gcm\"/>\
                   <md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"/>";
    let mut keys = String::new();
    for der in &sp.signing_certs {
        keys.push_str(&key("signing", der, ""));
    }
    for der in &sp.encryption_certs {
        keys.push_str(&key("encryption", der, methods));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <md:EntityDescriptor xmlns:md=\"{METADATA}\" xmlns:ds=\"{DSIG}\" entityID=\"{entity}\">\n\
         <md:SPSSODescriptor AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"{PROTOCOL}\">\n{keys}\
         {slo}\
         <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>\n\
         <md:AssertionConsumerService Binding=\"{POST}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\n\
         </md:SPSSODescriptor>\n</md:EntityDescriptor>\n",
        entity = xml::escape(sp.entity_id),
        slo = sp.slo_url.map_or(String::new(), |u| format!(
            "<md:SingleLogoutService Binding=\"{REDIRECT}\" Location=\"{}\"/>\n",
            xml::escape(u)
        )),
        acs = xml::escape(sp.acs_url),
    )
}

#[cfg(test)]
mod tests {
    use vigie_load_tests::saml::RsaIdentity;

    use super::*;

    #[test]
    fn our_metadata_reads_back_and_the_idp_is_picked_from_an_aggregate() {
        let signing = RsaIdentity::generate("sp-sign");
        let encryption = RsaIdentity::generate("sp-enc");
        let ours = write_sp(&SpDescription {
            entity_id: "https://sp.test/vigie/saml/educonnect",
            acs_url: "https://sp.test/vigie/saml/educonnect/acs",
            slo_url: Some("https://sp.test/vigie/saml/educonnect/slo"),
            signing_certs: vec![&signing.cert_der],
            encryption_certs: vec![&encryption.cert_der],
        });
        let parsed = xml::parse(&ours).unwrap();
        let sp = parsed.child(METADATA, "SPSSODescriptor").unwrap();
        assert_eq!(sp.attr("AuthnRequestsSigned"), Some("true"));
        assert_eq!(sp.attr("WantAssertionsSigned"), Some("true"));
        let uses: Vec<_> = sp
            .children_named(METADATA, "KeyDescriptor")
            .filter_map(|k| k.attr("use"))
            .collect();
        assert_eq!(uses, ["signing", "encryption"]);
        assert!(ours.contains("SingleLogoutService"));
        let without = write_sp(&SpDescription {
            slo_url: None,
            entity_id: "urn:sp",
            acs_url: "https://sp.test/acs",
            signing_certs: vec![&signing.cert_der],
            encryption_certs: vec![&encryption.cert_der],
        });
        assert!(!without.contains("SingleLogoutService") && xml::parse(&without).is_ok());

        let idp = RsaIdentity::generate("idp");
        let entity = |id: &str| {
            format!(
                "<md:EntityDescriptor entityID=\"{id}\"><md:IDPSSODescriptor protocolSupportEnumeration=\"{PROTOCOL}\">\
                 <md:KeyDescriptor use=\"encryption\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>garbage</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
                 <md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
                 <md:SingleLogoutService Binding=\"{REDIRECT}\" Location=\"{id}/slo\"/>\
                 <md:SingleSignOnService Binding=\"{POST}\" Location=\"{id}/post\"/>\
                 <md:SingleSignOnService Binding=\"{REDIRECT}\" Location=\"{id}/sso\"/>\
                 </md:IDPSSODescriptor></md:EntityDescriptor>",
                idp.cert_base64()
            )
        };
        let aggregate = format!(
            "<!-- federation --><md:EntitiesDescriptor xmlns:md=\"{METADATA}\" xmlns:ds=\"{DSIG}\" validUntil=\"2030-01-01T00:00:00Z\">{}<!-- ours -->{}</md:EntitiesDescriptor>",
            entity("https://other.test"),
            entity("https://idp.test")
        );
        let m = read_idp(&aggregate, "https://idp.test", 1_800_000_000).unwrap();
        assert_eq!(m.sso_url, "https://idp.test/sso");
        assert_eq!(m.slo_url.as_deref(), Some("https://idp.test/slo"));
        assert_eq!(m.signing_keys.len(), 1);
        assert_eq!(m.valid_until, Some(1_893_456_000));
        assert_eq!(
            read_idp(&aggregate, "https://nobody.test", 0).unwrap_err(),
            MetadataError::NotFound("https://nobody.test".into())
        );
        assert!(matches!(
            read_idp(&aggregate, "https://idp.test", 1_900_000_000),
            Err(MetadataError::Expired(_))
        ));
        assert!(matches!(
            read_idp("<x/>", "https://idp.test", 0),
            Err(MetadataError::Invalid(_))
        ));
    }
}
