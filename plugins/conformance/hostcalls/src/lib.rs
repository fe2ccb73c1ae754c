//! Calls the host's functions as the request path says (`/t/<what>[/<argument>]`), so a host
//! test can check each one end to end — the model is Kong's `hostcalls` test filter:
//!
//! | path | does |
//! |---|---|
//! | `/t/headers` | answers 200 with the request headers, `name: value` per line |
//! | `/t/set-headers` | sets `x-set`, adds `x-added`, removes `x-remove`, sets `:path` to `/echoed`; goes on |
//! | `/t/respond/<status>` | answers `<status>`, header `x-local: yes`, body `local answer` |
//! | `/t/property/<a.b.c>` | answers the property (lists joined by `,`), or 404 `none` |
//! | `/t/shared` | shared data: set, compare-and-swap refused then accepted; answers the value |
//! | `/t/metrics` | defines, increments and reads a counter and a gauge, records a histogram |
//! | `/t/queue` | registers a queue, enqueues two items, dequeues three |
//! | `/t/body` | holds the request body until its end; answers its length and content |
//! | `/t/dispatch/<upstream>` | calls `GET /dispatched` on the upstream; answers its status and body |
//! | `/t/response-headers` | goes on; sets `x-response: changed` and status 201 on the response |
//! | `/t/close` | resets the request |
//! | `/t/trap` | panics (the instance traps) |
//! | `/t/bad` | calls host functions with invalid arguments; answers `name=status` per line |
//!
//! Every request logs `#ID <what>` when it starts and `#ID logged <what>` from `on_log`.

use std::time::Duration;

mod bad;

use bad::bad_calls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root) });
}}

struct Root;

impl Context for Root {}

impl RootContext for Root {
    fn create_http_context(&self, id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Calls {
            id,
            what: String::new(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Calls {
    id: u32,
    what: String,
}

impl Calls {
    fn answer(&self, status: u32, body: &str) -> Action {
        self.send_http_response(
            status,
            vec![("content-type", "text/plain")],
            Some(body.as_bytes()),
        );
        Action::Pause
    }
}

impl Context for Calls {
    fn on_http_call_response(
        &mut self,
        _token: u32,
        _headers: usize,
        size: usize,
        _trailers: usize,
    ) {
        let status = self
            .get_http_call_response_header(":status")
            .unwrap_or_else(|| "failed".into());
        let body = self
            .get_http_call_response_body(0, size)
            .unwrap_or_default();
        let text = format!("status: {status}\nbody: {}", String::from_utf8_lossy(&body));
        self.answer(200, &text);
    }
}

impl HttpContext for Calls {
    fn on_http_request_headers(&mut self, _headers: usize, eos: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        let rest = path.strip_prefix("/t/").unwrap_or("");
        let (what, arg) = rest.split_once('/').unwrap_or((rest, ""));
        self.what = what.to_string();
        self.log_call(&format!("#{} {what}", self.id));
        match what {
            "headers" => {
                let lines: Vec<String> = self
                    .get_http_request_headers()
                    .into_iter()
                    .map(|(k, v)| format!("{k}: {v}\n"))
                    .collect();
                self.answer(200, &lines.concat())
            }
            "set-headers" => {
                self.set_http_request_header("x-set", Some("1"));
                self.add_http_request_header("x-added", "a");
                self.set_http_request_header("x-remove", None);
                self.set_http_request_header(":path", Some("/echoed"));
                Action::Continue
            }
            "respond" => {
                let status = arg.parse().unwrap_or(500);
                self.send_http_response(status, vec![("x-local", "yes")], Some(b"local answer"));
                Action::Pause
            }
            "property" => {
                let path: Vec<&str> = arg.split('.').collect();
                match self.get_property(path) {
                    Some(v) if arg.ends_with("_ids") => self.answer(200, &list(&v).join(",")),
                    Some(v) => self.answer(200, &String::from_utf8_lossy(&v)),
                    None => self.answer(404, "none"),
                }
            }
            "shared" => self.shared(),
            "metrics" => self.metrics(),
            "queue" => self.queue(),
            "body" if eos => self.answer(200, "got 0 bytes: "),
            // Pausing here would stop the body callbacks too (rule 7): the body phase holds.
            "body" => Action::Continue,
            "dispatch" => {
                let headers = vec![
                    (":method", "GET"),
                    (":path", "/dispatched"),
                    (":authority", "backend"),
                ];
                match self.dispatch_http_call(arg, headers, None, vec![], Duration::from_secs(2)) {
                    Ok(_) => Action::Pause,
                    Err(status) => self.answer(500, &format!("dispatch refused: {status:?}")),
                }
            }
            "close" => {
                self.reset_http_request();
                Action::Pause
            }
            "trap" => panic!("asked to trap"),
            "bad" => {
                let lines: Vec<String> = bad_calls()
                    .iter()
                    .map(|(n, s)| format!("{n}={s}\n"))
                    .collect();
                self.answer(200, &lines.concat())
            }
            _ => Action::Continue,
        }
    }

    fn on_http_request_body(&mut self, size: usize, eos: bool) -> Action {
        if self.what != "body" {
            return Action::Continue;
        }
        if !eos {
            return Action::Pause;
        }
        let body = self.get_http_request_body(0, size).unwrap_or_default();
        self.answer(
            200,
            &format!("got {size} bytes: {}", String::from_utf8_lossy(&body)),
        )
    }

    fn on_log(&mut self) {
        self.log_call(&format!("#{} logged {}", self.id, self.what));
    }

    fn on_http_response_headers(&mut self, _headers: usize, _eos: bool) -> Action {
        if self.what == "response-headers" {
            self.set_http_response_header("x-response", Some("changed"));
            self.set_http_response_header(":status", Some("201"));
        }
        Action::Continue
    }
}

impl Calls {
    fn log_call(&self, message: &str) {
        proxy_wasm::hostcalls::log(LogLevel::Info, message).ok();
    }

    fn shared(&self) -> Action {
        let key = "hostcalls-key";
        let set = |v: &str, cas| self.set_shared_data(key, Some(v.as_bytes()), cas);
        if set("v1", None).is_err() {
            return self.answer(500, "set failed");
        }
        let (_, cas) = self.get_shared_data(key);
        let Some(cas) = cas else {
            return self.answer(500, "no cas");
        };
        if set("stale", Some(cas.wrapping_add(1000))).is_ok() {
            return self.answer(500, "a stale cas was accepted");
        }
        if set("v2", Some(cas)).is_err() {
            return self.answer(500, "the current cas was refused");
        }
        let (value, _) = self.get_shared_data(key);
        self.answer(200, &String::from_utf8_lossy(&value.unwrap_or_default()))
    }

    fn metrics(&self) -> Action {
        use proxy_wasm::hostcalls::{define_metric, get_metric, increment_metric, record_metric};
        let counter = define_metric(MetricType::Counter, "hostcalls_requests").unwrap_or(0);
        let gauge = define_metric(MetricType::Gauge, "hostcalls_level").unwrap_or(0);
        let histogram = define_metric(MetricType::Histogram, "hostcalls_sizes").unwrap_or(0);
        increment_metric(counter, 1).ok();
        record_metric(gauge, 42).ok();
        record_metric(histogram, 7).ok();
        let c = get_metric(counter).unwrap_or(0);
        let g = get_metric(gauge).unwrap_or(0);
        self.answer(200, &format!("counter={c} gauge={g}"))
    }

    fn queue(&self) -> Action {
        use proxy_wasm::hostcalls::{
            dequeue_shared_queue, enqueue_shared_queue, register_shared_queue,
        };
        let Ok(q) = register_shared_queue("hostcalls-queue") else {
            return self.answer(500, "register failed");
        };
        enqueue_shared_queue(q, Some(b"a")).ok();
        enqueue_shared_queue(q, Some(b"b")).ok();
        let items: Vec<String> = (0..3)
            .map(|_| match dequeue_shared_queue(q) {
                Ok(Some(v)) => String::from_utf8_lossy(&v).into_owned(),
                Ok(None) => "empty".into(),
                Err(e) => format!("{e:?}"),
            })
            .collect();
        self.answer(200, &items.join(","))
    }
}

/// The items of a list property (a proxy-wasm map whose keys are the items).
fn list(bytes: &[u8]) -> Vec<String> {
    let n = |i: usize| {
        bytes
            .get(i..i + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let count = n(0);
    let mut at = 4 + 8 * count;
    (0..count)
        .map(|i| {
            let (k, v) = (n(4 + 8 * i), n(8 + 8 * i));
            let item = bytes
                .get(at..at + k)
                .map(|s| String::from_utf8_lossy(s).into_owned());
            at += k + v + 2;
            item.unwrap_or_default()
        })
        .collect()
}
