//! From a verified assertion's attributes to an [`Identity`], with ÉduConnect's names as
//! defaults (IDP.md §2.3) and the legacy `FrEduVecteur` (§2.4): `profil|nom|prénom|id
//! élève|UAI`, profiles 1–2 legal guardians (one vector per child), 3–4 pupils (one vector).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::response::Login;
use crate::auth::Identity;
use crate::auth::provider::is_acceptable_url;
use crate::config::file::SamlAttributesSection;

const EDU: &str = "urn:oid:1.3.6.1.4.1.20326.10.999.1.";

/// Which attribute holds what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMap {
    subject: String,
    profile: String,
    profile_values: BTreeMap<String, String>,
    given_name: String,
    family_name: String,
    school_ids: String,
    ine_hash: String,
    level: String,
    birth_date: String,
    logout_url: String,
    vector: String,
}

/// Why attributes make no identity. The text goes to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// No subject attribute (and no vector to take it from).
    #[error("no {0} attribute: the person cannot be identified")]
    NoSubject(String),
    /// Vectors that contradict each other or the rules.
    #[error("FrEduVecteur: {0}")]
    Vector(&'static str),
}

/// An identity, and where the IdP wants the browser sent at logout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// Who logged in.
    pub identity: Identity,
    /// `FrEduUrlRetour`, when given as an https URL.
    pub logout_url: Option<String>,
}

impl AttributeMap {
    /// The configured names, ÉduConnect's by default.
    pub fn from_file(s: &SamlAttributesSection) -> AttributeMap {
        let or = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_string());
        let mut profile_values: BTreeMap<String, String> = [
            ("eleve1d", "eleve"),
            ("eleve2d", "eleve"),
            ("resp1d", "responsable"),
            ("resp2d", "responsable"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        profile_values.extend(s.profile_values.clone());
        AttributeMap {
            subject: or(&s.subject, &format!("{EDU}57")),
            profile: or(&s.profile, &format!("{EDU}7")),
            profile_values,
            given_name: or(&s.given_name, "urn:oid:2.5.4.42"),
            family_name: or(&s.family_name, "urn:oid:2.5.4.4"),
            school_ids: or(&s.school_ids, &format!("{EDU}72")),
            ine_hash: or(&s.ine_hash, &format!("{EDU}64")),
            level: or(&s.level, &format!("{EDU}73")),
            birth_date: or(&s.birth_date, &format!("{EDU}67")),
            logout_url: or(&s.logout_url, &format!("{EDU}5")),
            vector: or(&s.vector, "FrEduVecteur"),
        }
    }

    /// The identity `login` describes, valid until `expires_at`.
    pub fn identity(
        &self,
        provider: &Arc<str>,
        login: &Login,
        expires_at: u64,
    ) -> Result<Mapped, MappingError> {
        let all = |name: &str| -> Vec<String> {
            login
                .attributes
                .get(name)
                .map(|v| v.iter().filter(|s| !s.is_empty()).cloned().collect())
                .unwrap_or_default()
        };
        let first = |name: &str| all(name).into_iter().next();
        let vectors = self.vectors(&all(&self.vector))?;
        let subject = first(&self.subject)
            .or_else(|| vectors.as_ref().and_then(|v| v.pupil_id.clone()))
            .ok_or_else(|| MappingError::NoSubject(self.subject.clone()))?;
        let profile = first(&self.profile)
            .and_then(|a| self.profile_values.get(&a).cloned())
            .or_else(|| vectors.as_ref().map(|v| v.profile.to_string()));
        let given =
            first(&self.given_name).or_else(|| vectors.as_ref().map(|v| v.first_name.clone()));
        let family = first(&self.family_name).or_else(|| vectors.as_ref().map(|v| v.name.clone()));
        let display_name = match (given, family) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (g, f) => g.or(f),
        }
        .filter(|n| !n.trim().is_empty());
        let mut school_ids = all(&self.school_ids);
        let mut children_ids = Vec::new();
        if let Some(v) = &vectors {
            school_ids.extend(v.schools.iter().cloned());
            children_ids = v.children.clone();
        }
        school_ids.sort();
        school_ids.dedup();
        Ok(Mapped {
            identity: Identity {
                provider: provider.clone(),
                subject,
                profile,
                display_name,
                school_ids,
                children_ids,
                acr: login.authn_context.clone(),
                expires_at,
                ine_hash: first(&self.ine_hash),
                level: first(&self.level),
                birth_date: first(&self.birth_date),
            },
            logout_url: first(&self.logout_url).filter(|u| is_acceptable_url(u)),
        })
    }

    fn vectors(&self, values: &[String]) -> Result<Option<Vectors>, MappingError> {
        if values.is_empty() {
            return Ok(None);
        }
        let mut out: Option<Vectors> = None;
        for value in values {
            let f: Vec<&str> = value.split('|').map(str::trim).collect();
            let [code, name, first_name, pupil, uai] = f.as_slice() else {
                return Err(MappingError::Vector("not five fields"));
            };
            let (profile, pupil_profile) = match *code {
                "1" | "2" => ("responsable", false),
                "3" | "4" => ("eleve", true),
                _ => return Err(MappingError::Vector("unknown profile code")),
            };
            let v = out.get_or_insert_with(|| Vectors {
                profile,
                name: name.to_string(),
                first_name: first_name.to_string(),
                pupil_id: None,
                children: Vec::new(),
                schools: Vec::new(),
            });
            if v.profile != profile {
                return Err(MappingError::Vector("mixed profiles"));
            }
            if pupil_profile {
                if v.pupil_id.is_some() {
                    return Err(MappingError::Vector("a pupil with several vectors"));
                }
                v.pupil_id = Some(pupil.to_string()).filter(|p| !p.is_empty());
                v.schools.push(uai.to_string());
            } else if !pupil.is_empty() {
                v.children.push(pupil.to_string());
            }
        }
        Ok(out)
    }
}

struct Vectors {
    profile: &'static str,
    name: String,
    first_name: String,
    pupil_id: Option<String>,
    children: Vec<String>,
    schools: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(attrs: &[(&str, &[&str])]) -> Login {
        Login {
            assertion_id: "_a".into(),
            valid_until: 0,
            name_id: "transient".into(),
            name_id_format: None,
            session_index: None,
            authn_context: Some(
                "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport".into(),
            ),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
            solicited: true,
        }
    }

    #[test]
    fn educonnect_attributes_make_the_identity() {
        let map = AttributeMap::from_file(&SamlAttributesSection::default());
        let p: Arc<str> = "educonnect".into();
        let pupil = login(&[
            (&format!("{EDU}57"), &["f00d"]),
            (&format!("{EDU}7"), &["eleve2d"]),
            (&format!("{EDU}72"), &["0254222C"]),
            (&format!("{EDU}64"), &["0123abcd"]),
            (&format!("{EDU}73"), &["2212"]),
            (&format!("{EDU}67"), &["2011-03-04"]),
            (
                &format!("{EDU}5"),
                &["https://educonnect.education.gouv.fr/Logout"],
            ),
            ("urn:oid:2.5.4.42", &["Léa"]),
            ("urn:oid:2.5.4.4", &["Martin"]),
        ]);
        let m = map.identity(&p, &pupil, 99).unwrap();
        let id = &m.identity;
        assert_eq!(
            (id.subject.as_str(), id.profile.as_deref()),
            ("f00d", Some("eleve"))
        );
        assert_eq!(id.display_name.as_deref(), Some("Léa Martin"));
        assert_eq!(id.school_ids, ["0254222C"]);
        assert_eq!(
            (
                id.ine_hash.as_deref(),
                id.level.as_deref(),
                id.birth_date.as_deref()
            ),
            (Some("0123abcd"), Some("2212"), Some("2011-03-04"))
        );
        assert_eq!(
            m.logout_url.as_deref(),
            Some("https://educonnect.education.gouv.fr/Logout")
        );
        assert_eq!(
            map.identity(&p, &login(&[(&format!("{EDU}7"), &["resp1d"])]), 9)
                .unwrap_err(),
            MappingError::NoSubject(format!("{EDU}57"))
        );
    }

    #[test]
    fn legacy_vectors_give_profile_and_children() {
        let map = AttributeMap::from_file(&SamlAttributesSection::default());
        let p: Arc<str> = "aten".into();
        let parent = login(&[
            (&format!("{EDU}57"), &["p1"]),
            (
                "FrEduVecteur",
                &[
                    "2|Dupont|Marie|E100|0350001A",
                    "2|Dupont|Marie|E200|0350002B",
                ],
            ),
        ]);
        let id = map.identity(&p, &parent, 9).unwrap().identity;
        assert_eq!(id.profile.as_deref(), Some("responsable"));
        assert_eq!(id.children_ids, ["E100", "E200"]);
        assert_eq!(id.display_name.as_deref(), Some("Marie Dupont"));
        let pupil = login(&[("FrEduVecteur", &["4|Petit|Jean|E300|0350003C"])]);
        let id = map.identity(&p, &pupil, 9).unwrap().identity;
        assert_eq!(
            (id.subject.as_str(), id.profile.as_deref()),
            ("E300", Some("eleve"))
        );
        assert_eq!(id.school_ids, ["0350003C"]);
        for (bad, why) in [
            (
                &["4|a|b|E1|U1", "4|a|b|E2|U2"][..],
                "a pupil with several vectors",
            ),
            (&["2|a|b|E1|U1", "4|a|b|E2|U2"][..], "mixed profiles"),
            (&["9|a|b|E1|U1"][..], "unknown profile code"),
            (&["2|a|b"][..], "not five fields"),
        ] {
            assert_eq!(
                map.identity(&p, &login(&[("FrEduVecteur", bad)]), 9)
                    .unwrap_err(),
                MappingError::Vector(why)
            );
        }
    }
}
