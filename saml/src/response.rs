//! A login response from the IdP, from the raw XML to the facts of a login, in the order
//! SAML.md §4.2 sets: shape checks on the unverified tree (cheap refusals), the Response
//! signature, the protocol checks on the signed bytes, decryption of the one
//! EncryptedAssertion those bytes hold, the assertion's own signature, and the assertion's
//! conditions. Every value in [`Login`] comes from a re-parse of digested bytes.

use std::collections::BTreeMap;

use super::decrypt::{self, DecryptError, DecryptKey};
use super::dsig::{self, DsigError, VerifyKey};
use super::ns::{ASSERTION, PROTOCOL};
use super::time;
use super::xml::{self, Element, Node, XmlError};

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// What the response must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The IdP's entityID (Issuer of the Response and of the Assertion).
    pub idp_entity_id: &'a str,
    /// Our entityID (the Audience).
    pub sp_entity_id: &'a str,
    /// Our ACS URL (Destination and Recipient).
    pub acs_url: &'a str,
    /// The id of the AuthnRequest this browser has pending, if any.
    pub in_response_to: Option<&'a str>,
    /// Whether a response to no request (IdP-initiated login) is accepted.
    pub allow_unsolicited: bool,
    /// Now, in Unix seconds.
    pub now: i64,
    /// Clock skew allowed each way, in seconds.
    pub skew: i64,
    /// Oldest `IssueInstant` accepted, in seconds before now.
    pub max_age: i64,
}

/// The facts of a verified login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The assertion's ID, for the replay cache.
    pub assertion_id: String,
    /// Unix time until which the assertion could be presented (its replay-cache lifetime).
    pub valid_until: i64,
    /// The subject's NameID and its Format.
    pub name_id: String,
    /// `Format` of the NameID, when given.
    pub name_id_format: Option<String>,
    /// The IdP's session index (for single logout).
    pub session_index: Option<String>,
    /// `AuthnContextClassRef`.
    pub authn_context: Option<String>,
    /// Attribute values by attribute `Name` (and `FriendlyName`, when given).
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Whether it answered one of our requests (false: IdP-initiated).
    pub solicited: bool,
}

/// Why a response was refused. [`ResponseError::reason`] labels metrics; the text goes to
/// the log, never to the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The XML reader refused the message.
    #[error("{0}")]
    Xml(#[from] XmlError),
    /// A signature was refused.
    #[error("{0}")]
    Signature(#[from] DsigError),
    /// The assertion could not be decrypted.
    #[error("{0}")]
    Decrypt(#[from] DecryptError),
    /// The IdP answered with a status other than Success (e.g. the person cancelled).
    #[error("the IdP answered {0}")]
    Status(String),
    /// The message is not the one accepted shape.
    #[error("unexpected shape: {0}")]
    Shape(String),
    /// Issuer is not the IdP.
    #[error("issuer {0:?} is not the IdP")]
    Issuer(String),
    /// Destination or Recipient is not our ACS.
    #[error("addressed to {0:?}, not our ACS")]
    Destination(String),
    /// Our entityID is not in the audience.
    #[error("our entityID is not in the audience")]
    Audience,
    /// Outside its validity window.
    #[error("outside its validity window ({0})")]
    Time(&'static str),
    /// Answers a request this browser has not pending.
    #[error("answers another request")]
    InResponseTo,
    /// Answers no request, and IdP-initiated login is off.
    #[error("unsolicited, and IdP-initiated login is not accepted")]
    Unsolicited,
    /// No usable bearer SubjectConfirmation.
    #[error("no valid bearer subject confirmation")]
    Bearer,
}

impl ResponseError {
    /// A short label naming the reason.
    pub fn reason(&self) -> &'static str {
        match self {
            ResponseError::Xml(_) => "xml",
            ResponseError::Signature(e) => e.reason(),
            ResponseError::Decrypt(e) => e.reason(),
            ResponseError::Status(_) => "status",
            ResponseError::Shape(_) => "shape",
            ResponseError::Issuer(_) => "issuer",
            ResponseError::Destination(_) => "destination",
            ResponseError::Audience => "audience",
            ResponseError::Time(_) => "time",
            ResponseError::InResponseTo => "in_response_to",
            ResponseError::Unsolicited => "unsolicited",
            ResponseError::Bearer => "subject_confirmation",
        }
    }
}

/// Verifies `raw` (the decoded `SAMLResponse`) and returns the login it carries.
pub fn consume(
    raw: &str,
    idp_keys: &[VerifyKey],
    sp_keys: &[DecryptKey],
    expected: &Expected<'_>,
) -> Result<Login, ResponseError> {
    let unverified = xml::parse(raw)?;
    if !unverified.is(PROTOCOL, "Response") {
        return Err(shape(format!(
            "{} instead of a Response",
            unverified.qname()
        )));
    }
    // Cheap refusals before any cryptography: a plain assertion anywhere is the sign of a
    // wrapping attempt (ÉduConnect always encrypts).
    if contains(&unverified, ASSERTION, "Assertion") {
        return Err(shape("a plain Assertion".into()));
    }
    let response = dsig::verify(&unverified, idp_keys)?;
    let solicited = check_response(&response, expected)?;
    let encrypted = only_children(&response, &[(ASSERTION, "Issuer"), (PROTOCOL, "Status")])?;
    let assertion = decrypt::assertion(encrypted, sp_keys)?;
    let assertion = dsig::verify(&assertion, idp_keys)?;
    check_assertion(&assertion, expected, solicited)
}

fn shape(what: String) -> ResponseError {
    ResponseError::Shape(what)
}

fn contains(e: &Element, ns: &str, local: &str) -> bool {
    e.elements()
        .any(|c| c.is(ns, local) || contains(c, ns, local))
}

/// The Response's own checks; whether it answers a request of ours.
fn check_response(r: &Element, x: &Expected<'_>) -> Result<bool, ResponseError> {
    if r.attr("Version") != Some("2.0") {
        return Err(shape("Version is not 2.0".into()));
    }
    match r.attr("Destination") {
        Some(d) if d == x.acs_url => {}
        other => return Err(ResponseError::Destination(other.unwrap_or_default().into())),
    }
    issuer(r, x)?;
    let status = r
        .child(PROTOCOL, "Status")
        .and_then(|s| s.child(PROTOCOL, "StatusCode"))
        .ok_or_else(|| shape("no StatusCode".into()))?;
    let code = status.attr("Value").unwrap_or_default();
    if code != SUCCESS {
        let detail = status
            .child(PROTOCOL, "StatusCode")
            .and_then(|c| c.attr("Value"))
            .unwrap_or_default();
        return Err(ResponseError::Status(
            format!("{code} {detail}").trim().to_string(),
        ));
    }
    let issued = time::parse(r.attr("IssueInstant").unwrap_or_default())
        .ok_or_else(|| shape("IssueInstant".into()))?;
    fresh(issued, x)?;
    solicitation(r.attr("InResponseTo"), x)
}

/// `InResponseTo` against the pending request: present, it must be that request; absent,
/// the login is IdP-initiated.
fn solicitation(irt: Option<&str>, x: &Expected<'_>) -> Result<bool, ResponseError> {
    match (irt, x.in_response_to) {
        (Some(got), Some(pending)) if got == pending => Ok(true),
        (Some(_), _) => Err(ResponseError::InResponseTo),
        (None, _) if x.allow_unsolicited => Ok(false),
        (None, _) => Err(ResponseError::Unsolicited),
    }
}

fn issuer(e: &Element, x: &Expected<'_>) -> Result<(), ResponseError> {
    let issuer = e
        .child(ASSERTION, "Issuer")
        .map(Element::text)
        .ok_or_else(|| shape(format!("{} without Issuer", e.local)))?;
    if issuer.trim() == x.idp_entity_id {
        Ok(())
    } else {
        Err(ResponseError::Issuer(issuer))
    }
}

fn fresh(issued: i64, x: &Expected<'_>) -> Result<(), ResponseError> {
    if issued > x.now + x.skew {
        Err(ResponseError::Time("issued in the future"))
    } else if issued < x.now - x.max_age - x.skew {
        Err(ResponseError::Time("issued too long ago"))
    } else {
        Ok(())
    }
}

/// The one element child that is not among `allowed` (each at most once); text refused.
fn only_children<'e>(
    r: &'e Element,
    allowed: &[(&str, &str)],
) -> Result<&'e Element, ResponseError> {
    let mut rest = None;
    let mut seen = Vec::new();
    for c in r.elements() {
        if let Some(a) = allowed.iter().find(|(ns, l)| c.is(ns, l)) {
            if seen.contains(a) {
                return Err(shape(format!("two {}", c.qname())));
            }
            seen.push(*a);
        } else if rest.is_none() && c.is(ASSERTION, "EncryptedAssertion") {
            rest = Some(c);
        } else {
            return Err(shape(format!("unexpected {}", c.qname())));
        }
    }
    if r.has_text() {
        return Err(shape("text in the Response".into()));
    }
    rest.ok_or_else(|| shape("no EncryptedAssertion".into()))
}

fn check_assertion(a: &Element, x: &Expected<'_>, solicited: bool) -> Result<Login, ResponseError> {
    if a.attr("Version") != Some("2.0") {
        return Err(shape("assertion Version is not 2.0".into()));
    }
    issuer(a, x)?;
    let id = a.attr("ID").unwrap_or_default().to_string();
    let issued = time::parse(a.attr("IssueInstant").unwrap_or_default())
        .ok_or_else(|| shape("assertion IssueInstant".into()))?;
    fresh(issued, x)?;
    let subject = a.child(ASSERTION, "Subject").ok_or(ResponseError::Bearer)?;
    let name_id = subject
        .child(ASSERTION, "NameID")
        .ok_or_else(|| shape("no NameID".into()))?;
    let bearer_until = subject
        .children_named(ASSERTION, "SubjectConfirmation")
        .filter(|c| c.attr("Method") == Some(BEARER))
        .filter_map(|c| c.child(ASSERTION, "SubjectConfirmationData"))
        .find_map(|d| confirmation(d, x, solicited).transpose())
        .ok_or(ResponseError::Bearer)??;
    let conditions = a
        .child(ASSERTION, "Conditions")
        .ok_or_else(|| shape("no Conditions".into()))?;
    let until = window(conditions, x)?;
    let audiences: Vec<_> = conditions
        .children_named(ASSERTION, "AudienceRestriction")
        .collect();
    if audiences.is_empty()
        || !audiences.iter().all(|r| {
            r.children_named(ASSERTION, "Audience")
                .any(|au| au.text().trim() == x.sp_entity_id)
        })
    {
        return Err(ResponseError::Audience);
    }
    let authn = a
        .child(ASSERTION, "AuthnStatement")
        .ok_or_else(|| shape("no AuthnStatement".into()))?;
    Ok(Login {
        assertion_id: id,
        valid_until: until.min(bearer_until),
        name_id: name_id.text().trim().to_string(),
        name_id_format: name_id.attr("Format").map(str::to_string),
        session_index: authn.attr("SessionIndex").map(str::to_string),
        authn_context: authn
            .child(ASSERTION, "AuthnContext")
            .and_then(|c| c.child(ASSERTION, "AuthnContextClassRef"))
            .map(|r| r.text().trim().to_string()),
        attributes: attributes(a),
        solicited,
    })
}

/// A bearer confirmation's data: `Ok(Some(until))` when it holds, `Ok(None)` when it is not
/// for us (another recipient), an error when it is for us but wrong.
fn confirmation(
    d: &Element,
    x: &Expected<'_>,
    solicited: bool,
) -> Result<Option<i64>, ResponseError> {
    if d.attr("Recipient") != Some(x.acs_url) {
        return Ok(None);
    }
    if d.attr("NotBefore").is_some() {
        return Err(shape("NotBefore on a bearer confirmation".into()));
    }
    match (d.attr("InResponseTo"), solicited) {
        (Some(irt), true) if Some(irt) == x.in_response_to => {}
        (None, false) => {}
        _ => return Err(ResponseError::InResponseTo),
    }
    let until = time::parse(d.attr("NotOnOrAfter").unwrap_or_default())
        .ok_or_else(|| shape("confirmation NotOnOrAfter".into()))?;
    if until <= x.now - x.skew {
        return Err(ResponseError::Time("confirmation expired"));
    }
    Ok(Some(until))
}

/// `NotBefore`/`NotOnOrAfter` of the Conditions; returns the end.
fn window(c: &Element, x: &Expected<'_>) -> Result<i64, ResponseError> {
    if let Some(nb) = c.attr("NotBefore") {
        let nb = time::parse(nb).ok_or_else(|| shape("NotBefore".into()))?;
        if nb > x.now + x.skew {
            return Err(ResponseError::Time("not yet valid"));
        }
    }
    let until = time::parse(c.attr("NotOnOrAfter").unwrap_or_default())
        .ok_or_else(|| shape("Conditions without NotOnOrAfter".into()))?;
    if until <= x.now - x.skew {
        return Err(ResponseError::Time("expired"));
    }
    Ok(until)
}

fn attributes(a: &Element) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in a.children_named(ASSERTION, "AttributeStatement") {
        for attr in statement.children_named(ASSERTION, "Attribute") {
            let values: Vec<String> = attr
                .children_named(ASSERTION, "AttributeValue")
                .map(|v| {
                    v.children
                        .iter()
                        .filter_map(|n| match n {
                            Node::Text(t) => Some(t.as_str()),
                            Node::Element(_) => None,
                        })
                        .collect::<String>()
                        .trim()
                        .to_string()
                })
                .collect();
            for key in [attr.attr("Name"), attr.attr("FriendlyName")]
                .into_iter()
                .flatten()
            {
                out.entry(key.to_string())
                    .or_default()
                    .extend(values.iter().cloned());
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
