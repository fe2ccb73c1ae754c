//! What every policy plugin repeats: reading its JSON configuration, and answering a refused
//! request with a French page.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use serde::de::DeserializeOwned;

/// A root context for a plugin configured with JSON `C`: the configuration is parsed and
/// checked at `on_configure` (a bad one is logged with the plugin's name and refused, so the
/// host refuses the plugin), then each request gets the filter `filter` makes.
pub struct JsonRoot<C> {
    name: &'static str,
    check: fn(&C) -> Result<(), String>,
    filter: fn(Rc<C>) -> Box<dyn HttpContext>,
    config: Option<Rc<C>>,
}

impl<C: DeserializeOwned + 'static> JsonRoot<C> {
    /// A root for plugin `name`, checking configurations with `check`.
    pub fn new(
        name: &'static str,
        check: fn(&C) -> Result<(), String>,
        filter: fn(Rc<C>) -> Box<dyn HttpContext>,
    ) -> JsonRoot<C> {
        JsonRoot {
            name,
            check,
            filter,
            config: None,
        }
    }

    /// Parses and checks a configuration.
    pub fn read(&self, bytes: &[u8]) -> Result<C, String> {
        let config: C = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        (self.check)(&config)?;
        Ok(config)
    }
}

impl<C> Context for JsonRoot<C> {}

impl<C: DeserializeOwned + 'static> RootContext for JsonRoot<C> {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match self.read(&bytes) {
            Ok(config) => {
                self.config = Some(Rc::new(config));
                true
            }
            Err(e) => {
                let why = format!("{}: bad configuration: {e}", self.name);
                let _ = proxy_wasm::hostcalls::log(LogLevel::Error, &why);
                false
            }
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some((self.filter)(self.config.clone()?))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// What a refusal page says to someone not logged in.
pub const MUST_LOG_IN: &str = "Vous devez vous identifier pour accéder à ce service.";

/// A refusal: `status` and an "Accès refusé" page saying `message`.
pub fn denied(status: u32, message: &str) -> (u32, String) {
    (status, page("Accès refusé", message))
}

/// A small French HTML page with `title` and `message` (escaped).
pub fn page(title: &str, message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><main><h1>{t}</h1><p>{m}</p></main></body></html>",
        t = escape(title),
        m = escape(message)
    )
}

/// Answers the request with `status`, `headers` and the HTML `body`; what the callback returns.
pub fn refuse(ctx: &dyn HttpContext, status: u32, headers: &[(&str, &str)], body: &str) -> Action {
    let mut all = vec![
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "no-store"),
    ];
    all.extend_from_slice(headers);
    ctx.send_http_response(status, all, Some(body.as_bytes()));
    Action::Pause
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Conf {
        n: u32,
    }

    fn no_filter(_: Rc<Conf>) -> Box<dyn HttpContext> {
        unreachable!("not called by these tests")
    }

    #[test]
    fn configurations_are_parsed_then_checked() {
        let root = JsonRoot::<Conf>::new(
            "t",
            |c| {
                if c.n > 0 {
                    Ok(())
                } else {
                    Err("n must be above 0".into())
                }
            },
            no_filter,
        );
        assert_eq!(root.read(br#"{"n": 2}"#).map(|c| c.n), Ok(2));
        assert_eq!(
            root.read(br#"{"n": 0}"#).err().as_deref(),
            Some("n must be above 0")
        );
        assert!(root.read(b"{").is_err());
    }

    #[test]
    fn pages_are_french_and_escaped() {
        let p = page("Accès refusé", "Réservé <aux> élèves & \"amis\"");
        assert!(p.contains("lang=\"fr\""));
        assert!(p.contains("Réservé &lt;aux&gt; élèves &amp; &quot;amis&quot;"));
    }
}
