//! A legal guardian opens only their own children's resources, a pupil only their own: the
//! pupil's id is the path segment after `path_prefix` (`/livret/eleves/{id}/...`). See
//! README.md.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, LogLevel};
use serde::Deserialize;
use vigie_plugin::{Identity, JsonRoot};

/// The plugin's configuration (JSON).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The prefix after which the pupil's id comes, such as `/livret/eleves/`.
    pub path_prefix: String,
}

/// What to do with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Let it through (including paths that name no pupil).
    Allow,
    /// Nobody is authenticated (401).
    Anonymous,
    /// Not this person's child, nor themselves (403).
    NotYours,
}

/// The pupil id `path` names, if it is under the prefix.
pub fn pupil_in<'p>(config: &Config, path: &'p str) -> Option<&'p str> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let rest = path.strip_prefix(config.path_prefix.as_str())?;
    let id = rest.split('/').next().unwrap_or("");
    (!id.is_empty()).then_some(id)
}

/// The decision for `who` asking for `path`.
pub fn decide(config: &Config, path: &str, who: Option<&Identity>) -> Decision {
    let Some(pupil) = pupil_in(config, path) else {
        return Decision::Allow;
    };
    let Some(who) = who else {
        return Decision::Anonymous;
    };
    let allowed = match who.profile.as_deref() {
        Some("responsable") => who.children_ids.iter().any(|c| c == pupil),
        Some("eleve") => who.subject == pupil,
        _ => false,
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::NotYours
    }
}

/// The status and French page of a refusal.
pub fn refusal_page(decision: Decision) -> (u32, String) {
    match decision {
        Decision::Allow => (200, String::new()),
        Decision::Anonymous => vigie_plugin::denied(401, vigie_plugin::MUST_LOG_IN),
        Decision::NotYours => vigie_plugin::denied(
            403,
            "Vous ne pouvez consulter que les informations de vos enfants, ou les vôtres.",
        ),
    }
}

/// A configuration must name a prefix that starts and ends with `/`.
pub fn check(config: &Config) -> Result<(), String> {
    let p = &config.path_prefix;
    if p.starts_with('/') && p.ends_with('/') {
        Ok(())
    } else {
        Err(format!("path_prefix {p:?} must start and end with '/'"))
    }
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(JsonRoot::<Config>::new("children-only", check, |config| Box::new(Filter { config })))
    });
}}

struct Filter {
    config: Rc<Config>,
}

impl Context for Filter {}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _headers: usize, _eos: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        let who = vigie_plugin::identity(self);
        match decide(&self.config, &path, who.as_ref()) {
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
        serde_json::from_str(r#"{"path_prefix": "/livret/eleves/"}"#).unwrap()
    }

    fn parent(children: &[&str]) -> Identity {
        Identity {
            subject: "parent-1".into(),
            profile: Some("responsable".into()),
            children_ids: children.iter().map(|c| c.to_string()).collect(),
            ..Identity::default()
        }
    }

    #[test]
    fn parents_see_their_children_and_pupils_themselves() {
        let c = config();
        let lea = parent(&["eleve-lea", "eleve-noah"]);
        assert_eq!(
            decide(&c, "/livret/eleves/eleve-lea/notes", Some(&lea)),
            Decision::Allow
        );
        assert_eq!(
            decide(&c, "/livret/eleves/eleve-noah?trimestre=1", Some(&lea)),
            Decision::Allow
        );
        assert_eq!(
            decide(&c, "/livret/eleves/eleve-zoe/notes", Some(&lea)),
            Decision::NotYours
        );
        assert_eq!(
            decide(&c, "/livret/eleves/eleve-le/notes", Some(&lea)),
            Decision::NotYours,
            "no prefix match"
        );
        let pupil = Identity {
            subject: "eleve-lea".into(),
            profile: Some("eleve".into()),
            ..Identity::default()
        };
        assert_eq!(
            decide(&c, "/livret/eleves/eleve-lea", Some(&pupil)),
            Decision::Allow
        );
        assert_eq!(
            decide(&c, "/livret/eleves/eleve-noah", Some(&pupil)),
            Decision::NotYours
        );
        let teacher = Identity {
            profile: Some("personnel".into()),
            ..pupil.clone()
        };
        assert_eq!(
            decide(&c, "/livret/eleves/eleve-lea", Some(&teacher)),
            Decision::NotYours
        );
        assert_eq!(
            decide(&c, "/livret/eleves/eleve-lea", None),
            Decision::Anonymous
        );
        // Paths that name no pupil are not this plugin's business.
        assert_eq!(decide(&c, "/livret/aide", None), Decision::Allow);
        assert_eq!(decide(&c, "/livret/eleves/", Some(&lea)), Decision::Allow);
        assert_eq!(refusal_page(Decision::NotYours).0, 403);
        assert!(check(&config()).is_ok());
        assert!(
            check(&Config {
                path_prefix: "/livret".into()
            })
            .is_err()
        );
    }
}
