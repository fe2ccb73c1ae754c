//! A route in maintenance during weekly windows, in Paris time ("from Friday 20:00 to Monday
//! 06:00"): 503, `Retry-After` until the window ends, and a French page. See README.md.

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
    /// Weekly windows, in Paris time.
    pub windows: Vec<Window>,
    /// What the page says (default: a generic maintenance message).
    #[serde(default)]
    pub message: Option<String>,
}

/// One weekly window: `"friday 20:00"` to `"monday 06:00"` (it may wrap over the week's end).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start, `"<day> HH:MM"`.
    pub from: String,
    /// End, `"<day> HH:MM"` (excluded).
    pub to: String,
}

/// Minutes since Monday 00:00 of `"monday 06:00"` (English or French day names).
pub fn week_minute(text: &str) -> Option<u32> {
    let (day, time) = text.trim().split_once(' ')?;
    let day = match day.to_ascii_lowercase().as_str() {
        "monday" | "lundi" => 0,
        "tuesday" | "mardi" => 1,
        "wednesday" | "mercredi" => 2,
        "thursday" | "jeudi" => 3,
        "friday" | "vendredi" => 4,
        "saturday" | "samedi" => 5,
        "sunday" | "dimanche" => 6,
        _ => return None,
    };
    let (h, m) = time.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(day * 1440 + h * 60 + m)
}

/// Whether a Paris week minute falls in a window, and how many minutes until it ends.
pub fn in_window(config: &Config, now: u32) -> Option<u32> {
    const WEEK: u32 = 7 * 1440;
    config.windows.iter().find_map(|w| {
        let (from, to) = (week_minute(&w.from)?, week_minute(&w.to)?);
        let length = (to + WEEK - from) % WEEK;
        let into = (now + WEEK - from) % WEEK;
        (into < length).then(|| length - into)
    })
}

/// The answer during maintenance: status, `Retry-After` seconds and the French page.
pub fn maintenance_page(config: &Config, minutes_left: u32) -> (u32, u64, String) {
    let message = config.message.as_deref().unwrap_or(
        "Ce service est en maintenance. Il sera de nouveau disponible à la fin de l'opération.",
    );
    let body = vigie_plugin::page("Service en maintenance", message);
    (503, u64::from(minutes_left) * 60, body)
}

/// Every window must read as `"<day> HH:MM"` at both ends.
pub fn check(config: &Config) -> Result<(), String> {
    match config
        .windows
        .iter()
        .find(|w| week_minute(&w.from).is_none() || week_minute(&w.to).is_none())
    {
        Some(w) => Err(format!(
            "window {w:?}: expected \"friday 20:00\" and \"monday 06:00\""
        )),
        None => Ok(()),
    }
}

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(JsonRoot::<Config>::new("maintenance-window", check, |config| Box::new(Filter { config })))
    });
}}

struct Filter {
    config: Rc<Config>,
}

impl Context for Filter {}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _headers: usize, _eos: bool) -> Action {
        let unix = self
            .get_current_time()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        let Some(left) = in_window(&self.config, paris::week_minute(unix)) else {
            return Action::Continue;
        };
        let (status, retry, body) = maintenance_page(&self.config, left);
        vigie_plugin::refuse(self, status, &[("retry-after", &retry.to_string())], &body)
    }
}

#[cfg(test)]
mod tests;
