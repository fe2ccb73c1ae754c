//! [`Identity`]: the only thing authentication hands to the rest of the proxy, and the claim
//! mapping that builds it from a verified token.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::file::{ClaimsSection, ProfileMapping};

/// Who is asking, as established by a verified credential.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// Name of the identity provider in the config.
    pub provider: Arc<str>,
    /// Subject: stable id of the person at that provider.
    pub subject: String,
    /// Vigie profile (`eleve`, `responsable`, ...), when the provider gives one.
    pub profile: Option<String>,
    /// Display name, when given.
    pub display_name: Option<String>,
    /// School ids (UAI).
    pub school_ids: Vec<String>,
    /// Ids of the children of a legal guardian.
    pub children_ids: Vec<String>,
    /// Authentication context class (`eidas1`, ...).
    pub acr: Option<String>,
    /// Unix time after which the credential is no longer valid.
    pub expires_at: u64,
    /// Hash of a pupil's INE (ÉduConnect `FrEduCtEleveINEHash`).
    #[serde(default)]
    pub ine_hash: Option<String>,
    /// A pupil's school level code (ÉduConnect `FrEduCtEleveNiveau`).
    #[serde(default)]
    pub level: Option<String>,
    /// Birth date, `YYYY-MM-DD`.
    #[serde(default)]
    pub birth_date: Option<String>,
}

/// How a provider's claims become an [`Identity`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimMapping {
    subject: String,
    profile: Option<ProfileRule>,
    display_name: String,
    school_ids: Option<String>,
    children_ids: Option<String>,
    acr: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ProfileRule {
    claim: String,
    values: HashMap<String, String>,
}

/// ÉduConnect's `FrEduCtPersonAffiliation` values and the profiles they mean.
const EDUCONNECT: &[(&str, &str)] = &[
    ("eleve1d", "eleve"),
    ("eleve2d", "eleve"),
    ("resp1d", "responsable"),
    ("resp2d", "responsable"),
];

// === impl Identity ===

impl fmt::Debug for Identity {
    // Names and ids of pupils are personal data: only the technical fields are printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("provider", &self.provider)
            .field("profile", &self.profile)
            .field("acr", &self.acr)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Approximate memory held, for cache accounting.
    pub fn weight(&self) -> usize {
        let strings = [&self.subject]
            .into_iter()
            .chain(self.profile.iter())
            .chain(self.display_name.iter())
            .chain(self.acr.iter())
            .chain(self.ine_hash.iter())
            .chain(self.level.iter())
            .chain(self.birth_date.iter())
            .chain(self.school_ids.iter())
            .chain(self.children_ids.iter())
            .map(|s| s.len() + 24)
            .sum::<usize>();
        std::mem::size_of::<Identity>() + strings
    }
}

// === impl ClaimMapping ===

impl ClaimMapping {
    /// The mapping configured for a provider (defaults: `sub`, `name`, `acr`).
    pub(crate) fn from_file(section: &ClaimsSection) -> ClaimMapping {
        ClaimMapping {
            subject: section.subject.clone().unwrap_or_else(|| "sub".into()),
            profile: section.profile.as_ref().map(|p| {
                let mut values: HashMap<String, String> = HashMap::new();
                if p.mapping == Some(ProfileMapping::Educonnect) {
                    values.extend(
                        EDUCONNECT
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string())),
                    );
                }
                values.extend(p.values.iter().map(|(k, v)| (k.clone(), v.clone())));
                ProfileRule {
                    claim: p.claim.clone(),
                    values,
                }
            }),
            display_name: section
                .display_name
                .clone()
                .unwrap_or_else(|| "name".into()),
            school_ids: section.school_ids.clone(),
            children_ids: section.children_ids.clone(),
            acr: section.acr.clone().unwrap_or_else(|| "acr".into()),
        }
    }

    /// The mapping with every default (`sub`, `name`, `acr`, no profile claim).
    pub fn from_default_claims() -> ClaimMapping {
        ClaimMapping::from_file(&ClaimsSection::default())
    }

    /// The identity the verified `claims` describe; `None` without a subject or an `exp`.
    pub fn identity(&self, provider: &Arc<str>, claims: &Map<String, Value>) -> Option<Identity> {
        let subject = claims
            .get(&self.subject)?
            .as_str()
            .filter(|s| !s.is_empty())?
            .to_string();
        let expires_at = claims.get("exp")?.as_u64()?;
        Some(Identity {
            provider: provider.clone(),
            subject,
            profile: self.profile.as_ref().and_then(|rule| rule.profile(claims)),
            display_name: text(claims, &self.display_name),
            school_ids: self
                .school_ids
                .as_deref()
                .map_or_else(Vec::new, |c| list(claims, c)),
            children_ids: self
                .children_ids
                .as_deref()
                .map_or_else(Vec::new, |c| list(claims, c)),
            acr: text(claims, &self.acr),
            expires_at,
            ine_hash: None,
            level: None,
            birth_date: None,
        })
    }
}

// === impl ProfileRule ===

impl ProfileRule {
    /// The first value of the claim that maps to a profile; with no mapping configured the
    /// value itself.
    fn profile(&self, claims: &Map<String, Value>) -> Option<String> {
        list(claims, &self.claim).into_iter().find_map(|value| {
            if self.values.is_empty() {
                Some(value)
            } else {
                self.values.get(&value).cloned()
            }
        })
    }
}

fn text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims.get(name).and_then(Value::as_str).map(str::to_string)
}

/// A claim holding a string or a list of strings, as a list.
fn list(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::ProfileClaimSection;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn educonnect_affiliations_map_to_profiles() {
        let mapping = ClaimMapping::from_file(&ClaimsSection {
            subject: Some("FrEduCtId".into()),
            profile: Some(ProfileClaimSection {
                claim: "FrEduCtPersonAffiliation".into(),
                mapping: Some(ProfileMapping::Educonnect),
                values: Default::default(),
            }),
            school_ids: Some("FrEduCtEleveUAI".into()),
            ..Default::default()
        });
        let provider: Arc<str> = "educonnect".into();
        let c = claims(serde_json::json!({
            "FrEduCtId": "abc", "exp": 10, "FrEduCtPersonAffiliation": ["autre", "resp2d"],
            "FrEduCtEleveUAI": ["0254222C", "0440001A"], "acr": "eidas1"
        }));
        let id = mapping.identity(&provider, &c).expect("identity");
        assert_eq!(id.subject, "abc");
        assert_eq!(id.profile.as_deref(), Some("responsable"));
        assert_eq!(id.school_ids, ["0254222C", "0440001A"]);
        assert_eq!(id.acr.as_deref(), Some("eidas1"));
        let c = claims(
            serde_json::json!({"FrEduCtId": "x", "exp": 1, "FrEduCtPersonAffiliation": "eleve1d"}),
        );
        assert_eq!(
            mapping
                .identity(&provider, &c)
                .and_then(|i| i.profile)
                .as_deref(),
            Some("eleve")
        );
        let c = claims(
            serde_json::json!({"FrEduCtId": "x", "exp": 1, "FrEduCtPersonAffiliation": "enseignant"}),
        );
        assert_eq!(
            mapping.identity(&provider, &c).and_then(|i| i.profile),
            None,
            "unmapped values give no profile"
        );
        assert!(
            mapping
                .identity(&provider, &claims(serde_json::json!({"exp": 1})))
                .is_none(),
            "a subject is required"
        );
    }
}
