//! Adds `custom-header: <configuration>` to every response.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { value: Rc::from("") }) });
}}

struct Root {
    value: Rc<str>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        match self.get_plugin_configuration().map(String::from_utf8) {
            Some(Ok(value)) => {
                self.value = Rc::from(value);
                true
            }
            _ => false,
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Config {
            value: self.value.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Config {
    value: Rc<str>,
}

impl Context for Config {}

impl HttpContext for Config {
    fn on_http_response_headers(&mut self, _headers: usize, _eos: bool) -> Action {
        self.add_http_response_header("custom-header", &self.value);
        Action::Continue
    }
}
