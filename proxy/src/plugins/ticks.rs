//! An instance's own task: `proxy_on_tick` at the period the plugin set, and the answers to
//! callouts dispatched from ticks (PROXY-WASM.md §1.4, P6).
//!
//! The task runs on the runtime of the thread that created the instance and ends when the
//! instance or its plugin is gone, or the instance failed.

use std::sync::Weak;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use parking_lot::Mutex;

use super::runtime::Plugin;
use super::state::CalloutAnswer;
use super::vm::Vm;

/// A callout on its way: its token and, once there, its answer.
pub type InFlight = FuturesUnordered<BoxFuture<'static, (u32, Result<CalloutAnswer, String>)>>;

/// Sends the callouts `vm`'s last callback dispatched, adding them to `inflight`.
pub fn send_outgoing(plugin: &Plugin, vm: &mut Vm, inflight: &mut InFlight) {
    for callout in std::mem::take(&mut vm.state().outgoing) {
        let token = callout.token;
        let sent = plugin.transport().send(callout);
        inflight.push(Box::pin(async move { (token, sent.await) }));
    }
}

/// Starts the tick task of `vm` (nothing outside a Tokio runtime).
pub fn watch(plugin: Weak<Plugin>, vm: Weak<Mutex<Vm>>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let Some(changed) = vm
        .upgrade()
        .map(|vm| vm.lock().state().tick_changed.clone())
    else {
        return;
    };
    runtime.spawn(async move {
        let mut inflight = InFlight::new();
        loop {
            let period = match vm.upgrade() {
                Some(vm) => {
                    let mut vm = vm.lock();
                    if vm.poisoned().is_some() {
                        return;
                    }
                    vm.state().tick_period_ms
                }
                None => return,
            };
            let sleep = tokio::time::sleep(Duration::from_millis(period.max(1).into()));
            tokio::select! {
                () = changed.notified() => {}
                Some((token, answer)) = inflight.next(), if !inflight.is_empty() => {
                    if !step(&plugin, &vm, &mut inflight, |vm| vm.deliver(token, answer)) {
                        return;
                    }
                }
                () = sleep, if period > 0 => {
                    if !step(&plugin, &vm, &mut inflight, Vm::on_tick) {
                        return;
                    }
                }
            }
        }
    });
}

/// Runs `call` on the instance and sends what it dispatched; `false` when the task should end.
fn step(
    plugin: &Weak<Plugin>,
    vm: &Weak<Mutex<Vm>>,
    inflight: &mut InFlight,
    call: impl FnOnce(&mut Vm) -> Result<(), super::vm::Fault>,
) -> bool {
    let (Some(plugin), Some(vm)) = (plugin.upgrade(), vm.upgrade()) else {
        return false;
    };
    let mut vm = vm.lock();
    if let Err(fault) = call(&mut vm) {
        plugin.fault(&fault);
        return false;
    }
    send_outgoing(&plugin, &mut vm, inflight);
    true
}
