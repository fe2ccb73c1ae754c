//! Properties, local responses, stream control, contexts and ticks.

use wasmtime::Linker;

use super::{C, Ret, code, running, valid_header};
use crate::plugins::abi::{self, Status};
use crate::plugins::facts;
use crate::plugins::memory;
use crate::plugins::state::{HeaderList, HostState, LocalResponse};

/// Largest value a plugin may store with `proxy_set_property`, and values per context.
const MAX_PROPERTY_BYTES: usize = 64 << 10;
const MAX_PROPERTIES: usize = 256;

pub(super) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: C<'_>, ptr: i32, len: i32, out_ptr: i32, out_len: i32| -> Ret {
            running(&mut c, "proxy_get_property")?;
            let value = memory::try_with(&mut c, ptr, len, |path, state| {
                let path = abi::property_path(path);
                facts::property(&state.plugin, state.streams.get(&state.effective), &path)
            });
            match value {
                Ok(v) => Ok(code(memory::give(&mut c, &v, out_ptr, out_len)?)),
                Err(s) => Ok(s as i32),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_property",
        |mut c: C<'_>, ptr: i32, len: i32, vptr: i32, vlen: i32| -> Ret {
            running(&mut c, "proxy_set_property")?;
            let path = match memory::read(&mut c, ptr, len) {
                Ok(p) => p,
                Err(s) => return Ok(s as i32),
            };
            let done = memory::try_with(&mut c, vptr, vlen, |value, state| {
                if value.len() > MAX_PROPERTY_BYTES {
                    return Err(Status::BadArgument);
                }
                // Stored per stream (Kong's `wasmx.*` model); from a root context, accepted
                // and forgotten (the Rust SDK accepts only OK here).
                if let Some(stream) = state.streams.get_mut(&state.effective) {
                    if stream.properties.len() >= MAX_PROPERTIES
                        && !stream.properties.contains_key(&path)
                    {
                        return Err(Status::BadArgument);
                    }
                    stream.properties.insert(path, value.to_vec());
                }
                Ok(())
            });
            Ok(code(done))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: C<'_>,
         status: i32,
         dptr: i32,
         dlen: i32,
         bptr: i32,
         blen: i32,
         hptr: i32,
         hlen: i32,
         _grpc_status: i32|
         -> Ret {
            running(&mut c, "proxy_send_local_response")?;
            let details = memory::read(&mut c, dptr, dlen);
            let body = memory::read(&mut c, bptr, blen);
            let (details, body) = match (details, body) {
                (Ok(d), Ok(b)) => (d, b),
                (Err(s), _) | (_, Err(s)) => return Ok(s as i32),
            };
            let done = memory::try_with(&mut c, hptr, hlen, |headers, state| {
                let pairs = abi::deserialize_map(headers).map_err(|_| Status::BadArgument)?;
                if !(100..=599).contains(&status) || !pairs.iter().all(|(k, v)| valid_header(k, v))
                {
                    return Err(Status::BadArgument);
                }
                let plugin = state.plugin.clone();
                let stream = state
                    .streams
                    .get_mut(&state.effective)
                    .ok_or(Status::NotFound)?;
                if stream.actions.local.is_some() {
                    plugin.log(
                        abi::LogLevel::Warn,
                        "a second local response for the same request was ignored",
                    );
                    return Ok(());
                }
                stream.actions.local = Some(LocalResponse {
                    status: status as u16,
                    // Pseudo-headers make no sense here: Vigie writes the status line.
                    headers: HeaderList::from_pairs(&pairs)
                        .0
                        .into_iter()
                        .filter(|(k, _)| !k.starts_with(b":"))
                        .collect::<Vec<_>>()
                        .into(),
                    body,
                    details: String::from_utf8_lossy(&details).into_owned(),
                });
                stream.wake.notify_one();
                Ok(())
            });
            Ok(code(done))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_continue_stream",
        |mut c: C<'_>, which: i32| -> Ret {
            running(&mut c, "proxy_continue_stream")?;
            let state = c.data_mut();
            let effective = state.effective;
            // OK even when nothing is paused (the Rust SDK accepts only OK).
            if let Some(stream) = state.streams.get_mut(&effective) {
                match which {
                    0 => stream.actions.resume_request = true,
                    1 => stream.actions.resume_response = true,
                    2 | 3 => {}
                    _ => return Ok(Status::BadArgument as i32),
                }
                stream.wake.notify_one();
            }
            Ok(0)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_close_stream",
        |mut c: C<'_>, which: i32| -> Ret {
            running(&mut c, "proxy_close_stream")?;
            if !(0..=3).contains(&which) {
                return Ok(Status::BadArgument as i32);
            }
            let state = c.data_mut();
            let effective = state.effective;
            if let Some(stream) = state.streams.get_mut(&effective) {
                stream.actions.close = true;
                stream.wake.notify_one();
            }
            Ok(0)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut c: C<'_>, id: i32| -> Ret {
            running(&mut c, "proxy_set_effective_context")?;
            let state = c.data_mut();
            let id = id as u32;
            if id != state.root && !state.streams.contains_key(&id) {
                return Ok(Status::BadArgument as i32);
            }
            state.effective = id;
            Ok(0)
        },
    )?;
    linker.func_wrap("env", "proxy_done", |mut c: C<'_>| -> Ret {
        running(&mut c, "proxy_done")?;
        let state = c.data_mut();
        let effective = state.effective;
        if let Some(stream) = state.streams.get_mut(&effective) {
            stream.actions.done = true;
            stream.wake.notify_one();
        }
        Ok(0)
    })?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut c: C<'_>, ms: i32| -> Ret {
            running(&mut c, "proxy_set_tick_period_milliseconds")?;
            let state = c.data_mut();
            state.tick_period_ms = ms as u32;
            state.tick_changed.notify_one();
            Ok(0)
        },
    )?;
    Ok(())
}
