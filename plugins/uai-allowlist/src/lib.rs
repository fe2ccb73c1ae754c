//! Only the pupils of the listed schools (UAI) may enter; other profiles pass unless listed
//! too. Anonymous requests are refused (the route should be protected). See README.md.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, LogLevel};
use serde::Deserialize;
use vigie_plugin::{Identity, JsonRoot};

/// The plugin's configuration (JSON).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The schools whose people may enter.
    pub uai: Vec<String>,
    /// The profiles held to the list (default: pupils only).
    #[serde(default = "pupils")]
    pub profiles: Vec<String>,
}

fn pupils() -> Vec<String> {
    vec!["eleve".into()]
}

/// What to do with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Let it through.
    Allow,
    /// Refuse it: nobody is authenticated.
    Anonymous,
    /// Refuse it: not of a listed school.
    OtherSchool,
}

/// The decision for `who` under `config`.
pub fn decide(config: &Config, who: Option<&Identity>) -> Decision {
    let Some(who) = who else {
        return Decision::Anonymous;
    };
    let held = who
        .profile
        .as_ref()
        .is_some_and(|p| config.profiles.iter().any(|q| q == p));
    if !held || who.school_ids.iter().any(|u| config.uai.contains(u)) {
        Decision::Allow
    } else {
        Decision::OtherSchool
    }
}

/// The status and French page of a refusal.
pub fn refusal_page(decision: Decision) -> (u32, String) {
    match decision {
        Decision::Allow => (200, String::new()),
        Decision::Anonymous => vigie_plugin::denied(401, vigie_plugin::MUST_LOG_IN),
        Decision::OtherSchool => vigie_plugin::denied(
            403,
            "Ce service est réservé aux élèves des établissements participants.",
        ),
    }
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(JsonRoot::<Config>::new("uai-allowlist", |_| Ok(()), |config| Box::new(Filter { config })))
    });
}}

struct Filter {
    config: Rc<Config>,
}

impl Context for Filter {}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _headers: usize, _eos: bool) -> Action {
        let who = vigie_plugin::identity(self);
        match decide(&self.config, who.as_ref()) {
            Decision::Allow => Action::Continue,
            refused => {
                let (status, body) = refusal_page(refused);
                vigie_plugin::refuse(self, status, &[], &body)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        serde_json::from_str(r#"{"uai": ["0350001A", "0350002B"]}"#).unwrap()
    }

    fn person(profile: &str, schools: &[&str]) -> Identity {
        Identity {
            subject: "s".into(),
            profile: Some(profile.into()),
            school_ids: schools.iter().map(|s| s.to_string()).collect(),
            ..Identity::default()
        }
    }

    #[test]
    fn pupils_of_listed_schools_only() {
        let c = config();
        assert_eq!(
            decide(&c, Some(&person("eleve", &["0350001A"]))),
            Decision::Allow
        );
        assert_eq!(
            decide(&c, Some(&person("eleve", &["0290009Z", "0350002B"]))),
            Decision::Allow
        );
        assert_eq!(
            decide(&c, Some(&person("eleve", &["0290009Z"]))),
            Decision::OtherSchool
        );
        assert_eq!(
            decide(&c, Some(&person("eleve", &[]))),
            Decision::OtherSchool
        );
        assert_eq!(
            decide(&c, Some(&person("responsable", &[]))),
            Decision::Allow,
            "not held"
        );
        assert_eq!(decide(&c, None), Decision::Anonymous);
        let strict: Config =
            serde_json::from_str(r#"{"uai": ["0350001A"], "profiles": ["eleve", "responsable"]}"#)
                .unwrap();
        assert_eq!(
            decide(&strict, Some(&person("responsable", &[]))),
            Decision::OtherSchool
        );
        assert!(
            serde_json::from_str::<Config>(r#"{"uais": []}"#).is_err(),
            "typos are refused"
        );
    }

    #[test]
    fn refusals_are_french_pages() {
        let (status, body) = refusal_page(Decision::OtherSchool);
        assert_eq!(status, 403);
        assert!(body.contains("lang=\"fr\"") && body.contains("réservé aux élèves"));
        assert_eq!(refusal_page(Decision::Anonymous).0, 401);
    }
}
