//! Logs request and response headers, answers `/hello` itself, logs the end of each request.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root) });
}}

struct Root;

impl Context for Root {}

impl RootContext for Root {
    fn create_http_context(&self, id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Headers { id }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Headers {
    id: u32,
}

impl Headers {
    fn log_all(&self, pairs: Vec<(String, String)>) {
        for (name, value) in pairs {
            let _ = proxy_wasm::hostcalls::log(
                LogLevel::Info,
                &format!("#{} -> {name}: {value}", self.id),
            );
        }
    }
}

impl Context for Headers {}

impl HttpContext for Headers {
    fn on_http_request_headers(&mut self, _headers: usize, _eos: bool) -> Action {
        self.log_all(self.get_http_request_headers());
        if self.get_http_request_header(":path").as_deref() == Some("/hello") {
            self.send_http_response(
                200,
                vec![("hello", "World"), ("powered-by", "proxy-wasm")],
                Some(b"Hello, World!\n"),
            );
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _headers: usize, _eos: bool) -> Action {
        self.log_all(self.get_http_response_headers());
        Action::Continue
    }

    fn on_log(&mut self) {
        let _ = proxy_wasm::hostcalls::log(LogLevel::Info, &format!("#{} completed.", self.id));
    }
}
