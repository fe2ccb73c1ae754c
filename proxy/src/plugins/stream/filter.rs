//! One plugin of a request's chain: its context, its callbacks, its pauses.

use std::sync::Arc;

use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::Verdict;
use crate::plugins::facts::RequestFacts;
use crate::plugins::runtime::{FailMode, Plugin};
use crate::plugins::state::{Actions, HeaderList, StreamPhase, StreamState};
use crate::plugins::ticks::{InFlight, send_outgoing};
use crate::plugins::vm::{Fault, Vm};

pub(super) enum Life {
    /// Not started yet.
    New,
    /// Has a context.
    Live,
    /// Skipped for the rest of the request (fail open, pause timeout); still ended.
    Skipped,
    /// Its instance failed: nothing more is called.
    Dead,
    /// Ended (`on_done`, `on_log`, `on_delete` ran).
    Ended,
}

pub(super) struct Filter {
    pub(super) plugin: Arc<Plugin>,
    pub(super) vm: Option<Arc<Mutex<Vm>>>,
    ctx: u32,
    /// The stream's wake-up, once it has a context.
    wake: Option<Arc<Notify>>,
    /// Callouts on their way (allocated with the first one).
    inflight: Option<InFlight>,
    pub(super) life: Life,
}

/// What a phase callback is, for the driver.
#[derive(Clone, Copy)]
pub(super) enum Callback {
    RequestHeaders(bool),
    RequestBody(bool),
    ResponseHeaders(bool),
    ResponseBody(bool),
}

impl Callback {
    fn phase(self) -> StreamPhase {
        match self {
            Callback::RequestHeaders(_) => StreamPhase::RequestHeaders,
            Callback::RequestBody(_) => StreamPhase::RequestBody,
            Callback::ResponseHeaders(_) => StreamPhase::ResponseHeaders,
            Callback::ResponseBody(_) => StreamPhase::ResponseBody,
        }
    }

    fn resumed(self, actions: &mut Actions) -> bool {
        let flag = match self {
            Callback::RequestHeaders(_) | Callback::RequestBody(_) => &mut actions.resume_request,
            _ => &mut actions.resume_response,
        };
        std::mem::take(flag)
    }
}

/// How one callback ended.
pub(super) enum Step {
    Continue,
    Hold,
    Stop(Verdict),
}

impl Filter {
    /// Whether callbacks still run.
    pub(super) fn live(&self) -> bool {
        matches!(self.life, Life::New | Life::Live)
    }

    /// Gives up on the plugin after `fault`: the request fails closed or goes on without it.
    fn fail(&mut self, fault: Fault) -> Step {
        self.plugin.fault(&fault);
        // The instance stays referenced (a poisoned one runs nothing more) so what it held
        // of the body can still be read.
        self.life = match fault {
            Fault::PauseTimeout(_) => Life::Skipped,
            _ => Life::Dead,
        };
        match self.plugin.info.fail {
            FailMode::Open => Step::Continue,
            FailMode::Closed => Step::Stop(Verdict::Fail {
                plugin: self.plugin.info.name.clone(),
                fault,
            }),
        }
    }

    /// Sends the callouts the last callback dispatched.
    fn send(&mut self, vm: &mut Vm) {
        if !vm.state().outgoing.is_empty() {
            send_outgoing(
                &self.plugin,
                vm,
                self.inflight.get_or_insert_with(InFlight::new),
            );
        }
    }

    /// Applies `f` to the request's stream context, if it has one.
    pub(super) fn with_stream<R>(&self, f: impl FnOnce(&mut StreamState) -> R) -> Option<R> {
        let mut vm = self.vm.as_ref()?.lock();
        vm.state().streams.get_mut(&self.ctx).map(f)
    }

    /// Ends the context (`on_done`, `on_log`, `on_delete`) unless its instance failed.
    pub(super) fn end(&mut self) {
        if matches!(self.life, Life::Live | Life::Skipped)
            && let Some(vm) = &self.vm
        {
            let ended = vm.lock().end_stream(self.ctx);
            if let Err(fault) = ended {
                self.plugin.fault(&fault);
            }
        }
        self.life = Life::Ended;
        self.vm = None;
    }

    /// A filter for `plugin`, started on first use.
    pub(super) fn new(plugin: Arc<Plugin>) -> Filter {
        Filter {
            plugin,
            vm: None,
            ctx: 0,
            wake: None,
            inflight: None,
            life: Life::New,
        }
    }

    /// Creates the stream context with `headers`, on first use.
    pub(super) fn start(
        &mut self,
        facts: &Arc<RequestFacts>,
        headers: HeaderList,
    ) -> Result<(), Step> {
        if !matches!(self.life, Life::New) {
            return Ok(());
        }
        let vm = self.plugin.instance().map_err(|f| self.fail(f))?;
        let created = {
            let mut guard = vm.lock();
            let state = guard.state();
            let ctx = state.allocate_id();
            let stream = StreamState::new(state.root, facts.clone(), headers);
            self.wake = Some(stream.wake.clone());
            state.streams.insert(ctx, stream);
            self.ctx = ctx;
            guard.create_stream(ctx)
        };
        self.vm = Some(vm);
        self.life = Life::Live;
        created.map_err(|f| self.fail(f))
    }

    /// Runs `callback`, then waits while it pauses if `may_wait(stream, callouts_in_flight)`
    /// says so (else [`Step::Hold`]).
    pub(super) async fn run(
        &mut self,
        callback: Callback,
        may_wait: impl Fn(&StreamState, bool) -> bool,
    ) -> Step {
        let Some(vm) = self.vm.clone() else {
            return Step::Continue;
        };
        let deadline = tokio::time::Instant::now() + self.plugin.info.limits.pause_timeout;
        let mut paused = {
            let mut guard = vm.lock();
            let Some(stream) = guard.state().streams.get_mut(&self.ctx) else {
                return Step::Continue;
            };
            stream.phase = callback.phase();
            stream.actions.resume_request = false;
            stream.actions.resume_response = false;
            match call_on(&mut guard, callback, self.ctx) {
                Ok(p) => {
                    self.send(&mut guard);
                    p
                }
                Err(f) => {
                    drop(guard);
                    return self.fail(f);
                }
            }
        };
        loop {
            {
                let mut guard = vm.lock();
                let has_inflight = self.inflight.as_ref().is_some_and(|f| !f.is_empty());
                let Some(stream) = guard.state().streams.get_mut(&self.ctx) else {
                    return Step::Continue;
                };
                if let Some(local) = stream.actions.local.take() {
                    return Step::Stop(Verdict::Respond(local));
                }
                if stream.actions.close {
                    return Step::Stop(Verdict::Close);
                }
                if callback.resumed(&mut stream.actions) {
                    paused = false;
                }
                if !paused {
                    return Step::Continue;
                }
                if !may_wait(stream, has_inflight) {
                    return Step::Hold;
                }
            }
            let wake = self.wake.clone().unwrap_or_default();
            tokio::select! {
                Some((token, answer)) = next_answer(&mut self.inflight) => {
                    let mut guard = vm.lock();
                    if let Err(f) = guard.deliver(token, answer) {
                        drop(guard);
                        return self.fail(f);
                    }
                    self.send(&mut guard);
                }
                () = wake.notified() => {}
                () = tokio::time::sleep_until(deadline) => {
                    let ms = self.plugin.info.limits.pause_timeout.as_millis() as u64;
                    return self.fail(Fault::PauseTimeout(ms));
                }
            }
        }
    }
}

/// The next callout answer; never, when none is on its way.
async fn next_answer(
    inflight: &mut Option<InFlight>,
) -> Option<(u32, Result<crate::plugins::state::CalloutAnswer, String>)> {
    match inflight {
        Some(f) if !f.is_empty() => f.next().await,
        _ => std::future::pending().await,
    }
}

/// Calls `callback` for stream `ctx` of `vm`.
fn call_on(vm: &mut Vm, callback: Callback, ctx: u32) -> Result<bool, Fault> {
    let Some(stream) = vm.state().streams.get(&ctx) else {
        return Ok(false);
    };
    // Sizes are read before the call; the stream stays in the table for host functions.
    let sizes = StreamSizes::of(stream);
    match callback {
        Callback::RequestHeaders(eos) => vm.on_request_headers(ctx, sizes.request, eos),
        Callback::RequestBody(eos) => vm.on_request_body(ctx, sizes.request_body, eos),
        Callback::ResponseHeaders(eos) => vm.on_response_headers(ctx, sizes.response, eos),
        Callback::ResponseBody(eos) => vm.on_response_body(ctx, sizes.response_body, eos),
    }
}

struct StreamSizes {
    request: usize,
    request_body: usize,
    response: usize,
    response_body: usize,
}

impl StreamSizes {
    fn of(s: &StreamState) -> StreamSizes {
        StreamSizes {
            request: s.request.len(),
            request_body: s.request_body.len(),
            response: s.response.len(),
            response_body: s.response_body.len(),
        }
    }
}
