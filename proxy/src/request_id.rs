//! `X-Request-Id`: kept when the client (or a load balancer in front) sent a well-formed one,
//! generated otherwise. Well-formed means 1 to 128 characters from `[A-Za-z0-9._:-]`, so an id
//! can be written into logs and pages without escaping.

use std::fmt;

/// The id of one request, carried to the upstream, the access log and error pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(String);

/// Name of the header carrying it.
pub const HEADER: &str = "x-request-id";

impl RequestId {
    /// The client's id if well-formed, a fresh random one otherwise.
    pub fn accept_or_generate(sent: Option<&[u8]>) -> RequestId {
        match sent {
            Some(v) if is_well_formed(v) => RequestId(String::from_utf8_lossy(v).into_owned()),
            _ => RequestId::generate(),
        }
    }

    /// 128 random bits as 32 lower-case hex digits.
    pub fn generate() -> RequestId {
        RequestId(format!("{:032x}", rand::random::<u128>()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_well_formed(v: &[u8]) -> bool {
    (1..=128).contains(&v.len())
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_valid_ids_and_replaces_others() {
        assert_eq!(
            RequestId::accept_or_generate(Some(b"abc-123_x.y:z")).as_str(),
            "abc-123_x.y:z"
        );
        for bad in [
            &b""[..],
            b"has space",
            b"new\nline",
            b"<script>",
            &[b'a'; 129][..],
        ] {
            let id = RequestId::accept_or_generate(Some(bad));
            assert_eq!(id.as_str().len(), 32, "{bad:?} must be replaced");
        }
        assert_ne!(RequestId::generate(), RequestId::generate());
    }
}
