//! What an instance's host functions act on: its contexts, the request data each stream
//! context sees, and the effects plugins ask for, recorded here and carried out by the
//! driver once the callback has returned (PROXY-WASM.md rule 5).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Notify;
use wasmtime::{Memory, TypedFunc};

use super::abi;
use super::facts::RequestFacts;
use super::runtime::PluginInfo;

/// A header map as plugins see it: lower-case names in order, pseudo-headers (`:method`,
/// `:path`, `:authority`, `:scheme`; `:status`) first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderList(pub Vec<(Vec<u8>, Vec<u8>)>);

impl HeaderList {
    /// The first value of `name`.
    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Appends a value of `name`.
    pub fn add(&mut self, name: &[u8], value: &[u8]) {
        self.0.push((name.to_ascii_lowercase(), value.to_vec()));
    }

    /// Sets `name` to `value` alone (in the place of its first value, or at the end).
    pub fn replace(&mut self, name: &[u8], value: &[u8]) {
        match self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(i) => {
                self.0[i].1 = value.to_vec();
                let mut j = 0;
                self.0
                    .retain(|(n, _)| (j == i || !n.eq_ignore_ascii_case(name), j += 1).0);
            }
            None => self.add(name, value),
        }
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &[u8]) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The map in the ABI's format.
    pub fn serialize(&self) -> Vec<u8> {
        abi::serialize_map(self.0.iter().map(|(k, v)| (k.as_slice(), v.as_slice())))
    }

    /// A list from a guest's pairs (names lower-cased).
    pub fn from_pairs(pairs: &abi::Pairs<'_>) -> HeaderList {
        HeaderList(
            pairs
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_vec()))
                .collect(),
        )
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<(Vec<u8>, Vec<u8>)>> for HeaderList {
    fn from(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> HeaderList {
        HeaderList(pairs)
    }
}

/// An answer a plugin gives instead of the upstream's (`proxy_send_local_response`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers (lower-case names).
    pub headers: HeaderList,
    /// Body.
    pub body: Vec<u8>,
    /// The plugin's reason, for the log.
    pub details: String,
}

/// Effects a plugin asked for on a stream, carried out after the callback.
#[derive(Debug, Default)]
pub struct Actions {
    /// `proxy_continue_stream(HTTP_REQUEST)` (or 0.1.0's continue_request).
    pub resume_request: bool,
    /// `proxy_continue_stream(HTTP_RESPONSE)`.
    pub resume_response: bool,
    /// `proxy_send_local_response` (the first one; later ones are ignored and logged).
    pub local: Option<LocalResponse>,
    /// `proxy_close_stream`: abort the request.
    pub close: bool,
    /// `proxy_done` after `proxy_on_done` returned false.
    pub done: bool,
}

/// Which callback a stream is in (what its buffers and maps mean).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamPhase {
    /// Request headers, before the body.
    RequestHeaders,
    /// Request body chunks.
    RequestBody,
    /// Response headers.
    ResponseHeaders,
    /// Response body chunks.
    ResponseBody,
    /// `on_done`, `on_log`, `on_delete`.
    Log,
}

/// One request as a stream context sees it.
#[derive(Debug)]
pub struct StreamState {
    /// The root context it belongs to.
    pub root: u32,
    /// Facts about the request and who makes it (properties).
    pub facts: Arc<RequestFacts>,
    /// Request headers with pseudo-headers.
    pub request: HeaderList,
    /// Whether the plugin changed them.
    pub request_changed: bool,
    /// Response headers with `:status` (empty before the response).
    pub response: HeaderList,
    /// Whether the plugin changed them.
    pub response_changed: bool,
    /// Request trailers.
    pub request_trailers: HeaderList,
    /// Response trailers.
    pub response_trailers: HeaderList,
    /// Request body held for the plugin (the current chunk and those held while paused).
    pub request_body: Vec<u8>,
    /// Whether the plugin changed it.
    pub request_body_changed: bool,
    /// Response body held for the plugin.
    pub response_body: Vec<u8>,
    /// Whether the plugin changed it.
    pub response_body_changed: bool,
    /// Whether the held request body is its end.
    pub request_eos: bool,
    /// Whether the held response body is its end.
    pub response_eos: bool,
    /// Values the plugin stored with `proxy_set_property`.
    pub properties: HashMap<Vec<u8>, Vec<u8>>,
    /// What the plugin asked for.
    pub actions: Actions,
    /// Woken when an action is recorded from another context's callback (a callout answer, a
    /// tick).
    pub wake: Arc<Notify>,
    /// The callback it is in.
    pub phase: StreamPhase,
}

impl StreamState {
    /// A stream for `facts` under root context `root`, with the request's `headers`.
    pub fn new(root: u32, facts: Arc<RequestFacts>, headers: HeaderList) -> StreamState {
        StreamState {
            root,
            facts,
            request: headers,
            request_changed: false,
            response: HeaderList::default(),
            response_changed: false,
            request_trailers: HeaderList::default(),
            response_trailers: HeaderList::default(),
            request_body: Vec::new(),
            request_body_changed: false,
            response_body: Vec::new(),
            response_body_changed: false,
            request_eos: false,
            response_eos: false,
            properties: HashMap::new(),
            actions: Actions::default(),
            wake: Arc::new(Notify::new()),
            phase: StreamPhase::RequestHeaders,
        }
    }
}

/// What the instance is doing, which limits the host functions a plugin may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// `_initialize`/`_start` or the allocator: logging and WASI only (PROXY-WASM.md P14).
    Restricted,
    /// `proxy_on_vm_start`: the VM configuration is readable.
    VmStart,
    /// `proxy_on_configure`: the plugin configuration is readable.
    Configure,
    /// Any other callback.
    Running,
}

/// An HTTP call a plugin dispatched, to be sent once the callback returns.
#[derive(Debug)]
pub struct Callout {
    /// The token the plugin was given.
    pub token: u32,
    /// Upstream name.
    pub upstream: String,
    /// Headers with `:method`, `:path`, `:authority`.
    pub headers: HeaderList,
    /// Body.
    pub body: Vec<u8>,
    /// Time allowed.
    pub timeout: std::time::Duration,
}

/// The answer to a callout (no headers: failed or timed out).
#[derive(Debug, Default)]
pub struct CalloutAnswer {
    /// Headers with `:status`; empty when the call failed.
    pub headers: HeaderList,
    /// Body.
    pub body: Vec<u8>,
    /// Trailers.
    pub trailers: HeaderList,
}

/// The host's side of one instance.
pub struct HostState {
    /// The plugin it runs.
    pub plugin: Arc<PluginInfo>,
    /// The guest's memory, once instantiated.
    pub memory: Option<Memory>,
    /// The guest's allocator, once instantiated.
    pub alloc: Option<TypedFunc<i32, i32>>,
    /// Bytes of linear memory allowed.
    pub memory_cap: usize,
    /// Set when the guest tried to grow past `memory_cap`.
    pub memory_exceeded: bool,
    /// What the instance is doing.
    pub phase: Phase,
    /// The root context's id.
    pub root: u32,
    /// The context of the running callback.
    pub current: u32,
    /// The context host functions act on (`proxy_set_effective_context`).
    pub effective: u32,
    /// Live stream contexts.
    pub streams: HashMap<u32, StreamState>,
    /// The next context id.
    pub next_id: u32,
    /// `proxy_set_tick_period_milliseconds` (0: no ticks).
    pub tick_period_ms: u32,
    /// Woken when the tick period changes.
    pub tick_changed: Arc<Notify>,
    /// The next callout token.
    pub next_token: u32,
    /// Callouts waiting for an answer, with the context that dispatched them.
    pub pending: HashMap<u32, u32>,
    /// Callouts dispatched during the running callback.
    pub outgoing: Vec<Callout>,
    /// The callout answer being delivered (`proxy_on_http_call_response`).
    pub answer: Option<CalloutAnswer>,
    /// `proxy_get_status`: code and message of the last callout.
    pub status: (u32, Vec<u8>),
    /// Why a host function trapped, when it did.
    pub fault: Option<String>,
}

impl HostState {
    /// A new instance's state for `plugin`.
    pub fn new(plugin: Arc<PluginInfo>) -> HostState {
        HostState {
            memory_cap: plugin.limits.memory,
            plugin,
            memory: None,
            alloc: None,
            memory_exceeded: false,
            phase: Phase::Restricted,
            root: 0,
            current: 0,
            effective: 0,
            streams: HashMap::new(),
            next_id: 1,
            tick_period_ms: 0,
            tick_changed: Arc::new(Notify::new()),
            next_token: 1,
            pending: HashMap::new(),
            outgoing: Vec::new(),
            answer: None,
            status: (0, Vec::new()),
            fault: None,
        }
    }

    /// The stream host functions act on, if the effective context is one.
    pub fn stream(&mut self) -> Option<&mut StreamState> {
        self.streams.get_mut(&self.effective)
    }

    /// A fresh context id.
    pub fn allocate_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }
}

impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.memory_exceeded = true;
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} bytes reached (the plugin asked for {desired})",
                self.memory_cap
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
