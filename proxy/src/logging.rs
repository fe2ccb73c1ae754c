//! `logging:`: the tracing subscriber (JSON lines by default) and the access log, one JSON
//! line per request with target `vigie::access`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tracing_subscriber::EnvFilter;

use crate::config::file::{LogFormat, LoggingSection};

/// Target of access-log events, so they can be filtered or routed apart.
pub const ACCESS_TARGET: &str = "vigie::access";

/// The validated `logging:` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// JSON or text.
    pub format: LogFormat,
    /// Default filter when `RUST_LOG` is not set.
    pub level: String,
    /// Whether an access-log line is written per request.
    pub access_log: bool,
}

/// One finished request, as the access log records it.
#[derive(Debug)]
pub struct AccessRecord<'a> {
    /// Request id.
    pub request_id: &'a str,
    /// Route name, empty when none matched.
    pub route: &'a str,
    /// Client address (after trusted-proxy handling).
    pub client: Option<IpAddr>,
    /// HTTP method.
    pub method: &'a str,
    /// Path, without the query string (it may carry personal data or tokens).
    pub path: &'a str,
    /// Status sent to the client (0 when none could be sent).
    pub status: u16,
    /// Body bytes sent to the client.
    pub bytes: usize,
    /// Time from request head to end of response.
    pub duration: Duration,
    /// Backend address, when one was chosen.
    pub upstream: Option<SocketAddr>,
    /// Config generation that served the request.
    pub generation: u64,
}

// === impl LogSettings ===

impl LogSettings {
    pub(crate) fn from_file(section: &LoggingSection) -> LogSettings {
        LogSettings {
            format: section.format.unwrap_or_default(),
            level: section.level.clone().unwrap_or_else(|| "info".into()),
            access_log: section.access_log.unwrap_or(true),
        }
    }

    /// Installs the process-wide subscriber (once, at start-up). `log` records from Pingora
    /// are captured too.
    pub fn install(&self) {
        let filter = EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(&self.level))
            .unwrap_or_else(|_| EnvFilter::new("info"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stdout);
        let installed = match self.format {
            LogFormat::Json => builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .try_init(),
            LogFormat::Text => builder.try_init(),
        };
        // A second install (tests, `vigie check` then run) keeps the first subscriber.
        drop(installed);
    }
}

// === impl AccessRecord ===

impl AccessRecord<'_> {
    /// Writes the access-log line.
    pub fn emit(&self) {
        tracing::info!(
            target: ACCESS_TARGET,
            request_id = self.request_id,
            route = self.route,
            client = self.client.map(tracing::field::display),
            method = self.method,
            path = self.path,
            status = self.status,
            bytes = self.bytes,
            duration_ms = self.duration.as_micros() as f64 / 1000.0,
            upstream = self.upstream.map(tracing::field::display),
            generation = self.generation,
            "access"
        );
    }
}
