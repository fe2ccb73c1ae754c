//! One request through a route's plugin chain (PROXY-WASM.md §1.4): the driver the proxy's
//! phases call, independent of Pingora so `vigie plugin test` and the tests run it alone.
//!
//! Request callbacks run in chain order, response callbacks in reverse (as Envoy). A plugin
//! that pauses holds the request: its callouts are sent, their answers delivered, and the
//! driver waits until the plugin resumes the stream, answers locally or closes it — or
//! `pause_timeout` passes. A pause in a body callback holds the body until the plugin
//! continues (or the body ends). Effects are read after each callback, never inside one
//! (rule 5); a local response ends the callback's phase whatever it returned (rule 6).
//!
//! A failing plugin fails the request per its fail mode: closed gives [`Verdict::Fail`]
//! (503), open skips the plugin for the rest of the request. Whatever happens, every context
//! created gets `on_done`, `on_log` and `on_delete` (in [`PluginRun::finish`], run by `Drop`
//! too), unless its instance failed.

mod filter;

use std::sync::Arc;

use filter::{Callback, Filter, Step};
use futures::FutureExt;

use super::facts::RequestFacts;
use super::runtime::Plugin;
use super::state::{HeaderList, LocalResponse};
use super::vm::Fault;

/// What the proxy does after a phase.
#[derive(Debug)]
pub enum Verdict {
    /// Go on.
    Continue,
    /// Answer with this instead (plugin at `index` of the chain).
    Respond(LocalResponse),
    /// Abort the request (`proxy_close_stream`).
    Close,
    /// A plugin failing closed: 503.
    Fail {
        /// The plugin's name.
        plugin: String,
        /// What went wrong.
        fault: Fault,
    },
    /// A paused plugin held more body than its limit.
    TooLarge,
}

/// What a body phase gives the proxy.
#[derive(Debug)]
pub enum Body {
    /// Send these bytes on (possibly none yet).
    Forward(Vec<u8>),
    /// Anything else, as for headers.
    Stop(Verdict),
}

/// The plugins of one request.
pub struct PluginRun {
    filters: Vec<Filter>,
    facts: Arc<RequestFacts>,
    /// Response callbacks run for filters `..responders` (all, or up to the one that answered).
    responders: usize,
    /// Whether a plugin changed the request head, and whose context holds the latest one.
    request_changed: bool,
    request_holder: Option<usize>,
    /// The same for the response head.
    response_changed: bool,
    response_holder: Option<usize>,
}

impl PluginRun {
    /// The run of `plugins` (in chain order) for the request `facts` describes.
    pub fn new(plugins: &[Arc<Plugin>], facts: RequestFacts) -> PluginRun {
        PluginRun {
            filters: plugins.iter().cloned().map(Filter::new).collect(),
            facts: Arc::new(facts),
            responders: plugins.len(),
            request_changed: false,
            request_holder: None,
            response_changed: false,
            response_holder: None,
        }
    }

    /// Runs the request-headers callbacks on `headers` (with pseudo-headers); what they
    /// changed is then in [`PluginRun::changed_request`]. The list is moved, not copied, into
    /// the last plugin's context (each plugin before it gets a copy).
    pub async fn request_headers(&mut self, headers: HeaderList, eos: bool) -> Verdict {
        let mut current = headers;
        for i in 0..self.filters.len() {
            if !self.filters[i].live() {
                continue;
            }
            let later = self.filters[i + 1..].iter().any(Filter::live);
            let given = if later {
                current.clone()
            } else {
                std::mem::take(&mut current)
            };
            let f = &mut self.filters[i];
            let step = match f.start(&self.facts, given) {
                Ok(()) => f.run(Callback::RequestHeaders(eos), |_, _| true).await,
                Err(step) => step,
            };
            let changed = f.with_stream(|s| std::mem::take(&mut s.request_changed));
            if changed.is_some() {
                self.request_holder = Some(i);
            }
            if changed == Some(true) {
                self.request_changed = true;
                if later {
                    current = f.with_stream(|s| s.request.clone()).unwrap_or_default();
                }
            }
            if let Step::Stop(verdict) = step {
                if matches!(verdict, Verdict::Respond(_)) {
                    self.responders = i + 1;
                }
                return verdict;
            }
        }
        Verdict::Continue
    }

    /// The request head as the plugins left it, if one of them changed it.
    pub fn changed_request(&mut self) -> Option<HeaderList> {
        if !std::mem::take(&mut self.request_changed) {
            return None;
        }
        self.filters[self.request_holder?].with_stream(|s| s.request.clone())
    }

    /// A chunk of the request body: what to send upstream now (plugins may hold it).
    pub async fn request_body(&mut self, chunk: Vec<u8>, eos: bool) -> Body {
        let mut data = chunk;
        for i in 0..self.filters.len() {
            let f = &mut self.filters[i];
            if !f.live() || f.vm.is_none() {
                continue;
            }
            let max = f.plugin.info.limits.max_body;
            let held = f.with_stream(|s| {
                s.request_body.append(&mut data);
                s.request_eos = eos;
                s.request_body.len()
            });
            if held.is_some_and(|n| n > max) {
                return Body::Stop(Verdict::TooLarge);
            }
            // Without eos or a callout to wait for, a pause means "show me more body".
            let step = f
                .run(Callback::RequestBody(eos), |_, callouts| eos || callouts)
                .await;
            match step {
                Step::Continue => {
                    data = f
                        .with_stream(|s| std::mem::take(&mut s.request_body))
                        .unwrap_or_default();
                }
                Step::Hold => return Body::Forward(Vec::new()),
                Step::Stop(verdict) => {
                    if matches!(verdict, Verdict::Respond(_)) {
                        self.responders = i + 1;
                    }
                    return Body::Stop(verdict);
                }
            }
        }
        Body::Forward(data)
    }

    /// Runs the response-headers callbacks (in reverse order) on `headers` (with
    /// `:status`); what they changed is then in [`PluginRun::changed_response`].
    pub async fn response_headers(&mut self, headers: HeaderList, eos: bool) -> Verdict {
        let mut current = headers;
        self.response_holder = None;
        for i in (0..self.responders).rev() {
            if !self.filters[i].live() || self.filters[i].vm.is_none() {
                continue;
            }
            let later = self.filters[..i].iter().any(|f| f.live() && f.vm.is_some());
            let given = if later {
                current.clone()
            } else {
                std::mem::take(&mut current)
            };
            let f = &mut self.filters[i];
            f.with_stream(|s| {
                s.response = given;
                s.response_changed = false;
            });
            let step = f.run(Callback::ResponseHeaders(eos), |_, _| true).await;
            let changed = f.with_stream(|s| std::mem::take(&mut s.response_changed));
            if changed.is_some() {
                self.response_holder = Some(i);
            }
            if changed == Some(true) {
                self.response_changed = true;
                if later {
                    current = f.with_stream(|s| s.response.clone()).unwrap_or_default();
                }
            }
            if let Step::Stop(verdict) = step {
                return verdict;
            }
        }
        Verdict::Continue
    }

    /// The response head as the plugins left it, if one of them changed it.
    pub fn changed_response(&mut self) -> Option<HeaderList> {
        if !std::mem::take(&mut self.response_changed) {
            return None;
        }
        self.response_head()
    }

    /// The response head as the last plugin to see it holds it (none if no plugin ran).
    pub fn response_head(&mut self) -> Option<HeaderList> {
        self.filters[self.response_holder?].with_stream(|s| s.response.clone())
    }

    /// A chunk of the response body: what to send the client now. Nothing waits here (the
    /// proxy's response body phase is synchronous): a pause holds the body until the end,
    /// where it is sent whatever the plugin says.
    pub fn response_body(&mut self, chunk: Vec<u8>, eos: bool) -> Body {
        let mut data = chunk;
        for i in (0..self.responders).rev() {
            let f = &mut self.filters[i];
            if !f.live() || f.vm.is_none() {
                continue;
            }
            let max = f.plugin.info.limits.max_body;
            let held = f.with_stream(|s| {
                s.response_body.append(&mut data);
                s.response_eos = eos;
                s.response_body.len()
            });
            if held.is_some_and(|n| n > max) {
                return Body::Stop(Verdict::TooLarge);
            }
            let step = f
                .run(Callback::ResponseBody(eos), |_, _| false)
                .now_or_never()
                .unwrap_or(Step::Continue);
            match step {
                Step::Continue => {}
                Step::Hold if eos => {
                    f.plugin.info.log(
                        super::abi::LogLevel::Debug,
                        "paused at the end of the response body: sent anyway",
                    );
                }
                Step::Hold => return Body::Forward(Vec::new()),
                Step::Stop(verdict) => return Body::Stop(verdict),
            }
            data = f
                .with_stream(|s| std::mem::take(&mut s.response_body))
                .unwrap_or_default();
        }
        Body::Forward(data)
    }

    /// Ends every context (`on_done`, `on_log`, `on_delete`); later calls do nothing.
    pub fn finish(&mut self) {
        for f in &mut self.filters {
            f.end();
        }
    }
}

impl Drop for PluginRun {
    fn drop(&mut self) {
        self.finish();
    }
}
