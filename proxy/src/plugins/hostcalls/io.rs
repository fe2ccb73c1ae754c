//! HTTP callouts, shared data and queues, metrics; gRPC and foreign functions (not offered).

use std::time::Duration;

use wasmtime::Linker;

use super::{C, Ret, code, running, valid_header};
use crate::plugins::abi::{self, Status};
use crate::plugins::memory;
use crate::plugins::state::{Callout, HeaderList, HostState};

/// Callouts an instance may have waiting at once.
const MAX_PENDING_CALLOUTS: usize = 1024;
/// Longest callout timeout; a plugin asking more (or 0) gets this or the default.
const MAX_CALLOUT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_CALLOUT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest callout request body.
const MAX_CALLOUT_BODY: usize = 1 << 20;

pub(super) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    link_callouts(linker)?;
    link_shared(linker)?;
    link_metrics(linker)?;
    link_absent(linker)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn http_call(
    c: &mut C<'_>,
    upstream: (i32, i32),
    headers: (i32, i32),
    body: (i32, i32),
    trailers: (i32, i32),
    timeout_ms: i32,
    token_out: i32,
) -> Result<(), Status> {
    let upstream = memory::read(c, upstream.0, upstream.1)?;
    let upstream = String::from_utf8(upstream).map_err(|_| Status::BadArgument)?;
    let body = memory::read(c, body.0, body.1)?;
    if body.len() > MAX_CALLOUT_BODY {
        return Err(Status::BadArgument);
    }
    let _trailers = memory::read(c, trailers.0, trailers.1)?;
    if !memory::valid(c, token_out, 4) {
        return Err(Status::InvalidMemoryAccess);
    }
    let headers = memory::with(c, headers.0, headers.1, |bytes, _| {
        let pairs = abi::deserialize_map(bytes).map_err(|_| Status::BadArgument)?;
        if !pairs.iter().all(|(k, v)| valid_header(k, v)) {
            return Err(Status::BadArgument);
        }
        Ok(HeaderList::from_pairs(&pairs))
    })??;
    // As Envoy: a known upstream, and the three request pseudo-headers (PROXY-WASM.md P6).
    let complete = [&b":method"[..], b":path", b":authority"]
        .iter()
        .all(|h| headers.get(h).is_some_and(|v| !v.is_empty()));
    let state = c.data_mut();
    if !complete || !state.plugin.upstreams.contains(&upstream) {
        return Err(Status::BadArgument);
    }
    if state.pending.len() >= MAX_PENDING_CALLOUTS {
        return Err(Status::InternalFailure);
    }
    let timeout = match timeout_ms as u32 {
        0 => DEFAULT_CALLOUT_TIMEOUT,
        ms => Duration::from_millis(ms.into()).min(MAX_CALLOUT_TIMEOUT),
    };
    let token = state.next_token;
    state.next_token = state.next_token.wrapping_add(1).max(1);
    state.pending.insert(token, state.effective);
    state.outgoing.push(Callout {
        token,
        upstream,
        headers,
        body,
        timeout,
    });
    memory::write_u32(c, token_out, token)
}

fn link_callouts(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: C<'_>,
         uptr: i32,
         ulen: i32,
         hptr: i32,
         hlen: i32,
         bptr: i32,
         blen: i32,
         tptr: i32,
         tlen: i32,
         timeout_ms: i32,
         token_out: i32|
         -> Ret {
            running(&mut c, "proxy_http_call")?;
            Ok(code(http_call(
                &mut c,
                (uptr, ulen),
                (hptr, hlen),
                (bptr, blen),
                (tptr, tlen),
                timeout_ms,
                token_out,
            )))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_status",
        |mut c: C<'_>, code_out: i32, msg_ptr: i32, msg_len: i32| -> Ret {
            running(&mut c, "proxy_get_status")?;
            let (status, message) = c.data().status.clone();
            if let Err(s) = memory::write_u32(&mut c, code_out, status) {
                return Ok(s as i32);
            }
            Ok(code(memory::give(&mut c, &message, msg_ptr, msg_len)?))
        },
    )?;
    Ok(())
}

fn link_shared(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: C<'_>, kptr: i32, klen: i32, out_ptr: i32, out_len: i32, cas_out: i32| -> Ret {
            running(&mut c, "proxy_get_shared_data")?;
            let found = memory::try_with(&mut c, kptr, klen, |key, state| {
                state.plugin.shared.get(key)
            });
            let (value, cas) = match found {
                Ok(v) => v,
                Err(s) => return Ok(s as i32),
            };
            if let Err(s) = memory::write_u32(&mut c, cas_out, cas) {
                return Ok(s as i32);
            }
            Ok(code(memory::give(&mut c, &value, out_ptr, out_len)?))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut c: C<'_>, kptr: i32, klen: i32, vptr: i32, vlen: i32, cas: i32| -> Ret {
            running(&mut c, "proxy_set_shared_data")?;
            let key = match memory::read(&mut c, kptr, klen) {
                Ok(k) => k,
                Err(s) => return Ok(s as i32),
            };
            let done = memory::try_with(&mut c, vptr, vlen, |value, state| {
                state.plugin.shared.set(&key, value, cas as u32)
            });
            Ok(code(done))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_register_shared_queue",
        |mut c: C<'_>, nptr: i32, nlen: i32, id_out: i32| -> Ret {
            running(&mut c, "proxy_register_shared_queue")?;
            let id = memory::try_with(&mut c, nptr, nlen, |name, state| {
                state.plugin.shared.register_queue(name)
            });
            Ok(memory::answer_u32(&mut c, id, id_out))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_resolve_shared_queue",
        |mut c: C<'_>, vptr: i32, vlen: i32, nptr: i32, nlen: i32, id_out: i32| -> Ret {
            running(&mut c, "proxy_resolve_shared_queue")?;
            let vm = match memory::read(&mut c, vptr, vlen) {
                Ok(v) => v,
                Err(s) => return Ok(s as i32),
            };
            let id = memory::try_with(&mut c, nptr, nlen, |name, state| {
                // Only this VM id's queues are reachable.
                if !vm.is_empty() && vm != state.plugin.shared.vm_id.as_bytes() {
                    return Err(Status::NotFound);
                }
                state.plugin.shared.resolve_queue(name)
            });
            Ok(memory::answer_u32(&mut c, id, id_out))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_enqueue_shared_queue",
        |mut c: C<'_>, id: i32, ptr: i32, len: i32| -> Ret {
            running(&mut c, "proxy_enqueue_shared_queue")?;
            let done = memory::try_with(&mut c, ptr, len, |item, state| {
                state.plugin.shared.enqueue(id as u32, item)
            });
            Ok(code(done))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |mut c: C<'_>, id: i32, out_ptr: i32, out_len: i32| -> Ret {
            running(&mut c, "proxy_dequeue_shared_queue")?;
            match c.data().plugin.shared.dequeue(id as u32) {
                Ok(item) => Ok(code(memory::give(&mut c, &item, out_ptr, out_len)?)),
                Err(s) => Ok(s as i32),
            }
        },
    )?;
    Ok(())
}

fn link_metrics(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: C<'_>, kind: i32, nptr: i32, nlen: i32, id_out: i32| -> Ret {
            running(&mut c, "proxy_define_metric")?;
            let id = memory::try_with(&mut c, nptr, nlen, |name, state| {
                let name = std::str::from_utf8(name).map_err(|_| Status::BadArgument)?;
                if name.is_empty() || name.len() > 128 {
                    return Err(Status::BadArgument);
                }
                let plugin = &state.plugin;
                plugin.shared.define_metric(&plugin.families, kind, name)
            });
            Ok(memory::answer_u32(&mut c, id, id_out))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_increment_metric",
        |mut c: C<'_>, id: i32, delta: i64| -> Ret {
            running(&mut c, "proxy_increment_metric")?;
            Ok(code(
                c.data().plugin.shared.increment_metric(id as u32, delta),
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_record_metric",
        |mut c: C<'_>, id: i32, value: i64| -> Ret {
            running(&mut c, "proxy_record_metric")?;
            Ok(code(
                c.data()
                    .plugin
                    .shared
                    .record_metric(id as u32, value as u64),
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_metric",
        |mut c: C<'_>, id: i32, out: i32| -> Ret {
            running(&mut c, "proxy_get_metric")?;
            match c.data().plugin.shared.metric(id as u32) {
                Ok(v) => Ok(code(memory::write_u64(&mut c, out, v))),
                Err(s) => Ok(s as i32),
            }
        },
    )?;
    Ok(())
}

/// gRPC and foreign functions: linked so modules load, answered as a host without them.
fn link_absent(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let failure = Status::InternalFailure as i32;
    let not_found = Status::NotFound as i32;
    linker.func_wrap(
        "env",
        "proxy_grpc_call",
        move |_: C<'_>,
              _: i32,
              _: i32,
              _: i32,
              _: i32,
              _: i32,
              _: i32,
              _: i32,
              _: i32,
              _: i32,
              _: i32,
              _: i32,
              _: i32| failure,
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_stream",
        move |_: C<'_>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| {
            failure
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_send",
        move |_: C<'_>, _: i32, _: i32, _: i32, _: i32| not_found,
    )?;
    linker.func_wrap("env", "proxy_grpc_cancel", move |_: C<'_>, _: i32| {
        not_found
    })?;
    linker.func_wrap("env", "proxy_grpc_close", move |_: C<'_>, _: i32| not_found)?;
    linker.func_wrap(
        "env",
        "proxy_call_foreign_function",
        move |_: C<'_>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| not_found,
    )?;
    Ok(())
}
