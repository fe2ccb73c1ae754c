//! Identity headers: their names (built once from the configured prefix) and the value of
//! each for an identity.

use super::Identity;
use crate::config::file::IdentityHeader;

/// Header names of each identity field, built once from the prefix.
pub(super) struct IdentityHeaderNames {
    pub(super) fields: Vec<(IdentityHeader, http::HeaderName)>,
    pub(super) assertion: http::HeaderName,
}

impl IdentityHeaderNames {
    pub(super) fn new(prefix: &str) -> IdentityHeaderNames {
        let name = |suffix: &str| {
            http::HeaderName::try_from(format!("{prefix}{suffix}"))
                .unwrap_or_else(|_| http::HeaderName::from_static("x-vigie-invalid"))
        };
        IdentityHeaderNames {
            fields: vec![
                (IdentityHeader::Subject, name("Subject")),
                (IdentityHeader::Issuer, name("Issuer")),
                (IdentityHeader::Profile, name("Profile")),
                (IdentityHeader::DisplayName, name("Name")),
                (IdentityHeader::SchoolIds, name("School-Ids")),
                (IdentityHeader::ChildrenIds, name("Children-Ids")),
                (IdentityHeader::Acr, name("Acr")),
                (IdentityHeader::IneHash, name("Ine-Hash")),
                (IdentityHeader::Level, name("Level")),
                (IdentityHeader::BirthDate, name("Birth-Date")),
            ],
            assertion: name("Assertion"),
        }
    }
}

/// The value of header `field` for `id`, if it has one.
pub(super) fn value(field: IdentityHeader, id: &Identity) -> Option<String> {
    match field {
        IdentityHeader::Subject => Some(id.subject.clone()),
        IdentityHeader::Issuer => Some(id.provider.to_string()),
        IdentityHeader::Profile => id.profile.clone(),
        IdentityHeader::DisplayName => id.display_name.as_deref().map(percent_encode),
        IdentityHeader::SchoolIds => (!id.school_ids.is_empty()).then(|| id.school_ids.join(",")),
        IdentityHeader::ChildrenIds => {
            (!id.children_ids.is_empty()).then(|| id.children_ids.join(","))
        }
        IdentityHeader::Acr => id.acr.clone(),
        IdentityHeader::IneHash => id.ine_hash.clone(),
        IdentityHeader::Level => id.level.clone(),
        IdentityHeader::BirthDate => id.birth_date.clone(),
    }
}

/// UTF-8 text as ASCII, `%XX` for bytes outside unreserved characters and spaces.
pub(super) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b" -._~'".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
