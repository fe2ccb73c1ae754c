//! Redacts response bodies containing "secret", once the whole body is in.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root) });
}}

struct Root;

impl Context for Root {}

impl RootContext for Root {
    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Body))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Body;

impl Context for Body {}

impl HttpContext for Body {
    fn on_http_response_headers(&mut self, _headers: usize, _eos: bool) -> Action {
        // The body may change length: the host must not pass the upstream's on.
        self.set_http_response_header("content-length", None);
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        if let Some(body) = self.get_http_response_body(0, body_size)
            && body.windows(6).any(|w| w == b"secret")
        {
            let redacted = format!("Original message body ({body_size} bytes) redacted.\n");
            self.set_http_response_body(0, body_size, redacted.as_bytes());
        }
        Action::Continue
    }
}
