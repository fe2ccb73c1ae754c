//! A service open only during its campaign (the bourse campaign, a registration period):
//! before the opening and after the closing, a French page says when, with 403 (and
//! `Retry-After` until the opening). Times in Paris time. See README.md.

use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, LogLevel};
use serde::Deserialize;
use vigie_plugin::{JsonRoot, paris};

/// The plugin's configuration (JSON).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The service's name on the page (`Bourses de lycée`).
    pub service: String,
    /// Opening, Paris time: `"2026-09-01 08:00"`.
    pub opens: String,
    /// Closing (excluded), Paris time.
    pub closes: String,
}

/// Where a moment falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// During the campaign.
    Open,
    /// Before it: seconds until the opening.
    NotYet(u64),
    /// After it.
    Closed,
}

/// Both times read and the campaign not empty.
pub fn check(config: &Config) -> Result<(), String> {
    let (opens, closes) =
        bounds(config).ok_or("opens and closes read as \"2026-09-01 08:00\" (Paris time)")?;
    if opens < closes {
        Ok(())
    } else {
        Err("the campaign closes before it opens".into())
    }
}

fn bounds(config: &Config) -> Option<(u64, u64)> {
    Some((
        paris::parse_local(&config.opens)?,
        paris::parse_local(&config.closes)?,
    ))
}

/// The decision at Unix second `now`.
pub fn decide(config: &Config, now: u64) -> Decision {
    let Some((opens, closes)) = bounds(config) else {
        return Decision::Closed;
    };
    if now < opens {
        Decision::NotYet(opens - now)
    } else if now < closes {
        Decision::Open
    } else {
        Decision::Closed
    }
}

/// `"2026-09-01 08:00"` as `le 1er septembre 2026 à 8 h 00`.
pub fn french_date(text: &str) -> String {
    const MONTHS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    match paris::fields(text) {
        Some((y, m, day, h, min)) => {
            let day = if day == 1 {
                "1er".to_string()
            } else {
                day.to_string()
            };
            format!("le {day} {} {y} à {h} h {min:02}", MONTHS[m as usize - 1])
        }
        None => text.to_string(),
    }
}

/// The refusal for a closed campaign: status, extra headers, page.
pub fn closed_page(config: &Config, decision: Decision) -> (u32, Option<u64>, String) {
    let (message, retry) = match decision {
        Decision::Open => return (200, None, String::new()),
        Decision::NotYet(secs) => (
            format!(
                "La campagne « {} » n'est pas encore ouverte. Elle ouvrira {}.",
                config.service,
                french_date(&config.opens)
            ),
            Some(secs),
        ),
        Decision::Closed => (
            format!(
                "La campagne « {} » est close depuis {}.",
                config.service,
                french_date(&config.closes)
            ),
            None,
        ),
    };
    (403, retry, vigie_plugin::page("Campagne fermée", &message))
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(JsonRoot::<Config>::new("campaign-window", check, |config| Box::new(Filter { config })))
    });
}}

struct Filter {
    config: Rc<Config>,
}

impl Context for Filter {}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _headers: usize, _eos: bool) -> Action {
        let now = self
            .get_current_time()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        let decision = decide(&self.config, now);
        if decision == Decision::Open {
            return Action::Continue;
        }
        let (status, retry, body) = closed_page(&self.config, decision);
        match retry {
            Some(secs) => {
                vigie_plugin::refuse(self, status, &[("retry-after", &secs.to_string())], &body)
            }
            None => vigie_plugin::refuse(self, status, &[], &body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        serde_json::from_str(
            r#"{"service": "Bourses de lycée", "opens": "2026-09-01 08:00", "closes": "2026-10-15 20:00"}"#,
        )
        .unwrap()
    }

    #[test]
    fn open_only_during_the_campaign() {
        let c = config();
        let opens = 1_788_242_400; // 2026-09-01 08:00 in Paris
        assert_eq!(decide(&c, opens - 60), Decision::NotYet(60));
        assert_eq!(decide(&c, opens), Decision::Open);
        let closes = paris::parse_local("2026-10-15 20:00").unwrap();
        assert_eq!(decide(&c, closes - 1), Decision::Open);
        assert_eq!(decide(&c, closes), Decision::Closed);
        assert!(check(&c).is_ok());
        let backwards = Config {
            opens: c.closes.clone(),
            closes: c.opens.clone(),
            ..c.clone()
        };
        assert!(check(&backwards).is_err());
        let unreadable = Config {
            opens: "1er septembre".into(),
            ..c
        };
        assert!(check(&unreadable).is_err());
    }

    #[test]
    fn the_closed_page_says_when_in_french() {
        let c = config();
        assert_eq!(
            french_date("2026-09-01 08:00"),
            "le 1er septembre 2026 à 8 h 00"
        );
        assert_eq!(
            french_date("2026-10-15 20:30"),
            "le 15 octobre 2026 à 20 h 30"
        );
        let (status, retry, body) = closed_page(&c, Decision::NotYet(3600));
        assert_eq!((status, retry), (403, Some(3600)));
        assert!(
            body.contains("ouvrira le 1er septembre 2026 à 8 h 00"),
            "{body}"
        );
        let (_, retry, body) = closed_page(&c, Decision::Closed);
        assert_eq!(retry, None);
        assert!(
            body.contains("close depuis le 15 octobre 2026 à 20 h 00"),
            "{body}"
        );
    }
}
