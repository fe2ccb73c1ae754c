//! Asks an académie's directory service whether the person's account is active before
//! letting the request in (`dispatch_http_call` to a named upstream, the request paused
//! meanwhile). An inactive account gets a French 403 page; a directory that fails or does
//! not answer in time gets 503 (or lets the request through with `fail_open`). See README.md.

use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, LogLevel};
use serde::Deserialize;
use vigie_plugin::JsonRoot;

/// The plugin's configuration (JSON).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Vigie upstream of the directory service.
    pub upstream: String,
    /// Host of the directory's requests (`:authority`).
    pub authority: String,
    /// Path asked, `{subject}` replaced by the person's id (percent-encoded).
    pub path: String,
    /// Milliseconds to wait for the directory (default 500).
    #[serde(default = "half_a_second")]
    pub timeout_ms: u64,
    /// Let requests through when the directory fails (default false: 503).
    #[serde(default)]
    pub fail_open: bool,
}

fn half_a_second() -> u64 {
    500
}

/// What the directory's answer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Active: let the request through.
    Active,
    /// Known and inactive (or unknown): 403.
    Inactive,
    /// No usable answer.
    Failed,
}

/// Both the template and the upstream are usable.
pub fn check(config: &Config) -> Result<(), String> {
    if !config.path.starts_with('/') || !config.path.contains("{subject}") {
        return Err(format!(
            "path {:?} must start with '/' and contain {{subject}}",
            config.path
        ));
    }
    if config.upstream.is_empty() || config.authority.is_empty() {
        return Err("upstream and authority are needed".into());
    }
    Ok(())
}

/// The directory path for `subject`, which is percent-encoded (anything but unreserved).
pub fn path_for(config: &Config, subject: &str) -> String {
    let mut encoded = String::new();
    for b in subject.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    config.path.replace("{subject}", &encoded)
}

/// The verdict of a directory answer: `status` (0 when the call failed) and JSON `body`
/// `{"active": true}`.
pub fn verdict(status: u16, body: &[u8]) -> Verdict {
    #[derive(Deserialize)]
    struct Answer {
        active: bool,
    }
    match status {
        200 => match serde_json::from_slice::<Answer>(body) {
            Ok(Answer { active: true }) => Verdict::Active,
            Ok(Answer { active: false }) => Verdict::Inactive,
            Err(_) => Verdict::Failed,
        },
        404 => Verdict::Inactive,
        _ => Verdict::Failed,
    }
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(JsonRoot::<Config>::new("directory-check", check, |config| Box::new(Filter { config })))
    });
}}

struct Filter {
    config: Rc<Config>,
}

impl Filter {
    fn finish(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Active => self.resume_http_request(),
            Verdict::Failed if self.config.fail_open => self.resume_http_request(),
            Verdict::Inactive => {
                let body = vigie_plugin::page(
                    "Compte inactif",
                    "Votre compte n'est pas actif dans l'annuaire de l'académie. Contactez votre établissement.",
                );
                vigie_plugin::refuse(self, 403, &[], &body);
            }
            Verdict::Failed => {
                let body = vigie_plugin::page(
                    "Service momentanément indisponible",
                    "L'annuaire de l'académie ne répond pas. Veuillez réessayer dans quelques instants.",
                );
                vigie_plugin::refuse(self, 503, &[("retry-after", "5")], &body);
            }
        }
    }
}

impl Context for Filter {
    fn on_http_call_response(
        &mut self,
        _token: u32,
        headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let status = if headers == 0 {
            0
        } else {
            self.get_http_call_response_header(":status")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        };
        let body = self
            .get_http_call_response_body(0, body_size)
            .unwrap_or_default();
        self.finish(verdict(status, &body));
    }
}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _headers: usize, _eos: bool) -> Action {
        let Some(who) = vigie_plugin::identity(self) else {
            let body = vigie_plugin::page("Accès refusé", vigie_plugin::MUST_LOG_IN);
            return vigie_plugin::refuse(self, 401, &[], &body);
        };
        let path = path_for(&self.config, &who.subject);
        let headers = vec![
            (":method", "GET"),
            (":path", path.as_str()),
            (":authority", self.config.authority.as_str()),
            ("accept", "application/json"),
        ];
        let timeout = Duration::from_millis(self.config.timeout_ms);
        match self.dispatch_http_call(&self.config.upstream, headers, None, vec![], timeout) {
            Ok(_) => Action::Pause,
            Err(_) if self.config.fail_open => Action::Continue,
            Err(_) => {
                self.finish(Verdict::Failed);
                Action::Pause
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        serde_json::from_str(
            r#"{"upstream": "annuaire", "authority": "annuaire.ac-rennes.fr", "path": "/comptes/{subject}/statut"}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_directory_is_asked_about_the_person() {
        let c = config();
        assert!(check(&c).is_ok());
        assert_eq!(c.timeout_ms, 500);
        assert_eq!(path_for(&c, "e1b2c3"), "/comptes/e1b2c3/statut");
        assert_eq!(
            path_for(&c, "a/b?c d"),
            "/comptes/a%2Fb%3Fc%20d/statut",
            "no path tricks"
        );
        assert!(
            check(&Config {
                path: "/comptes".into(),
                ..c.clone()
            })
            .is_err()
        );
        assert!(
            check(&Config {
                upstream: String::new(),
                ..c
            })
            .is_err()
        );
    }

    #[test]
    fn answers_are_read_strictly() {
        assert_eq!(verdict(200, br#"{"active": true}"#), Verdict::Active);
        assert_eq!(verdict(200, br#"{"active": false}"#), Verdict::Inactive);
        assert_eq!(verdict(404, b""), Verdict::Inactive);
        assert_eq!(verdict(200, b"<html>"), Verdict::Failed);
        assert_eq!(verdict(200, br#"{"actif": true}"#), Verdict::Failed);
        assert_eq!(verdict(500, br#"{"active": true}"#), Verdict::Failed);
        assert_eq!(verdict(0, b""), Verdict::Failed, "timeout or broken call");
    }
}
