//! Who may enter a route: `public`, or authenticated requests with an accepted credential,
//! an allowed profile and a strong enough `acr`.

use std::sync::Arc;

use super::Identity;
use crate::config::Problems;
use crate::config::file::{AccessSection, IdentityHeader, ProtectedSection};

/// A route's access rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// Authenticated requests only.
    Protected(Arc<Protected>),
}

/// The rule of a protected route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protected {
    /// Identity providers whose bearer tokens are accepted.
    pub bearer: Vec<String>,
    /// Whether a login session is accepted.
    pub session: bool,
    /// Profiles allowed; empty means any.
    pub profiles: Vec<String>,
    /// Rank of the weakest `acr` accepted in `identity.acr_order`.
    pub min_acr: Option<usize>,
    /// The acceptable `acr` values, space-separated, for RFC 9470's `acr_values`.
    pub acceptable_acr: Arc<str>,
    /// Identity headers sent upstream.
    pub headers: Vec<IdentityHeader>,
    /// Whether the signed assertion is sent upstream.
    pub assertion: bool,
}

/// Why an authenticated request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The profile is not allowed here (403).
    Profile,
    /// The authentication is not strong enough (401, step up).
    Acr {
        /// What would be accepted.
        acceptable: Arc<str>,
    },
}

/// Every identity header, the default of a protected route.
const ALL_HEADERS: &[IdentityHeader] = &[
    IdentityHeader::Subject,
    IdentityHeader::Issuer,
    IdentityHeader::Profile,
    IdentityHeader::DisplayName,
    IdentityHeader::SchoolIds,
    IdentityHeader::ChildrenIds,
    IdentityHeader::Acr,
    IdentityHeader::IneHash,
    IdentityHeader::Level,
    IdentityHeader::BirthDate,
];

// === impl Access ===

impl Access {
    /// Validates a route's `access:` against the configured providers and `acr` order.
    pub(crate) fn from_file(
        section: &serde_saphyr::Spanned<AccessSection>,
        path: &str,
        providers: &[&str],
        acr_order: &[String],
        assertion_configured: bool,
        login_configured: bool,
        problems: &mut Problems,
    ) -> Access {
        let p: &ProtectedSection = match &section.value {
            AccessSection::Public => return Access::Public,
            AccessSection::Protected(p) => p,
        };
        if p.bearer.is_empty() && !p.session {
            problems.report(
                format!("{path}.access"),
                &section.referenced,
                "a protected route needs at least one credential, e.g. `session: true` or `bearer: [franceconnect]` (or `access: public`)",
            );
        }
        if p.session && !login_configured {
            problems.report(
                format!("{path}.access.session"),
                &section.referenced,
                "sessions come from logins: configure `login:` on an oidc identity provider, or a saml one",
            );
        }
        for (i, name) in p.bearer.iter().enumerate() {
            if !providers.contains(&name.value.as_str()) {
                problems.report(
                    format!("{path}.access.bearer[{i}]"),
                    &name.referenced,
                    format!(
                        "no identity provider named {:?}; known: {}",
                        name.value,
                        providers.join(", ")
                    ),
                );
            }
        }
        let min_acr = p.min_acr.as_ref().and_then(|acr| {
            let rank = acr_order.iter().position(|a| *a == acr.value);
            if rank.is_none() {
                problems.report(
                    format!("{path}.access.min_acr"),
                    &acr.referenced,
                    format!(
                        "{:?} is not in identity.acr_order ({})",
                        acr.value,
                        acr_order.join(" < ")
                    ),
                );
            }
            rank
        });
        let acceptable_acr = min_acr.map_or_else(String::new, |rank| acr_order[rank..].join(" "));
        Access::Protected(Arc::new(Protected {
            bearer: p.bearer.iter().map(|b| b.value.clone()).collect(),
            session: p.session,
            profiles: p.profiles.clone(),
            min_acr,
            acceptable_acr: acceptable_acr.into(),
            headers: p
                .identity_headers
                .clone()
                .unwrap_or_else(|| ALL_HEADERS.to_vec()),
            assertion: p.assertion.unwrap_or(assertion_configured),
        }))
    }
}

// === impl Protected ===

impl Protected {
    /// Whether `identity` may enter, given the `acr` order.
    pub fn admits(&self, identity: &Identity, acr_order: &[String]) -> Result<(), Denial> {
        if !self.profiles.is_empty()
            && !identity
                .profile
                .as_ref()
                .is_some_and(|p| self.profiles.contains(p))
        {
            return Err(Denial::Profile);
        }
        if let Some(min) = self.min_acr {
            let rank = identity
                .acr
                .as_ref()
                .and_then(|acr| acr_order.iter().position(|a| a == acr));
            if rank.is_none_or(|r| r < min) {
                return Err(Denial::Acr {
                    acceptable: self.acceptable_acr.clone(),
                });
            }
        }
        Ok(())
    }
}
