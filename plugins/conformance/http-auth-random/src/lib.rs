//! Asks `httpbin` for one random byte; even lets the request through, odd refuses it.

use std::time::Duration;

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
        Some(Box::new(Auth))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Auth;

impl Context for Auth {
    fn on_http_call_response(
        &mut self,
        _token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let body = self
            .get_http_call_response_body(0, body_size)
            .unwrap_or_default();
        match body.first() {
            Some(byte) if byte % 2 == 0 => {
                let _ = proxy_wasm::hostcalls::log(LogLevel::Info, "Access granted.");
                self.resume_http_request();
            }
            _ => {
                let _ = proxy_wasm::hostcalls::log(LogLevel::Info, "Access forbidden.");
                self.send_http_response(
                    403,
                    vec![("powered-by", "proxy-wasm")],
                    Some(b"Access forbidden.\n"),
                );
            }
        }
    }
}

impl HttpContext for Auth {
    fn on_http_request_headers(&mut self, _headers: usize, _eos: bool) -> Action {
        let call = self.dispatch_http_call(
            "httpbin",
            vec![
                (":method", "GET"),
                (":path", "/bytes/1"),
                (":authority", "httpbin.org"),
            ],
            None,
            vec![],
            Duration::from_secs(5),
        );
        match call {
            Ok(_) => Action::Pause,
            Err(_) => {
                self.send_http_response(503, vec![], Some(b"No callout.\n"));
                Action::Pause
            }
        }
    }

    fn on_http_response_headers(&mut self, _headers: usize, _eos: bool) -> Action {
        self.set_http_response_header("powered-by", Some("proxy-wasm"));
        Action::Continue
    }
}
