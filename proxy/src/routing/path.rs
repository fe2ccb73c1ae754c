//! Request path normalisation, done once before routing.

use std::borrow::Cow;

/// Why a request path is refused (the client gets a 400 naming it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("the path must start with '/'")]
    NotAbsolute,
    /// A `.` or `..` segment, which upstreams resolve differently.
    #[error("the path contains a '.' or '..' segment")]
    DotSegment,
    /// An encoded `/`, `\`, `.` or NUL (`%2F`, `%5C`, `%2E`, `%00`).
    #[error("the path contains an encoded '/', '\\', '.' or NUL")]
    EncodedSeparator,
    /// A raw backslash, which some servers treat as `/`.
    #[error("the path contains a backslash")]
    Backslash,
}

/// Returns the path with runs of `/` collapsed, or refuses it when its meaning could differ
/// between Vigie and the upstream (dot segments, encoded separators, backslashes).
pub fn normalize_path(path: &str) -> Result<Cow<'_, str>, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if path.contains('\\') {
        return Err(PathError::Backslash);
    }
    let bytes = path.as_bytes();
    for (i, _) in path.match_indices('%') {
        let code = bytes.get(i + 1..i + 3).map(|c| c.to_ascii_lowercase());
        if matches!(code.as_deref(), Some(b"2f" | b"5c" | b"2e" | b"00")) {
            return Err(PathError::EncodedSeparator);
        }
    }
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(PathError::DotSegment);
    }
    if !path.contains("//") {
        return Ok(Cow::Borrowed(path));
    }
    let mut out = String::with_capacity(path.len());
    let mut previous_slash = false;
    for c in path.chars() {
        if c == '/' && previous_slash {
            continue;
        }
        previous_slash = c == '/';
        out.push(c);
    }
    Ok(Cow::Owned(out))
}
