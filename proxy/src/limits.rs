//! `limits:`: protocol limits on client connections, and the guard that enforces the ones
//! Pingora does not (a total deadline for the request head, a configurable head size
//! answered with 431, an idle timeout between requests).

pub mod guard;

use std::time::Duration;

use crate::config::Problems;
use crate::config::file::LimitsSection;

/// Pingora refuses request heads above this size on its own (with a 400), so ours must be below.
const PINGORA_MAX_HEADER_SIZE: usize = 1_048_575;
/// Below this, ordinary browsers with a few cookies would be refused.
const MIN_HEADER_SIZE: usize = 1024;

/// The validated `limits:` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head accepted, in bytes.
    pub max_request_header_size: usize,
    /// Time allowed to send a whole request head, from its first byte.
    pub header_read_timeout: Duration,
    /// Time an idle client connection is kept between requests.
    pub keepalive_timeout: Duration,
    /// Requests served on one HTTP/1 connection before it is closed.
    pub max_requests_per_connection: u32,
    /// Time an idle HTTP/2 connection is kept.
    pub h2_idle_timeout: Duration,
}

// === impl Limits ===

impl Limits {
    pub(crate) fn from_file(section: &LimitsSection, problems: &mut Problems) -> Limits {
        let max = section.max_request_header_size.as_ref();
        if let Some(m) = max
            && !(MIN_HEADER_SIZE..=PINGORA_MAX_HEADER_SIZE).contains(&m.value.0)
        {
            problems.report(
                    "limits.max_request_header_size",
                    &m.referenced,
                    format!(
                        "{} bytes is out of range: expected between {MIN_HEADER_SIZE} and {PINGORA_MAX_HEADER_SIZE}",
                        m.value.0
                    ),
                );
        }
        let secs = |d: Option<crate::config::Duration>, default: u64| {
            d.map_or(Duration::from_secs(default), |d| d.0)
        };
        Limits {
            max_request_header_size: max.map_or(32 * 1024, |m| m.value.0),
            header_read_timeout: secs(section.header_read_timeout, 10),
            keepalive_timeout: secs(section.keepalive_timeout, 60),
            max_requests_per_connection: section.max_requests_per_connection.unwrap_or(1000),
            h2_idle_timeout: secs(section.h2_idle_timeout, 120),
        }
    }
}
