//! One instance of a plugin: its store, its callbacks, and what happens when it fails.
//!
//! Every call into the guest goes through [`Vm::invoke`]: it sets the context the host
//! functions act on, gives the call its epoch deadline, and turns a trap, a timeout, a memory
//! overrun or an exit into a [`Fault`] that poisons the instance for good (PROXY-WASM.md rule
//! 10): a poisoned instance is never called again and is replaced by the pool.

use std::sync::Arc;

use wasmtime::{Instance, InstancePre, Store, Trap, TypedFunc, WasmParams, WasmResults};

use super::engine::{self, deadline_ticks};
use super::module::PluginModule;
use super::runtime::PluginInfo;
use super::state::{CalloutAnswer, HostState, Phase};
use super::wasi::Exit;

/// Why an instance cannot go on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// A call ran past its deadline.
    #[error("a call ran longer than {0} ms")]
    Timeout(u64),
    /// The guest tried to grow its memory past the cap.
    #[error("{0}")]
    Memory(String),
    /// The guest trapped (a panic, an invalid access, a host function refusing it).
    #[error("trapped: {0}")]
    Trap(String),
    /// The guest called `proc_exit`.
    #[error("exited with code {0}")]
    Exit(i32),
    /// Start-up refused (`proxy_on_vm_start` or `proxy_on_configure` returned false, a
    /// callback export with the wrong type).
    #[error("{0}")]
    Refused(String),
    /// Too many crashes lately: no new instance for now.
    #[error("crashed {0} times in the last minute; not restarted for now")]
    Unavailable(usize),
    /// A paused request was not resumed in time.
    #[error("did not resume a paused request within {0} ms")]
    PauseTimeout(u64),
}

impl Fault {
    /// The `reason` label of `vigie_plugin_failures_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Fault::Timeout(_) => "timeout",
            Fault::Memory(_) => "memory",
            Fault::Trap(_) | Fault::Exit(_) => "trap",
            Fault::Refused(_) => "refused",
            Fault::Unavailable(_) => "unavailable",
            Fault::PauseTimeout(_) => "pause_timeout",
        }
    }
}

macro_rules! callbacks {
    ($($field:ident: $name:literal => ($($p:ty),*) -> $r:ty),* $(,)?) => {
        /// The callbacks the module exports (any may be missing: then it does nothing).
        struct Callbacks {
            $($field: Option<TypedFunc<($($p,)*), $r>>,)*
        }

        impl Callbacks {
            fn find(instance: &Instance, store: &mut Store<HostState>) -> Result<Callbacks, Fault> {
                Ok(Callbacks {
                    $($field: typed(instance, store, $name)?,)*
                })
            }
        }
    };
}

callbacks! {
    context_create: "proxy_on_context_create" => (i32, i32) -> (),
    vm_start: "proxy_on_vm_start" => (i32, i32) -> i32,
    configure: "proxy_on_configure" => (i32, i32) -> i32,
    tick: "proxy_on_tick" => (i32) -> (),
    request_headers: "proxy_on_request_headers" => (i32, i32, i32) -> i32,
    request_body: "proxy_on_request_body" => (i32, i32, i32) -> i32,
    response_headers: "proxy_on_response_headers" => (i32, i32, i32) -> i32,
    response_body: "proxy_on_response_body" => (i32, i32, i32) -> i32,
    http_call_response: "proxy_on_http_call_response" => (i32, i32, i32, i32, i32) -> (),
    done: "proxy_on_done" => (i32) -> i32,
    log: "proxy_on_log" => (i32) -> (),
    delete: "proxy_on_delete" => (i32) -> (),
}

/// The typed export `name`, if exported; a wrong type refuses the module.
fn typed<P: WasmParams, R: WasmResults>(
    instance: &Instance,
    store: &mut Store<HostState>,
    name: &str,
) -> Result<Option<TypedFunc<P, R>>, Fault> {
    if instance.get_func(&mut *store, name).is_none() {
        return Ok(None);
    }
    instance
        .get_typed_func(&mut *store, name)
        .map(Some)
        .map_err(|e| Fault::Refused(format!("export {name} has the wrong type: {e}")))
}

/// A started instance.
pub struct Vm {
    store: Store<HostState>,
    callbacks: Callbacks,
    deadline: u64,
    /// Set for good when a call failed.
    poisoned: Option<Fault>,
}

impl Vm {
    /// Instantiates and starts the plugin: `_initialize` (or `_start`), the root context,
    /// `proxy_on_vm_start` and `proxy_on_configure` (PROXY-WASM.md §1.3).
    pub fn start(
        pre: &InstancePre<HostState>,
        module: &PluginModule,
        info: Arc<PluginInfo>,
    ) -> Result<Vm, Fault> {
        let deadline = deadline_ticks(info.limits.call_timeout);
        let mut store = Store::new(engine::engine(), HostState::new(info));
        store.limiter(|state| state);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(deadline);
        let instance = pre
            .instantiate(&mut store)
            .map_err(|e| classify(&store, &e))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| Fault::Refused("no exported memory".into()))?;
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut store, module.allocator)
            .map_err(|e| {
                Fault::Refused(format!(
                    "allocator {} has the wrong type: {e}",
                    module.allocator
                ))
            })?;
        store.data_mut().memory = Some(memory);
        store.data_mut().alloc = Some(alloc);
        if let Some(init) = module.init {
            let f = instance
                .get_typed_func::<(), ()>(&mut store, init)
                .map_err(|e| Fault::Refused(format!("{init} has the wrong type: {e}")))?;
            match f.call(&mut store, ()) {
                Ok(()) => {}
                // A TinyGo command ends `_start` with `proc_exit(0)` (PROXY-WASM.md P10).
                Err(e) if e.downcast_ref::<Exit>().is_some_and(|x| x.0 == 0) => {}
                Err(e) => return Err(classify(&store, &e)),
            }
        }
        let callbacks = Callbacks::find(&instance, &mut store)?;
        let mut vm = Vm {
            store,
            callbacks,
            deadline,
            poisoned: None,
        };
        let root = vm.store.data_mut().allocate_id();
        vm.store.data_mut().root = root;
        vm.store.data_mut().phase = Phase::Running;
        vm.invoke(|c| c.context_create.as_ref(), root, (root as i32, 0))?;
        let info = vm.store.data().plugin.clone();
        vm.store.data_mut().phase = Phase::VmStart;
        let started = vm.invoke(
            |c| c.vm_start.as_ref(),
            root,
            (root as i32, info.vm_config.len() as i32),
        );
        vm.store.data_mut().phase = Phase::Configure;
        let configured = started.and_then(|ok| {
            if ok == 0 && vm.callbacks.vm_start.is_some() {
                return Err(Fault::Refused("proxy_on_vm_start returned false".into()));
            }
            vm.invoke(
                |c| c.configure.as_ref(),
                root,
                (root as i32, info.config.len() as i32),
            )
        });
        vm.store.data_mut().phase = Phase::Running;
        if configured? == 0 && vm.callbacks.configure.is_some() {
            return Err(Fault::Refused(
                "proxy_on_configure returned false: the plugin refused its configuration".into(),
            ));
        }
        Ok(vm)
    }

    /// Calls `f` (if exported) as a callback of context `ctx`; see the module docs.
    fn invoke<P: WasmParams, R: WasmResults + Default>(
        &mut self,
        pick: impl FnOnce(&Callbacks) -> Option<&TypedFunc<P, R>>,
        ctx: u32,
        args: P,
    ) -> Result<R, Fault> {
        if let Some(fault) = &self.poisoned {
            return Err(fault.clone());
        }
        let Some(f) = pick(&self.callbacks) else {
            return Ok(R::default());
        };
        let state = self.store.data_mut();
        state.current = ctx;
        state.effective = ctx;
        state.fault = None;
        self.store.set_epoch_deadline(self.deadline);
        let result = f.call(&mut self.store, args);
        let state = self.store.data_mut();
        state.effective = state.current;
        result.map_err(|e| {
            let fault = classify(&self.store, &e);
            self.poisoned = Some(fault.clone());
            fault
        })
    }

    /// The fault that poisoned the instance, if one did.
    pub fn poisoned(&self) -> Option<&Fault> {
        self.poisoned.as_ref()
    }

    /// The host state.
    pub fn state(&mut self) -> &mut HostState {
        self.store.data_mut()
    }

    /// `proxy_on_context_create` for a new stream already in the state's table.
    pub fn create_stream(&mut self, ctx: u32) -> Result<(), Fault> {
        let root = self.store.data().root;
        self.invoke(
            |c| c.context_create.as_ref(),
            ctx,
            (ctx as i32, root as i32),
        )
    }

    /// `proxy_on_request_headers`; `true` to pause.
    pub fn on_request_headers(&mut self, ctx: u32, n: usize, eos: bool) -> Result<bool, Fault> {
        self.invoke(
            |c| c.request_headers.as_ref(),
            ctx,
            (ctx as i32, n as i32, eos.into()),
        )
        .map(|a| a != 0)
    }

    /// `proxy_on_request_body`; `true` to pause.
    pub fn on_request_body(&mut self, ctx: u32, size: usize, eos: bool) -> Result<bool, Fault> {
        self.invoke(
            |c| c.request_body.as_ref(),
            ctx,
            (ctx as i32, size as i32, eos.into()),
        )
        .map(|a| a != 0)
    }

    /// `proxy_on_response_headers`; `true` to pause.
    pub fn on_response_headers(&mut self, ctx: u32, n: usize, eos: bool) -> Result<bool, Fault> {
        self.invoke(
            |c| c.response_headers.as_ref(),
            ctx,
            (ctx as i32, n as i32, eos.into()),
        )
        .map(|a| a != 0)
    }

    /// `proxy_on_response_body`; `true` to pause.
    pub fn on_response_body(&mut self, ctx: u32, size: usize, eos: bool) -> Result<bool, Fault> {
        self.invoke(
            |c| c.response_body.as_ref(),
            ctx,
            (ctx as i32, size as i32, eos.into()),
        )
        .map(|a| a != 0)
    }

    /// `proxy_on_tick` on the root context.
    pub fn on_tick(&mut self) -> Result<(), Fault> {
        let root = self.store.data().root;
        self.invoke(|c| c.tick.as_ref(), root, (root as i32,))
    }

    /// Delivers the answer to callout `token` (`proxy_on_http_call_response` on the root
    /// context); an unknown token (cancelled, delivered) is ignored.
    pub fn deliver(
        &mut self,
        token: u32,
        answer: Result<CalloutAnswer, String>,
    ) -> Result<(), Fault> {
        let state = self.store.data_mut();
        if state.pending.remove(&token).is_none() {
            return Ok(());
        }
        let root = state.root;
        let answer = match answer {
            Ok(a) => {
                state.status = (0, Vec::new());
                a
            }
            Err(message) => {
                state.status = (1, message.into_bytes());
                CalloutAnswer::default()
            }
        };
        let sizes = (
            answer.headers.len() as i32,
            answer.body.len() as i32,
            answer.trailers.len() as i32,
        );
        state.answer = Some(answer);
        let r = self.invoke(
            |c| c.http_call_response.as_ref(),
            root,
            (root as i32, token as i32, sizes.0, sizes.1, sizes.2),
        );
        self.store.data_mut().answer = None;
        r
    }

    /// `proxy_on_done`, `proxy_on_log` and `proxy_on_delete` for stream `ctx`, then forgets
    /// it (PROXY-WASM.md §1.4, P1).
    pub fn end_stream(&mut self, ctx: u32) -> Result<(), Fault> {
        if self.store.data().streams.contains_key(&ctx) {
            let result = self
                .invoke(|c| c.done.as_ref(), ctx, (ctx as i32,))
                .and_then(|_| self.invoke(|c| c.log.as_ref(), ctx, (ctx as i32,)))
                .and_then(|()| self.invoke(|c| c.delete.as_ref(), ctx, (ctx as i32,)));
            let state = self.store.data_mut();
            state.streams.remove(&ctx);
            state.pending.retain(|_, owner| *owner != ctx);
            result?;
        }
        Ok(())
    }
}

/// The fault an error from wasmtime stands for.
fn classify(store: &Store<HostState>, e: &wasmtime::Error) -> Fault {
    let state = store.data();
    if state.memory_exceeded {
        return Fault::Memory(format!(
            "memory limit of {} bytes reached",
            state.memory_cap
        ));
    }
    if let Some(Trap::Interrupt) = e.downcast_ref::<Trap>() {
        return Fault::Timeout(state.plugin.limits.call_timeout.as_millis() as u64);
    }
    if let Some(exit) = e.downcast_ref::<Exit>() {
        return Fault::Exit(exit.0);
    }
    match &state.fault {
        Some(why) => Fault::Trap(why.clone()),
        None => Fault::Trap(e.root_cause().to_string()),
    }
}
