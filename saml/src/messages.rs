//! The protocol messages Vigie writes (AuthnRequest, LogoutRequest, LogoutResponse) and the
//! logout messages it reads. Read messages arrive over the HTTP-Redirect binding, whose
//! signature covers the whole message (`redirect.rs`), so they are read after it held.

use super::ns::{ASSERTION, PROTOCOL};
use super::time;
use super::xml::{self, Element, XmlError, escape};

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// A fresh message ID: `_` and 128 random bits in hex (an xs:ID must not start with a digit).
pub fn new_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("_{hex}")
}

fn head(element: &str, id: &str, now: i64, destination: &str, extra: &str) -> String {
    format!(
        "<samlp:{element} xmlns:samlp=\"{PROTOCOL}\" xmlns:saml=\"{ASSERTION}\" ID=\"{id}\" \
         Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\"{extra}>",
        time::format(now),
        escape(destination)
    )
}

/// An AuthnRequest from `sp` to the IdP's `sso_url`, answered at `acs_url` (HTTP-POST).
pub fn authn_request(id: &str, now: i64, sp: &str, sso_url: &str, acs_url: &str) -> String {
    let extra = format!(
        " AssertionConsumerServiceURL=\"{}\" ProtocolBinding=\"{POST}\"",
        escape(acs_url)
    );
    format!(
        "{}<saml:Issuer>{}</saml:Issuer><samlp:NameIDPolicy Format=\"{TRANSIENT}\" \
         AllowCreate=\"true\"/></samlp:AuthnRequest>",
        head("AuthnRequest", id, now, sso_url, &extra),
        escape(sp)
    )
}

/// Who a logout is about, as the assertion named them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subject {
    /// The NameID.
    pub name_id: String,
    /// Its `Format`.
    pub format: Option<String>,
    /// The IdP's session index.
    pub session_index: Option<String>,
}

/// A LogoutRequest from `sp` to the IdP's `slo_url` for `subject`.
pub fn logout_request(id: &str, now: i64, sp: &str, slo_url: &str, subject: &Subject) -> String {
    let format = subject
        .format
        .as_deref()
        .map(|f| format!(" Format=\"{}\"", escape(f)))
        .unwrap_or_default();
    let index = subject
        .session_index
        .as_deref()
        .map(|i| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(i)))
        .unwrap_or_default();
    format!(
        "{}<saml:Issuer>{}</saml:Issuer><saml:NameID{format}>{}</saml:NameID>{index}</samlp:LogoutRequest>",
        head("LogoutRequest", id, now, slo_url, ""),
        escape(sp),
        escape(&subject.name_id)
    )
}

/// A successful LogoutResponse to the IdP's request `in_response_to`.
pub fn logout_response(
    id: &str,
    now: i64,
    sp: &str,
    slo_url: &str,
    in_response_to: &str,
) -> String {
    let extra = format!(" InResponseTo=\"{}\"", escape(in_response_to));
    format!(
        "{}<saml:Issuer>{}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"{SUCCESS}\"/>\
         </samlp:Status></samlp:LogoutResponse>",
        head("LogoutResponse", id, now, slo_url, &extra),
        escape(sp)
    )
}

/// Why a logout message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not readable XML.
    #[error("{0}")]
    Xml(#[from] XmlError),
    /// Not the message expected, or not from the IdP to us.
    #[error("{0}")]
    Invalid(String),
}

/// A LogoutRequest sent by the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpLogoutRequest {
    /// Its ID (our response's InResponseTo).
    pub id: String,
    /// Whose sessions end.
    pub name_id: String,
    /// Which IdP sessions, when given.
    pub session_indexes: Vec<String>,
}

/// What a message read from the IdP must match.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The IdP's entityID.
    pub idp: &'a str,
    /// Our SLO URL (the Destination, when present).
    pub slo_url: &'a str,
    /// Now, Unix seconds.
    pub now: i64,
    /// Oldest IssueInstant accepted (seconds), skew included.
    pub max_age: i64,
}

fn common<'e>(root: &'e Element, local: &str, from: &Origin<'_>) -> Result<&'e str, MessageError> {
    let bad = |what: &str| MessageError::Invalid(what.to_string());
    if !root.is(PROTOCOL, local) {
        return Err(bad(&format!("{} instead of {local}", root.qname())));
    }
    if root.attr("Version") != Some("2.0") {
        return Err(bad("Version is not 2.0"));
    }
    if root.attr("Destination").is_some_and(|d| d != from.slo_url) {
        return Err(bad("Destination is not our SLO URL"));
    }
    let issuer = root.child(ASSERTION, "Issuer").map(Element::text);
    if issuer.as_deref().map(str::trim) != Some(from.idp) {
        return Err(bad("Issuer is not the IdP"));
    }
    let issued = root
        .attr("IssueInstant")
        .and_then(time::parse)
        .ok_or_else(|| bad("IssueInstant"))?;
    if (from.now - issued).abs() > from.max_age {
        return Err(bad("IssueInstant too far from now"));
    }
    root.attr("ID")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| bad("no ID"))
}

/// Reads an IdP-sent LogoutRequest.
pub fn read_logout_request(
    xml_text: &str,
    from: &Origin<'_>,
) -> Result<IdpLogoutRequest, MessageError> {
    let root = xml::parse(xml_text)?;
    let id = common(&root, "LogoutRequest", from)?.to_string();
    if let Some(t) = root.attr("NotOnOrAfter").and_then(time::parse)
        && t <= from.now
    {
        return Err(MessageError::Invalid("the request expired".into()));
    }
    let name_id = root
        .child(ASSERTION, "NameID")
        .map(|n| n.text().trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            MessageError::Invalid("no NameID (an encrypted one is not accepted)".into())
        })?;
    Ok(IdpLogoutRequest {
        id,
        name_id,
        session_indexes: root
            .children_named(PROTOCOL, "SessionIndex")
            .map(|s| s.text().trim().to_string())
            .collect(),
    })
}

/// Reads the IdP's LogoutResponse to our request `ours`; whether it reports success.
pub fn read_logout_response(
    xml_text: &str,
    ours: &str,
    from: &Origin<'_>,
) -> Result<bool, MessageError> {
    let root = xml::parse(xml_text)?;
    common(&root, "LogoutResponse", from)?;
    if root.attr("InResponseTo") != Some(ours) {
        return Err(MessageError::Invalid("answers another logout".into()));
    }
    Ok(root
        .child(PROTOCOL, "Status")
        .and_then(|s| s.child(PROTOCOL, "StatusCode"))
        .and_then(|c| c.attr("Value"))
        == Some(SUCCESS))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: Origin<'static> = Origin {
        idp: "https://idp.test",
        slo_url: "https://sp.test/slo",
        now: 1_800_000_000,
        max_age: 300,
    };

    #[test]
    fn written_messages_parse_and_logout_messages_are_checked() {
        let id = new_id();
        assert!(id.starts_with('_') && id.len() == 33);
        let req = authn_request(
            &id,
            FROM.now,
            "https://sp.test",
            "https://idp.test/sso",
            "https://sp.test/acs?a&b",
        );
        let parsed = xml::parse(&req).unwrap();
        assert!(parsed.is(PROTOCOL, "AuthnRequest"));
        assert_eq!(
            parsed.attr("AssertionConsumerServiceURL"),
            Some("https://sp.test/acs?a&b")
        );

        // An IdP's LogoutRequest, written like ours but from the IdP.
        let subject = Subject {
            name_id: "AAdz<x>".into(),
            format: Some(TRANSIENT.into()),
            session_index: Some("_s1".into()),
        };
        let from_idp = logout_request("_l1", FROM.now, FROM.idp, FROM.slo_url, &subject);
        let got = read_logout_request(&from_idp, &FROM).unwrap();
        assert_eq!(got.name_id, "AAdz<x>");
        assert_eq!(got.session_indexes, ["_s1"]);
        for (what, from) in [
            (
                "another IdP",
                Origin {
                    idp: "https://evil.test",
                    ..FROM
                },
            ),
            (
                "another SP",
                Origin {
                    slo_url: "https://other.test/slo",
                    ..FROM
                },
            ),
            (
                "stale",
                Origin {
                    now: FROM.now + 3600,
                    ..FROM
                },
            ),
        ] {
            assert!(read_logout_request(&from_idp, &from).is_err(), "{what}");
        }
        let answer = logout_response("_r1", FROM.now, FROM.idp, FROM.slo_url, "_mine");
        assert!(read_logout_response(&answer, "_mine", &FROM).unwrap());
        assert!(read_logout_response(&answer, "_other", &FROM).is_err());
    }
}
