//! Logs a greeting at VM start, then on each 5-second tick the time and a random number.

use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::traits::{Context, RootContext};
use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Hello) });
}}

struct Hello;

impl Context for Hello {}

impl RootContext for Hello {
    fn on_vm_start(&mut self, _size: usize) -> bool {
        proxy_wasm::hostcalls::log(LogLevel::Info, "Hello, World!").is_ok()
    }

    fn on_configure(&mut self, _size: usize) -> bool {
        self.set_tick_period(Duration::from_secs(5));
        true
    }

    fn on_tick(&mut self) {
        let secs = self
            .get_current_time()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let lucky = {
            use std::hash::{BuildHasher, Hasher};
            // std seeds RandomState from the host's randomness (WASI random_get).
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u8(0);
            h.finish() % 100
        };
        let _ = proxy_wasm::hostcalls::log(
            LogLevel::Info,
            &format!("It's {secs} seconds since the epoch, your lucky number is {lucky}."),
        );
    }
}
