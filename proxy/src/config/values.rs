//! Small typed YAML values shared by several sections: durations, byte sizes, CIDRs,
//! socket addresses, header names and values.
//!
//! Each type parses itself during deserialisation, so a bad value is reported by serde with
//! its YAML path and line, and the rest of the program never re-parses a string.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

// === Duration ===

/// A duration written with a unit: `250ms`, `5s`, `2m`, `1h`, or a sum such as `1m30s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = || {
            format!(
                "invalid duration {s:?}: expected a number with a unit such as \"250ms\", \"5s\", \"2m\" or \"1h\""
            )
        };
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(expected());
        }
        let mut total = std::time::Duration::ZERO;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(expected());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| expected())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let part = match &rest[..unit_len] {
                "ms" => std::time::Duration::from_millis(n),
                "s" => std::time::Duration::from_secs(n),
                "m" => std::time::Duration::from_secs(n.saturating_mul(60)),
                "h" => std::time::Duration::from_secs(n.saturating_mul(3600)),
                _ => return Err(expected()),
            };
            rest = &rest[unit_len..];
            total = total.saturating_add(part);
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

// === Rate ===

/// A number of events per period: `20/s`, `600/min`, `1000/h`, or `5/10s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rate {
    /// Events allowed per period (at least 1).
    pub count: u32,
    /// The period (never zero).
    pub period: std::time::Duration,
}

impl Rate {
    /// Events per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.count) / self.period.as_secs_f64()
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = || {
            format!(
                "invalid rate {s:?}: expected a count per period such as \"20/s\", \"600/min\" or \"5/10s\""
            )
        };
        let (count, period) = s.trim().split_once('/').ok_or_else(expected)?;
        let count: u32 = count.trim().parse().map_err(|_| expected())?;
        let period = match period.trim() {
            "s" => std::time::Duration::from_secs(1),
            "m" | "min" => std::time::Duration::from_secs(60),
            "h" => std::time::Duration::from_secs(3600),
            other => other.parse::<Duration>().map_err(|_| expected())?.0,
        };
        if count == 0 || period.is_zero() {
            return Err(format!(
                "invalid rate {s:?}: the count and the period must be above zero"
            ));
        }
        Ok(Rate { count, period })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, Duration(self.period))
    }
}

// === ByteSize ===

/// A size in bytes: a plain integer, or a number with `KiB` / `MiB` (`16KiB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub usize);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (digits, factor) = if let Some(n) = s.strip_suffix("KiB") {
            (n, 1024)
        } else if let Some(n) = s.strip_suffix("MiB") {
            (n, 1024 * 1024)
        } else {
            (s, 1)
        };
        digits
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .map(ByteSize)
            .ok_or_else(|| format!("invalid size {s:?}: expected bytes such as 16384 or \"16KiB\""))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size in bytes such as 16384 or \"16KiB\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                usize::try_from(v).map(ByteSize).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                usize::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("invalid size {v}: must not be negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

// === Cidr ===

/// An IP network (`10.0.0.0/8`, `2001:db8::/32`); a bare address means that one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr(pub ipnet::IpNet);

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(net) = s.parse::<ipnet::IpNet>() {
            return Ok(Cidr(net.trunc()));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Cidr(ipnet::IpNet::from(ip)));
        }
        Err(format!(
            "invalid CIDR {s:?}: expected an address or a network such as \"10.0.0.0/8\" or \"2001:db8::/32\""
        ))
    }
}

// === ListenAddr ===

/// A socket address to listen on (`0.0.0.0:8443`, `[::]:443`, `127.0.0.1:0` for any free port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenAddr(pub SocketAddr);

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(ListenAddr).map_err(|_| {
            format!("invalid listen address {s:?}: expected IP:port such as \"0.0.0.0:8443\" or \"[::]:443\"")
        })
    }
}

// === Header names and values ===

/// A valid HTTP header name, stored lower-case.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HeaderName(pub http::HeaderName);

impl PartialOrd for HeaderName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for HeaderName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.as_str().cmp(other.0.as_str())
    }
}

impl FromStr for HeaderName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        http::HeaderName::from_bytes(s.as_bytes())
            .map(HeaderName)
            .map_err(|_| format!("invalid header name {s:?}: use letters, digits and '-'"))
    }
}

/// A valid HTTP header value (visible ASCII and spaces, no line breaks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderValue(pub http::HeaderValue);

impl FromStr for HeaderValue {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        http::HeaderValue::from_str(s)
            .map(HeaderValue)
            .map_err(|_| {
                format!("invalid header value {s:?}: no line breaks or control characters")
            })
    }
}

/// Implements `Deserialize` from a YAML string through `FromStr`, so the error message of
/// `FromStr` is what the operator reads, prefixed by the YAML path and line.
macro_rules! deserialize_from_str {
    ($($ty:ty => $expecting:literal),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    )*};
}

deserialize_from_str! {
    Duration => "a duration such as \"5s\"",
    Rate => "a rate such as \"20/s\"",
    Cidr => "a CIDR such as \"10.0.0.0/8\"",
    ListenAddr => "an address such as \"0.0.0.0:8443\"",
    HeaderName => "a header name",
    HeaderValue => "a header value",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_sums() {
        let d = |s: &str| s.parse::<Duration>().map(|d| d.0);
        assert_eq!(d("250ms"), Ok(std::time::Duration::from_millis(250)));
        assert_eq!(d("5s"), Ok(std::time::Duration::from_secs(5)));
        assert_eq!(d("1m30s"), Ok(std::time::Duration::from_secs(90)));
        assert_eq!(d("2h"), Ok(std::time::Duration::from_secs(7200)));
        for bad in ["", "5", "s", "5 s", "5d", "-1s", "1.5s"] {
            assert!(d(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn rates_parse_with_a_period() {
        let r = |s: &str| s.parse::<Rate>().map(|r| (r.count, r.period.as_millis()));
        assert_eq!(r("20/s"), Ok((20, 1000)));
        assert_eq!(r("600/min"), Ok((600, 60_000)));
        assert_eq!(r("600/m"), Ok((600, 60_000)));
        assert_eq!(r("1000/h"), Ok((1000, 3_600_000)));
        assert_eq!(r("5/10s"), Ok((5, 10_000)));
        assert_eq!(r(" 5 / 250ms "), Ok((5, 250)));
        for bad in [
            "", "20", "/s", "0/s", "5/0s", "5/d", "-1/s", "1.5/s", "5/s/s",
        ] {
            assert!(r(bad).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(
            "600/min".parse::<Rate>().map(|r| r.to_string()),
            Ok("600/60s".into())
        );
    }

    #[test]
    fn sizes_and_cidrs() {
        assert_eq!("16KiB".parse::<ByteSize>(), Ok(ByteSize(16384)));
        assert_eq!("2MiB".parse::<ByteSize>(), Ok(ByteSize(2 << 20)));
        assert!("16kb".parse::<ByteSize>().is_err());
        assert_eq!(
            "10.1.2.3/8".parse::<Cidr>().map(|c| c.0.to_string()),
            Ok("10.0.0.0/8".into())
        );
        assert_eq!(
            "::1".parse::<Cidr>().map(|c| c.0.to_string()),
            Ok("::1/128".into())
        );
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
    }
}
