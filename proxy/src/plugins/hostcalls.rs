//! The `env.proxy_*` host functions of ABI 0.2.1 (PROXY-WASM.md §2.2), every one linked.
//!
//! Each returns only statuses the SDKs accept for that call (rule 3): unsupported calls
//! answer as a host without the feature would (gRPC: `INTERNAL_FAILURE`, foreign functions:
//! `NOT_FOUND`). Guest pointers go through [`super::memory`] (bad ones give
//! `INVALID_MEMORY_ACCESS`). Nothing here runs another callback: effects are recorded in
//! [`HostState`] for the driver (rule 5). During start-up and inside the allocator only
//! logging, time and WASI may be called (rule P14); anything else traps the instance with a
//! message naming the call.
//!
//! This file: logging, time, buffers, header maps. [`stream`]: properties, local responses,
//! stream control, contexts, ticks. [`io`]: callouts, shared data and queues, metrics, gRPC
//! and foreign functions.

mod io;
mod stream;

use wasmtime::{Caller, Linker};

use super::abi::{self, BufferType, LogLevel, MapType, Status};
use super::memory;
use super::state::{HeaderList, HostState, Phase};

/// A host function's caller.
type C<'a> = Caller<'a, HostState>;
/// A host function's result: the status, or a trap.
type Ret = wasmtime::Result<i32>;

/// The status code of `r`.
fn code(r: Result<(), Status>) -> i32 {
    match r {
        Ok(()) => Status::Ok as i32,
        Err(s) => s as i32,
    }
}

/// Traps when `name` is called while only logging is allowed.
fn running(c: &mut C<'_>, name: &str) -> wasmtime::Result<()> {
    if c.data().phase == Phase::Restricted {
        let msg =
            format!("{name} called during start-up or allocation, where only logging is allowed");
        c.data_mut().fault = Some(msg.clone());
        return Err(wasmtime::Error::msg(msg));
    }
    Ok(())
}

/// Links every `env.proxy_*` function into `linker`.
pub fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    link_log_and_time(linker)?;
    link_buffers(linker)?;
    link_maps(linker)?;
    stream::link(linker)?;
    io::link(linker)?;
    Ok(())
}

fn link_log_and_time(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut c: C<'_>, level: i32, ptr: i32, len: i32| -> Ret {
            let Some(level) = LogLevel::from_i32(level) else {
                return Ok(Status::BadArgument as i32);
            };
            let message = match memory::read(&mut c, ptr, len) {
                Ok(m) => m,
                Err(s) => return Ok(s as i32),
            };
            c.data()
                .plugin
                .log(level, &String::from_utf8_lossy(&message));
            Ok(0)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_log_level",
        |mut c: C<'_>, out: i32| -> Ret {
            let level = c.data().plugin.log_level as u32;
            Ok(code(memory::write_u32(&mut c, out, level)))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut c: C<'_>, out: i32| -> Ret {
            let now = c
                .data()
                .plugin
                .now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            Ok(code(memory::write_u64(&mut c, out, now)))
        },
    )?;
    Ok(())
}

/// The bytes of buffer `kind` as the running callback sees it.
fn buffer(state: &HostState, kind: BufferType) -> Option<&[u8]> {
    let stream = state.streams.get(&state.effective);
    match kind {
        BufferType::HttpRequestBody => stream.map(|s| s.request_body.as_slice()),
        BufferType::HttpResponseBody => stream.map(|s| s.response_body.as_slice()),
        BufferType::HttpCallResponseBody => state.answer.as_ref().map(|a| a.body.as_slice()),
        BufferType::VmConfiguration if state.phase == Phase::VmStart => {
            Some(&state.plugin.vm_config)
        }
        BufferType::PluginConfiguration if state.phase == Phase::Configure => {
            Some(&state.plugin.config)
        }
        _ => None,
    }
}

fn link_buffers(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: C<'_>, kind: i32, start: i32, max: i32, out_ptr: i32, out_len: i32| -> Ret {
            running(&mut c, "proxy_get_buffer_bytes")?;
            let Some(kind) = BufferType::from_i32(kind) else {
                return Ok(Status::BadArgument as i32);
            };
            let Some(all) = buffer(c.data(), kind) else {
                return Ok(Status::NotFound as i32);
            };
            // Clamped, never refused: the Rust SDK asks for `usize::MAX` bytes (rule 9).
            let from = (start as u32 as usize).min(all.len());
            let to = from.saturating_add(max as u32 as usize).min(all.len());
            let bytes = all[from..to].to_vec();
            Ok(code(memory::give(&mut c, &bytes, out_ptr, out_len)?))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut c: C<'_>, kind: i32, start: i32, size: i32, ptr: i32, len: i32| -> Ret {
            running(&mut c, "proxy_set_buffer_bytes")?;
            let kind = BufferType::from_i32(kind);
            let done = memory::try_with(&mut c, ptr, len, |data, state| {
                let stream = state
                    .streams
                    .get_mut(&state.effective)
                    .ok_or(Status::NotFound)?;
                let (body, changed) = match kind {
                    Some(BufferType::HttpRequestBody) => {
                        (&mut stream.request_body, &mut stream.request_body_changed)
                    }
                    Some(BufferType::HttpResponseBody) => {
                        (&mut stream.response_body, &mut stream.response_body_changed)
                    }
                    Some(_) => return Err(Status::NotFound),
                    None => return Err(Status::BadArgument),
                };
                // Replace `start..start+size` (clamped): covers replace, prepend, append and
                // insertion in the middle.
                let from = (start as u32 as usize).min(body.len());
                let to = from.saturating_add(size as u32 as usize).min(body.len());
                // Host memory stays bounded: a body may not grow past the plugin's `max_body`
                // (or what it already was) however many times the plugin writes.
                let new_len = body.len() - (to - from) + data.len();
                if new_len > body.len().max(state.plugin.limits.max_body) {
                    return Err(Status::BadArgument);
                }
                body.splice(from..to, data.iter().copied());
                *changed = true;
                Ok(())
            });
            Ok(code(done))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_status",
        |mut c: C<'_>, kind: i32, len_out: i32, flags_out: i32| -> Ret {
            running(&mut c, "proxy_get_buffer_status")?;
            let Some(kind) = BufferType::from_i32(kind) else {
                return Ok(Status::BadArgument as i32);
            };
            let state = c.data();
            let Some(len) = buffer(state, kind).map(<[u8]>::len) else {
                return Ok(Status::NotFound as i32);
            };
            let stream = state.streams.get(&state.effective);
            let eos = match kind {
                BufferType::HttpRequestBody => stream.is_some_and(|s| s.request_eos),
                BufferType::HttpResponseBody => stream.is_some_and(|s| s.response_eos),
                _ => true,
            };
            let r = memory::write_u32(&mut c, len_out, len as u32)
                .and_then(|()| memory::write_u32(&mut c, flags_out, u32::from(eos)));
            Ok(code(r))
        },
    )?;
    Ok(())
}

/// Map `kind` as the effective context sees it (`None`: not available there).
fn map(state: &HostState, kind: MapType) -> Option<&HeaderList> {
    let stream = state.streams.get(&state.effective);
    match kind {
        MapType::RequestHeaders => stream.map(|s| &s.request),
        MapType::RequestTrailers => stream.map(|s| &s.request_trailers),
        MapType::ResponseHeaders => stream.map(|s| &s.response),
        MapType::ResponseTrailers => stream.map(|s| &s.response_trailers),
        MapType::HttpCallResponseHeaders => state.answer.as_ref().map(|a| &a.headers),
        MapType::HttpCallResponseTrailers => state.answer.as_ref().map(|a| &a.trailers),
        MapType::GrpcInitialMetadata | MapType::GrpcTrailingMetadata => None,
    }
}

/// Map `kind` for writing, marking it changed.
fn map_mut(state: &mut HostState, kind: MapType) -> Option<&mut HeaderList> {
    let stream = state.streams.get_mut(&state.effective)?;
    match kind {
        MapType::RequestHeaders => {
            stream.request_changed = true;
            Some(&mut stream.request)
        }
        MapType::ResponseHeaders => {
            stream.response_changed = true;
            Some(&mut stream.response)
        }
        MapType::RequestTrailers => Some(&mut stream.request_trailers),
        MapType::ResponseTrailers => Some(&mut stream.response_trailers),
        _ => None,
    }
}

/// Whether `name: value` can go on the wire: a token (or pseudo-header) name, a value without
/// CR, LF or NUL.
pub fn valid_header(name: &[u8], value: &[u8]) -> bool {
    let token = name.strip_prefix(b":").unwrap_or(name);
    !token.is_empty()
        && token
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
        && !value.iter().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// A change to a header map: name, value.
type Edit = fn(&mut HeaderList, &[u8], &[u8]);

/// Reads a key (and value) from the guest and applies `f` to map `kind`.
fn edit(c: &mut C<'_>, kind: i32, key: (i32, i32), value: (i32, i32), grows: bool, f: Edit) -> Ret {
    let Some(kind) = MapType::from_i32(kind) else {
        return Ok(Status::BadArgument as i32);
    };
    let name = match memory::read(c, key.0, key.1) {
        Ok(n) => n,
        Err(s) => return Ok(s as i32),
    };
    let done = memory::try_with(c, value.0, value.1, |value, state| {
        if !valid_header(&name, value) {
            return Err(Status::BadArgument);
        }
        let map = map_mut(state, kind).ok_or(Status::NotFound)?;
        // Host memory stays bounded whatever a plugin adds in a loop (the limits the host
        // applies to maps it reads from guests).
        let bytes: usize = map.0.iter().map(|(k, v)| k.len() + v.len() + 10).sum();
        if grows
            && (map.len() >= abi::MAX_MAP_PAIRS
                || bytes + name.len() + value.len() > abi::MAX_MAP_BYTES)
        {
            return Err(Status::BadArgument);
        }
        f(map, &name, value);
        Ok(())
    });
    Ok(code(done))
}

fn link_maps(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: C<'_>, kind: i32, out_ptr: i32, out_len: i32| -> Ret {
            running(&mut c, "proxy_get_header_map_pairs")?;
            let Some(kind) = MapType::from_i32(kind) else {
                return Ok(Status::BadArgument as i32);
            };
            // An unavailable map is an empty one (the Rust SDK accepts only OK here).
            let bytes =
                map(c.data(), kind).map_or_else(|| abi::serialize_map([]), HeaderList::serialize);
            Ok(code(memory::give(&mut c, &bytes, out_ptr, out_len)?))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut c: C<'_>, kind: i32, ptr: i32, len: i32| -> Ret {
            running(&mut c, "proxy_set_header_map_pairs")?;
            let Some(kind) = MapType::from_i32(kind) else {
                return Ok(Status::BadArgument as i32);
            };
            let done = memory::try_with(&mut c, ptr, len, |bytes, state| {
                let pairs = abi::deserialize_map(bytes).map_err(|_| Status::BadArgument)?;
                if !pairs.iter().all(|(k, v)| valid_header(k, v)) {
                    return Err(Status::BadArgument);
                }
                let map = map_mut(state, kind).ok_or(Status::NotFound)?;
                *map = HeaderList::from_pairs(&pairs);
                Ok(())
            });
            Ok(code(done))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: C<'_>, kind: i32, kptr: i32, klen: i32, out_ptr: i32, out_len: i32| -> Ret {
            running(&mut c, "proxy_get_header_map_value")?;
            let Some(kind) = MapType::from_i32(kind) else {
                return Ok(Status::BadArgument as i32);
            };
            let found = memory::with(&mut c, kptr, klen, |name, state| {
                map(state, kind)
                    .and_then(|m| m.get(name))
                    .map(<[u8]>::to_vec)
            });
            match found {
                Ok(Some(value)) => Ok(code(memory::give(&mut c, &value, out_ptr, out_len)?)),
                // Missing key or unavailable map: NOT_FOUND (never BAD_ARGUMENT: P2).
                Ok(None) => Ok(Status::NotFound as i32),
                Err(s) => Ok(s as i32),
            }
        },
    )?;
    let setters: [(&str, Edit); 2] = [
        ("proxy_add_header_map_value", HeaderList::add),
        ("proxy_replace_header_map_value", HeaderList::replace),
    ];
    for (name, set) in setters {
        linker.func_wrap(
            "env",
            name,
            move |mut c: C<'_>, kind: i32, kptr: i32, klen: i32, vptr: i32, vlen: i32| -> Ret {
                running(&mut c, name)?;
                edit(&mut c, kind, (kptr, klen), (vptr, vlen), true, set)
            },
        )?;
    }
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: C<'_>, kind: i32, kptr: i32, klen: i32| -> Ret {
            running(&mut c, "proxy_remove_header_map_value")?;
            edit(&mut c, kind, (kptr, klen), (0, 0), false, |m, k, _| {
                m.remove(k)
            })
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_size",
        |mut c: C<'_>, kind: i32, out: i32| -> Ret {
            running(&mut c, "proxy_get_header_map_size")?;
            let Some(kind) = MapType::from_i32(kind) else {
                return Ok(Status::BadArgument as i32);
            };
            let size = map(c.data(), kind).map_or(4, |m| m.serialize().len());
            Ok(code(memory::write_u32(&mut c, out, size as u32)))
        },
    )?;
    Ok(())
}
