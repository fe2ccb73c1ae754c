//! Login responses as a Shibboleth IdP writes them: a signed Response holding one
//! EncryptedAssertion, whose assertion is signed too; every part can be switched off or
//! altered, for the attack tables.

pub use vigie::saml::xml::escape;

use super::{Content, RsaIdentity, encrypt_assertion, random_hex, sign_enveloped};

/// The ÉduConnect attribute OIDs (IDP.md §2.3).
pub mod oid {
    /// `FrEduCtPersonAffiliation`: eleve1d, eleve2d, resp1d, resp2d.
    pub const AFFILIATION: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.7";
    /// `FrEduCtId`: the ÉduConnect user id.
    pub const ID: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.57";
    /// `FrEduCtEleveINEHash`.
    pub const INE_HASH: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.64";
    /// `FrEduCtDateNaissance`.
    pub const BIRTH_DATE: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.67";
    /// `FrEduCtEleveUAI`.
    pub const UAI: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.72";
    /// `FrEduCtEleveNiveau`.
    pub const LEVEL: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.73";
    /// `FrEduUrlRetour`: the logout URL.
    pub const LOGOUT_URL: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.5";
    /// `givenName`.
    pub const GIVEN_NAME: &str = "urn:oid:2.5.4.42";
    /// `sn`.
    pub const SURNAME: &str = "urn:oid:2.5.4.4";
}

/// What a login response says, and how it is protected.
#[derive(Clone, Debug)]
pub struct ResponseSpec {
    /// The IdP's entityID.
    pub idp_entity_id: String,
    /// The SP's entityID (the audience).
    pub sp_entity_id: String,
    /// The SP's ACS URL (the Response's Destination).
    pub acs_url: String,
    /// The bearer confirmation's Recipient (the ACS URL).
    pub recipient: String,
    /// The AuthnRequest answered; `None` for an IdP-initiated login.
    pub in_response_to: Option<String>,
    /// The transient NameID.
    pub name_id: String,
    /// The IdP session index.
    pub session_index: String,
    /// Attributes: Name (an OID URI), FriendlyName, values.
    pub attributes: Vec<(String, String, Vec<String>)>,
    /// Unix time of issue.
    pub issued_at: i64,
    /// Seconds the assertion may be presented.
    pub lifetime: i64,
    /// A status other than Success (the assertion is then left out).
    pub status: Option<String>,
    /// Content encryption; `None` puts the assertion in the clear.
    pub content: Option<Content>,
    /// Whether the Response is signed.
    pub sign_response: bool,
    /// Whether the Assertion is signed.
    pub sign_assertion: bool,
    /// The Response's ID.
    pub response_id: String,
    /// The Assertion's ID.
    pub assertion_id: String,
}

impl ResponseSpec {
    /// A successful, fully protected response from `idp` to `sp` at `acs`, issued `now`.
    pub fn new(idp: &str, sp: &str, acs: &str, now: i64) -> ResponseSpec {
        ResponseSpec {
            idp_entity_id: idp.into(),
            sp_entity_id: sp.into(),
            acs_url: acs.into(),
            recipient: acs.into(),
            in_response_to: None,
            name_id: format!("AAdzZWNyZXQx{}", random_hex(12)),
            session_index: format!("_{}", random_hex(16)),
            attributes: Vec::new(),
            issued_at: now,
            lifetime: 300,
            status: None,
            content: Some(Content::Aes128Gcm),
            sign_response: true,
            sign_assertion: true,
            response_id: format!("_{}", random_hex(16)),
            assertion_id: format!("_{}", random_hex(16)),
        }
    }

    /// Adds an attribute.
    pub fn attribute(mut self, name: &str, friendly: &str, values: &[&str]) -> ResponseSpec {
        self.attributes.push((
            name.into(),
            friendly.into(),
            values.iter().map(|v| v.to_string()).collect(),
        ));
        self
    }

    /// The assertion, signed when asked, with its namespace declarations.
    pub fn assertion(&self, idp: &RsaIdentity) -> String {
        let t = vigie::saml::time::format;
        let irt = self
            .in_response_to
            .as_deref()
            .map(|i| format!(" InResponseTo=\"{}\"", escape(i)))
            .unwrap_or_default();
        let attributes: String = self
            .attributes
            .iter()
            .map(|(name, friendly, values)| {
                let values: String = values
                    .iter()
                    .map(|v| format!("<saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>", escape(v)))
                    .collect();
                format!(
                    "<saml:Attribute FriendlyName=\"{}\" Name=\"{}\" \
                     NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\">{values}</saml:Attribute>",
                    escape(friendly),
                    escape(name)
                )
            })
            .collect();
        let until = t(self.issued_at + self.lifetime);
        let xml = format!(
            "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
             xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             ID=\"{id}\" IssueInstant=\"{now}\" Version=\"2.0\">\
             <saml:Issuer>{idp}</saml:Issuer>\
             <saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\" \
             NameQualifier=\"{idp}\" SPNameQualifier=\"{sp}\">{name_id}</saml:NameID>\
             <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
             <saml:SubjectConfirmationData Address=\"127.0.0.1\"{irt} NotOnOrAfter=\"{until}\" Recipient=\"{acs}\"/>\
             </saml:SubjectConfirmation></saml:Subject>\
             <saml:Conditions NotBefore=\"{now}\" NotOnOrAfter=\"{until}\"><saml:AudienceRestriction>\
             <saml:Audience>{sp}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
             <saml:AuthnStatement AuthnInstant=\"{now}\" SessionIndex=\"{session}\"><saml:AuthnContext>\
             <saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport\
             </saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>\
             <saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>",
            id = self.assertion_id,
            now = t(self.issued_at),
            idp = escape(&self.idp_entity_id),
            sp = escape(&self.sp_entity_id),
            acs = escape(&self.recipient),
            name_id = escape(&self.name_id),
            session = escape(&self.session_index),
        );
        if self.sign_assertion {
            sign_enveloped(&xml, &self.assertion_id, "</saml:Issuer>", idp)
        } else {
            xml
        }
    }

    /// The whole Response, as the IdP posts it (before base64).
    pub fn response(&self, idp: &RsaIdentity, sp_encryption_cert_der: &[u8]) -> String {
        let body = match (&self.status, self.content) {
            (Some(_), _) => String::new(),
            (None, Some(content)) => {
                encrypt_assertion(&self.assertion(idp), sp_encryption_cert_der, content)
            }
            (None, None) => self.assertion(idp),
        };
        self.wrap(&body, idp)
    }

    /// A Response around `body` (an assertion, encrypted or not, or anything a test puts
    /// there), signed when asked.
    pub fn wrap(&self, body: &str, idp: &RsaIdentity) -> String {
        let irt = self
            .in_response_to
            .as_deref()
            .map(|i| format!(" InResponseTo=\"{}\"", escape(i)))
            .unwrap_or_default();
        let status = match &self.status {
            None => "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/>"
                .to_string(),
            Some(second) => format!(
                "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Responder\">\
                 <samlp:StatusCode Value=\"{}\"/></samlp:StatusCode>",
                escape(second)
            ),
        };
        let xml = format!(
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             Destination=\"{acs}\" ID=\"{id}\"{irt} IssueInstant=\"{now}\" Version=\"2.0\">\
             <saml:Issuer xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">{idp}</saml:Issuer>\
             <samlp:Status>{status}</samlp:Status>{body}</samlp:Response>",
            acs = escape(&self.acs_url),
            id = self.response_id,
            now = vigie::saml::time::format(self.issued_at),
            idp = escape(&self.idp_entity_id),
        );
        if self.sign_response {
            sign_enveloped(&xml, &self.response_id, "</saml:Issuer>", idp)
        } else {
            xml
        }
    }
}
