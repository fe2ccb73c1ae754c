//! The proxy-wasm ABI 0.2.1's constants and data formats (PROXY-WASM.md §1.1, §1.5, §2.1).
//!
//! Everything a guest hands over is untrusted: [`deserialize_map`] bounds the size and the
//! number of pairs, checks every length against the bytes present with overflow-free
//! arithmetic, and refuses a malformed map as a whole. What goes to a guest is written in the
//! one form every SDK reads: an empty map is four zero bytes, never the 1-byte form the spec
//! also allows (the Rust SDK panics on it).

/// `proxy_status_t`. Only some are acceptable to the SDKs for a given call (PROXY-WASM.md
/// §2.2): the host chooses per call, never returns `Unimplemented` to a Rust-SDK module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// The key, buffer or property does not exist.
    NotFound = 1,
    /// An argument is out of range.
    BadArgument = 2,
    /// A value could not be serialized.
    SerializationFailure = 3,
    /// A value could not be parsed.
    ParseFailure = 4,
    /// A pointer or length points outside the guest's memory.
    InvalidMemoryAccess = 6,
    /// A queue is empty.
    Empty = 7,
    /// Shared data changed since it was read (compare-and-swap).
    CasMismatch = 8,
    /// The host failed.
    InternalFailure = 10,
    /// Not implemented by this host.
    Unimplemented = 12,
}

/// `proxy_map_type_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapType {
    /// The request's headers (with `:method`, `:path`, `:authority`, `:scheme`).
    RequestHeaders,
    /// The request's trailers.
    RequestTrailers,
    /// The response's headers (with `:status`).
    ResponseHeaders,
    /// The response's trailers.
    ResponseTrailers,
    /// gRPC initial metadata.
    GrpcInitialMetadata,
    /// gRPC trailing metadata.
    GrpcTrailingMetadata,
    /// The headers of an HTTP callout's response.
    HttpCallResponseHeaders,
    /// The trailers of an HTTP callout's response.
    HttpCallResponseTrailers,
}

/// `proxy_buffer_type_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferType {
    /// The request body.
    HttpRequestBody,
    /// The response body.
    HttpResponseBody,
    /// L4 data from the client (not used by an HTTP filter host).
    DownstreamData,
    /// L4 data from the upstream (not used by an HTTP filter host).
    UpstreamData,
    /// The body of an HTTP callout's response.
    HttpCallResponseBody,
    /// A gRPC message.
    GrpcReceiveBuffer,
    /// The VM's configuration (during `proxy_on_vm_start`).
    VmConfiguration,
    /// The plugin's configuration (during `proxy_on_configure`).
    PluginConfiguration,
    /// The arguments of a foreign function.
    CallData,
}

/// `proxy_log_level_t` (also `plugins.NAME.log_level` in the config: `trace` ... `critical`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warning.
    Warn,
    /// Error.
    Error,
    /// Critical.
    Critical,
}

/// The ABI a module was built for, from its marker export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiVersion {
    /// `proxy_abi_version_0_1_0`: refused (other callback signatures).
    V0_1_0,
    /// `proxy_abi_version_0_2_0` (Go SDKs): served as 0.2.1.
    V0_2_0,
    /// `proxy_abi_version_0_2_1`.
    V0_2_1,
}

/// The most bytes of a serialized map accepted from a guest.
pub const MAX_MAP_BYTES: usize = 1 << 20;
/// The most pairs of a map accepted from a guest.
pub const MAX_MAP_PAIRS: usize = 1024;

/// Why a guest's serialized map is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// More than [`MAX_MAP_BYTES`].
    #[error("the map is larger than {MAX_MAP_BYTES} bytes")]
    TooLarge,
    /// More than [`MAX_MAP_PAIRS`] pairs.
    #[error("the map has more than {MAX_MAP_PAIRS} pairs")]
    TooManyPairs,
    /// The bytes end before the count, the size table or a key or value.
    #[error("the map is truncated")]
    Truncated,
    /// A key or value is not followed by its NUL byte.
    #[error("a key or value is not NUL-terminated")]
    MissingNul,
    /// Bytes remain after the last value.
    #[error("bytes follow the last value")]
    TrailingBytes,
}

macro_rules! from_i32 {
    ($ty:ident: $($n:literal => $v:ident),* $(,)?) => {
        impl $ty {
            /// The value the guest passed, if it is one.
            pub fn from_i32(n: i32) -> Option<$ty> {
                match n {
                    $($n => Some($ty::$v),)*
                    _ => None,
                }
            }
        }
    };
}

from_i32!(MapType: 0 => RequestHeaders, 1 => RequestTrailers, 2 => ResponseHeaders,
    3 => ResponseTrailers, 4 => GrpcInitialMetadata, 5 => GrpcTrailingMetadata,
    6 => HttpCallResponseHeaders, 7 => HttpCallResponseTrailers);
from_i32!(BufferType: 0 => HttpRequestBody, 1 => HttpResponseBody, 2 => DownstreamData,
    3 => UpstreamData, 4 => HttpCallResponseBody, 5 => GrpcReceiveBuffer, 6 => VmConfiguration,
    7 => PluginConfiguration, 8 => CallData);
from_i32!(LogLevel: 0 => Trace, 1 => Debug, 2 => Info, 3 => Warn, 4 => Error, 5 => Critical);

impl AbiVersion {
    /// The version an export named `name` marks, if it is a marker.
    pub fn from_export(name: &str) -> Option<AbiVersion> {
        match name {
            "proxy_abi_version_0_1_0" => Some(AbiVersion::V0_1_0),
            "proxy_abi_version_0_2_0" => Some(AbiVersion::V0_2_0),
            "proxy_abi_version_0_2_1" => Some(AbiVersion::V0_2_1),
            _ => None,
        }
    }
}

/// `pairs` in the ABI's map format: a `u32` count, a `u32` key and value length per pair,
/// then each key and value followed by a NUL byte (little-endian throughout).
pub fn serialize_map<'a>(pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone) -> Vec<u8> {
    let count = pairs.clone().into_iter().count();
    let data: usize = pairs
        .clone()
        .into_iter()
        .map(|(k, v)| k.len() + v.len() + 2)
        .sum();
    let mut out = Vec::with_capacity(4 + 8 * count + data);
    out.extend_from_slice(&(count as u32).to_le_bytes());
    for (k, v) in pairs.clone() {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k);
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

/// A map's pairs, borrowing from the serialized bytes.
pub type Pairs<'a> = Vec<(&'a [u8], &'a [u8])>;

/// The pairs of a map a guest sent (no bytes at all is an empty map).
pub fn deserialize_map(bytes: &[u8]) -> Result<Pairs<'_>, MapError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    if bytes.len() > MAX_MAP_BYTES {
        return Err(MapError::TooLarge);
    }
    let u32_at = |at: usize| -> Result<usize, MapError> {
        let word = bytes.get(at..at + 4).ok_or(MapError::Truncated)?;
        let mut le = [0u8; 4];
        le.copy_from_slice(word);
        Ok(u32::from_le_bytes(le) as usize)
    };
    let count = u32_at(0)?;
    if count > MAX_MAP_PAIRS {
        return Err(MapError::TooManyPairs);
    }
    let mut data = 4 + 8 * count;
    if data > bytes.len() {
        return Err(MapError::Truncated);
    }
    let mut take = |len: usize| -> Result<&[u8], MapError> {
        let end = data.checked_add(len).ok_or(MapError::Truncated)?;
        let value = bytes.get(data..end).ok_or(MapError::Truncated)?;
        if bytes.get(end) != Some(&0) {
            return Err(if end >= bytes.len() {
                MapError::Truncated
            } else {
                MapError::MissingNul
            });
        }
        data = end + 1;
        Ok(value)
    };
    let mut pairs = Vec::with_capacity(count);
    for i in 0..count {
        let (klen, vlen) = (u32_at(4 + 8 * i)?, u32_at(8 + 8 * i)?);
        let key = take(klen)?;
        let value = take(vlen)?;
        pairs.push((key, value));
    }
    if data != bytes.len() {
        return Err(MapError::TrailingBytes);
    }
    Ok(pairs)
}

/// The segments of a property path (`request\0path` → `request`, `path`); no bytes is the
/// empty path.
pub fn property_path(bytes: &[u8]) -> Vec<&[u8]> {
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes.split(|b| *b == 0).collect()
}

/// A list property as Envoy encodes it: a map whose keys are the items, values empty.
pub fn serialize_list<'a>(items: impl IntoIterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    serialize_map(items.into_iter().map(|i| (i, &b""[..])).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests;
