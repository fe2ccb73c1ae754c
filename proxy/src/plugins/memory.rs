//! Every access to a guest's linear memory, bounds-checked here and nowhere else.
//!
//! Pointers and lengths come from the guest as `i32` and mean `u32`; a range that does not fit
//! in the memory is refused with `INVALID_MEMORY_ACCESS` (never a host panic). Data given to
//! the guest is copied into memory its own allocator returned: the returned range is checked
//! as well (a broken allocator traps the instance), and nothing is allocated for empty data
//! (the slots get 0 and 0: PROXY-WASM.md rule 8).

use wasmtime::{AsContext, AsContextMut, Caller};

use super::abi::Status;
use super::state::{HostState, Phase};

/// The byte range `ptr..ptr+len` of a memory of `size` bytes, if it fits. Nothing at any
/// pointer is valid: SDKs pass `(0, 0)` or a dangling pointer for "none" (PROXY-WASM.md §1.5).
pub fn range(size: usize, ptr: i32, len: i32) -> Option<std::ops::Range<usize>> {
    if len == 0 {
        return Some(0..0);
    }
    let start = ptr as u32 as usize;
    let end = start.checked_add(len as u32 as usize)?;
    (end <= size).then_some(start..end)
}

/// The guest's bytes at `ptr..ptr+len`, copied.
pub fn read(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<Vec<u8>, Status> {
    with(caller, ptr, len, |bytes, _| bytes.to_vec())
}

/// Runs `f` on the guest's bytes at `ptr..ptr+len` and the host state, without copying.
pub fn with<R>(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
    f: impl FnOnce(&[u8], &mut HostState) -> R,
) -> Result<R, Status> {
    let memory = caller.data().memory.ok_or(Status::InvalidMemoryAccess)?;
    let (data, state) = memory.data_and_store_mut(caller.as_context_mut());
    let r = range(data.len(), ptr, len).ok_or(Status::InvalidMemoryAccess)?;
    Ok(f(&data[r], state))
}

/// As [`with`], for an `f` that may refuse: its refusal or the memory's, as one status.
pub fn try_with<R>(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
    f: impl FnOnce(&[u8], &mut HostState) -> Result<R, Status>,
) -> Result<R, Status> {
    with(caller, ptr, len, f)?
}

/// The status of a call giving a `u32` (written at `out` when there is one).
pub fn answer_u32(caller: &mut Caller<'_, HostState>, value: Result<u32, Status>, out: i32) -> i32 {
    let written = value.and_then(|v| write_u32(caller, out, v));
    match written {
        Ok(()) => Status::Ok as i32,
        Err(s) => s as i32,
    }
}

/// Writes `bytes` at `ptr` in the guest's memory.
pub fn write(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> Result<(), Status> {
    let memory = caller.data().memory.ok_or(Status::InvalidMemoryAccess)?;
    let data = memory.data_mut(caller.as_context_mut());
    let r = range(data.len(), ptr, bytes.len() as i32).ok_or(Status::InvalidMemoryAccess)?;
    data[r].copy_from_slice(bytes);
    Ok(())
}

/// Writes a little-endian `u32` at `ptr`.
pub fn write_u32(caller: &mut Caller<'_, HostState>, ptr: i32, value: u32) -> Result<(), Status> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Writes a little-endian `u64` at `ptr`.
pub fn write_u64(caller: &mut Caller<'_, HostState>, ptr: i32, value: u64) -> Result<(), Status> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Whether `ptr..ptr+len` lies in the guest's memory.
pub fn valid(caller: &Caller<'_, HostState>, ptr: i32, len: i32) -> bool {
    caller
        .data()
        .memory
        .is_some_and(|m| range(m.data_size(caller.as_context()), ptr, len).is_some())
}

/// Gives `bytes` to the guest: allocated with its allocator, the pointer written at
/// `ptr_slot` and the length at `len_slot`. `Err(status)` for slots outside memory; a trap
/// (the outer `Err`) when the allocator fails or returns a range outside memory.
pub fn give(
    caller: &mut Caller<'_, HostState>,
    bytes: &[u8],
    ptr_slot: i32,
    len_slot: i32,
) -> wasmtime::Result<Result<(), Status>> {
    if !valid(caller, ptr_slot, 4) || !valid(caller, len_slot, 4) {
        return Ok(Err(Status::InvalidMemoryAccess));
    }
    let ptr = if bytes.is_empty() {
        0
    } else {
        let Ok(len) = i32::try_from(bytes.len()) else {
            return Ok(Err(Status::BadArgument));
        };
        let alloc = caller
            .data()
            .alloc
            .clone()
            .ok_or_else(|| wasmtime::Error::msg("the plugin has no allocator"))?;
        let phase = std::mem::replace(&mut caller.data_mut().phase, Phase::Restricted);
        let ptr = alloc.call(caller.as_context_mut(), len);
        caller.data_mut().phase = phase;
        let ptr = ptr?;
        if ptr == 0 || write(caller, ptr, bytes).is_err() {
            caller.data_mut().fault = Some(format!(
                "the plugin's allocator returned {ptr:#x} for {len} bytes, outside its memory"
            ));
            return Err(wasmtime::Error::msg(
                "allocator returned an invalid pointer",
            ));
        }
        ptr
    };
    let written = write_u32(caller, ptr_slot, ptr as u32)
        .and_then(|()| write_u32(caller, len_slot, bytes.len() as u32));
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::range;

    #[test]
    fn ranges_are_checked_without_overflow() {
        assert_eq!(range(100, 0, 100), Some(0..100));
        assert_eq!(range(100, 100, 0), Some(0..0));
        assert_eq!(
            range(100, -16, 0),
            Some(0..0),
            "nothing, anywhere, is valid"
        );
        assert_eq!(range(100, 99, 2), None);
        assert_eq!(range(100, -1, 1), None, "0xffffffff is far past the end");
        assert_eq!(range(usize::MAX, -1, -1), Some(0xffff_ffff..0x1_ffff_fffe));
        assert_eq!(range(0, 0, 0), Some(0..0));
    }
}
