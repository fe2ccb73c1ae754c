//! WASI preview 1 as a proxy-wasm host offers it (PROXY-WASM.md §2.3, P10, P12): standard
//! output and error go to the log, clocks and randomness work, and nothing else exists — no
//! files, no preopened directories, no arguments, an empty environment (never the host's).
//! Nothing blocks: `poll_oneoff` reports no event at once (what the Go runtime needs) and
//! `sched_yield` returns. Every other function a module imports answers `ENOSYS`.
//!
//! Registered under both `wasi_snapshot_preview1` and `wasi_unstable`.

use rand::RngCore;
use wasmtime::{Caller, ExternType, Linker, Module, Val, ValType};

use super::abi::LogLevel;
use super::memory;
use super::module::WASI_MODULES;
use super::state::HostState;

type C<'a> = Caller<'a, HostState>;

/// WASI errno values used here.
const SUCCESS: i32 = 0;
const BADF: i32 = 8;
const FAULT: i32 = 21;
const INVAL: i32 = 28;
const NOSYS: i32 = 52;
const NOTSUP: i32 = 58;

/// Largest `random_get` request.
const MAX_RANDOM: i32 = 64 << 10;
/// Largest line written to the log through `fd_write`.
const MAX_WRITE: usize = 64 << 10;

/// The WASI functions linked by name below; any other answers `ENOSYS`.
const IMPLEMENTED: &[&str] = &[
    "fd_write",
    "fd_fdstat_get",
    "fd_prestat_get",
    "fd_close",
    "clock_time_get",
    "clock_res_get",
    "random_get",
    "environ_sizes_get",
    "args_sizes_get",
    "environ_get",
    "args_get",
    "sched_yield",
    "poll_oneoff",
    "proc_exit",
];

/// Why an instance stopped on `proc_exit`.
#[derive(Debug, thiserror::Error)]
#[error("the plugin exited with code {0}")]
pub struct Exit(pub i32);

fn errno(r: Result<(), super::abi::Status>) -> i32 {
    if r.is_ok() { SUCCESS } else { FAULT }
}

/// Links the functions above into `linker`, then `ENOSYS` for the other WASI imports of
/// `module`.
pub fn link(linker: &mut Linker<HostState>, module: &Module) -> wasmtime::Result<()> {
    for wasi in WASI_MODULES {
        link_one(linker, wasi)?;
    }
    for import in module.imports() {
        let ExternType::Func(ty) = import.ty() else {
            continue;
        };
        if !WASI_MODULES.contains(&import.module()) || IMPLEMENTED.contains(&import.name()) {
            continue;
        }
        let results: Vec<ValType> = ty.results().collect();
        linker.func_new(
            import.module(),
            import.name(),
            ty.clone(),
            move |_, _, out| {
                for (slot, ty) in out.iter_mut().zip(&results) {
                    *slot = match ty {
                        ValType::I64 => Val::I64(NOSYS.into()),
                        ValType::F32 => Val::F32(0),
                        ValType::F64 => Val::F64(0),
                        _ => Val::I32(NOSYS),
                    };
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

fn link_one(linker: &mut Linker<HostState>, wasi: &str) -> wasmtime::Result<()> {
    linker.func_wrap(
        wasi,
        "fd_write",
        |mut c: C<'_>, fd: i32, iovs: i32, n: i32, written: i32| {
            let level = match fd {
                1 => LogLevel::Info,
                2 => LogLevel::Error,
                _ => return BADF,
            };
            let mut text = Vec::new();
            for i in 0..n.clamp(0, 1024) {
                let Ok(iov) = memory::read(&mut c, iovs.wrapping_add(i * 8), 8) else {
                    return FAULT;
                };
                let ptr = i32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]);
                let len = i32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]);
                match memory::read(&mut c, ptr, len) {
                    Ok(bytes) => text.extend_from_slice(&bytes[..bytes.len().min(MAX_WRITE)]),
                    Err(_) => return FAULT,
                }
            }
            let count = text.len() as u32;
            let line = String::from_utf8_lossy(&text);
            c.data().plugin.log(level, line.trim_end_matches('\n'));
            errno(memory::write_u32(&mut c, written, count))
        },
    )?;
    linker.func_wrap(wasi, "fd_fdstat_get", |mut c: C<'_>, fd: i32, out: i32| {
        if !(0..=2).contains(&fd) {
            return BADF;
        }
        // A character device, no flags, the rights to write (stdout/stderr) and nothing else.
        let mut stat = [0u8; 24];
        stat[0] = 2;
        stat[8..16].copy_from_slice(&(1u64 << 6).to_le_bytes());
        errno(memory::write(&mut c, out, &stat))
    })?;
    linker.func_wrap(wasi, "fd_prestat_get", |_: C<'_>, _: i32, _: i32| BADF)?;
    linker.func_wrap(wasi, "fd_close", |_: C<'_>, _: i32| BADF)?;
    linker.func_wrap(
        wasi,
        "clock_time_get",
        |mut c: C<'_>, id: i32, _precision: i64, out: i32| {
            let now = match id {
                0 => c
                    .data()
                    .plugin
                    .now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64),
                1 => monotonic_nanos(),
                _ => return NOTSUP,
            };
            errno(memory::write_u64(&mut c, out, now))
        },
    )?;
    linker.func_wrap(wasi, "clock_res_get", |mut c: C<'_>, id: i32, out: i32| {
        if !(0..=1).contains(&id) {
            return NOTSUP;
        }
        errno(memory::write_u64(&mut c, out, 1_000))
    })?;
    linker.func_wrap(wasi, "random_get", |mut c: C<'_>, ptr: i32, len: i32| {
        if !(0..=MAX_RANDOM).contains(&len) {
            return INVAL;
        }
        let mut bytes = vec![0u8; len as usize];
        rand::thread_rng().fill_bytes(&mut bytes);
        errno(memory::write(&mut c, ptr, &bytes))
    })?;
    for name in ["environ_sizes_get", "args_sizes_get"] {
        linker.func_wrap(wasi, name, |mut c: C<'_>, count: i32, size: i32| {
            errno(
                memory::write_u32(&mut c, count, 0)
                    .and_then(|()| memory::write_u32(&mut c, size, 0)),
            )
        })?;
    }
    for name in ["environ_get", "args_get"] {
        linker.func_wrap(wasi, name, |_: C<'_>, _: i32, _: i32| SUCCESS)?;
    }
    linker.func_wrap(wasi, "sched_yield", |_: C<'_>| SUCCESS)?;
    linker.func_wrap(
        wasi,
        "poll_oneoff",
        |mut c: C<'_>, _in: i32, _out: i32, _n: i32, events: i32| {
            errno(memory::write_u32(&mut c, events, 0))
        },
    )?;
    linker.func_wrap(
        wasi,
        "proc_exit",
        |_: C<'_>, code: i32| -> wasmtime::Result<()> { Err(wasmtime::Error::new(Exit(code))) },
    )?;
    Ok(())
}

/// Nanoseconds since the first call in this process.
fn monotonic_nanos() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}
