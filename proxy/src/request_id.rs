//! `X-Request-Id`: kept when the client (or a load balancer in front) sent a well-formed one,
//! generated otherwise. Well-formed means 1 to 128 characters from `[A-Za-z0-9._:-]`, so an id
//! can be written into logs and pages without escaping.

use std::fmt;

/// The id of one request, carried to the upstream, the access log and error pages. It is
/// kept as a header value so that the request and the response share it without copying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(http::HeaderValue);

/// Name of the header carrying it.
pub const HEADER: &str = "x-request-id";

impl RequestId {
    /// The client's id if well-formed, a fresh random one otherwise.
    pub fn accept_or_generate(sent: Option<&http::HeaderValue>) -> RequestId {
        match sent {
            Some(v) if is_well_formed(v.as_bytes()) => RequestId(v.clone()),
            _ => RequestId::generate(),
        }
    }

    /// 128 random bits as 32 lower-case hex digits.
    pub fn generate() -> RequestId {
        let text = format!("{:032x}", rand::random::<u128>());
        // 32 hex digits are always a valid header value.
        RequestId(http::HeaderValue::try_from(text).unwrap_or(http::HeaderValue::from_static("-")))
    }

    /// The id as text (always ASCII).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or("-")
    }

    /// The id as a header value (a cheap, shared clone).
    pub fn header_value(&self) -> http::HeaderValue {
        self.0.clone()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
        let value = |s: &[u8]| http::HeaderValue::from_bytes(s).expect("header value");
        assert_eq!(
            RequestId::accept_or_generate(Some(&value(b"abc-123_x.y:z"))).as_str(),
            "abc-123_x.y:z"
        );
        for bad in [
            &b""[..],
            b"has space",
            b"<script>",
            b"caf\xc3\xa9",
            &[b'a'; 129][..],
        ] {
            let id = RequestId::accept_or_generate(Some(&value(bad)));
            assert_eq!(id.as_str().len(), 32, "{bad:?} must be replaced");
        }
        assert_ne!(RequestId::generate(), RequestId::generate());
    }
}
