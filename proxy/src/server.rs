//! `server:` and start-up: a validated [`Config`] becomes a Pingora server with the proxy
//! service (one per process, all listeners), the admin service, the health checker and the
//! reloader; then it runs until a signal stops it.
//!
//! Signals: SIGHUP reloads the config; SIGTERM drains (readiness fails, listeners close,
//! in-flight requests finish, the process exits when none is left or at the end of
//! `server.grace_period`); SIGINT stops at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::HttpServerOptions;
use pingora::apps::http_app::HttpServer;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use tokio::signal::unix::{SignalKind, signal};

use crate::admin::{AdminApp, Readiness};
use crate::config::file::ServerSection;
use crate::config::{Config, Problems};
use crate::listeners::tls::CertStore;
use crate::listeners::{Bound, tls_settings};
use crate::metrics::Metrics;
use crate::proxy::{EdgeApp, EdgeProxy};
use crate::reload::{Generation, Generations, Reloader};
use crate::upstreams::health::HealthChecker;

/// The validated `server:` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    /// Worker threads of the proxy service.
    pub threads: usize,
    /// After SIGTERM, the longest in-flight requests may run.
    pub grace_period: Duration,
    /// After the grace period, the time runtimes get to stop.
    pub shutdown_timeout: Duration,
    /// How often the file is checked for changes; `None` when watching is off.
    pub watch_interval: Option<Duration>,
    /// Whether worker threads steal tasks from each other.
    pub work_stealing: bool,
}

/// Why Vigie could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener address could not be bound.
    #[error("cannot bind {address}: {source}")]
    Bind {
        /// The address.
        address: std::net::SocketAddr,
        /// Why the system refused it.
        source: std::io::Error,
    },
    /// The metrics registry refused a metric (a bug).
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// Pingora refused a listener setting.
    #[error("cannot configure a listener: {0}")]
    Listener(String),
    /// The session store or the cookie sealer could not be set up.
    #[error("cannot set up sessions: {0}")]
    Sessions(String),
}

/// Answers SIGTERM with a drain, SIGINT with an immediate stop.
struct Drain {
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
}

// === impl ServerSettings ===

impl ServerSettings {
    pub(crate) fn from_file(section: &ServerSection, problems: &mut Problems) -> ServerSettings {
        let threads = match &section.threads {
            Some(t) if t.value == 0 => {
                problems.report(
                    "server.threads",
                    &t.referenced,
                    "threads must be at least 1",
                );
                1
            }
            Some(t) => t.value,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        ServerSettings {
            threads,
            grace_period: section
                .grace_period
                .map_or(Duration::from_secs(10), |d| d.0),
            shutdown_timeout: section
                .shutdown_timeout
                .map_or(Duration::from_secs(5), |d| d.0),
            watch_interval: match section.watch_interval {
                Some(d) if d.0.is_zero() => None,
                Some(d) => Some(d.0),
                None => Some(Duration::from_secs(2)),
            },
            work_stealing: section.work_stealing.unwrap_or(false),
        }
    }
}

/// Builds every service from `config` and serves until a stopping signal.
pub fn run(config: Config) -> Result<(), StartError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let metrics = Metrics::new()?;
    let readiness = Arc::new(Readiness::default());
    let settings = config.server.clone();
    let limits = config.limits.clone();
    let listeners = config.listeners.clone();
    let admin_address = config.admin.address;
    let source = config.source.clone();
    let session_settings = config.sessions.clone();

    let first = Generation::build(1, config, None, &metrics);
    metrics.config_generation.set(1);
    metrics.config_loaded_at.set(crate::reload::unix_now());
    metrics.config_reload(true);
    let generations = Generations::new(first);

    let conf = ServerConf {
        threads: settings.threads,
        work_stealing: settings.work_stealing,
        grace_period_seconds: Some(settings.grace_period.as_secs_f64().ceil() as u64),
        graceful_shutdown_timeout_seconds: Some(
            settings.shutdown_timeout.as_secs_f64().ceil() as u64
        ),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let sessions = Arc::new(
        session_settings
            .build(&metrics)
            .map_err(StartError::Sessions)?,
    );
    let mut http = pingora::proxy::http_proxy(
        &server.configuration,
        EdgeProxy::new(generations.clone(), metrics.clone(), sessions),
    );
    let mut options = HttpServerOptions::default();
    options.keepalive_request_limit = Some(limits.max_requests_per_connection);
    options.h2_idle_timeout = Some(limits.h2_idle_timeout);
    http.server_options = Some(options);
    let mut h2 = pingora::protocols::http::v2::server::default_h2_options();
    h2.max_header_list_size(limits.max_request_header_size as u32);
    http.h2_options = Some(h2);
    let mut proxy = Service::new(
        "vigie proxy".into(),
        EdgeApp::new(Arc::new(http), generations.clone()),
    );

    // Reservations of `:0` ports must live as long as the process.
    let mut bound = Vec::new();
    let mut certs = Vec::new();
    for spec in &listeners {
        let b = Bound::reserve(spec.address).map_err(|source| StartError::Bind {
            address: spec.address,
            source,
        })?;
        let tls = match &spec.tls {
            Some(t) => {
                let store = CertStore::new(t.key.clone());
                certs.push((spec.name.clone(), store.clone()));
                Some(tls_settings(&store).map_err(|e| StartError::Listener(e.to_string()))?)
            }
            None => None,
        };
        tracing::info!(listener = %spec.name, address = %b.address, tls = spec.tls.is_some(), "listening");
        b.add_to(&mut proxy, tls);
        bound.push(b);
    }

    let admin_bound = Bound::reserve(admin_address).map_err(|source| StartError::Bind {
        address: admin_address,
        source,
    })?;
    let mut admin = Service::new(
        "vigie admin".into(),
        HttpServer::new_app(AdminApp::new(
            generations.clone(),
            metrics.clone(),
            readiness.clone(),
        )),
    );
    admin.threads = Some(1);
    admin_bound.add_to(&mut admin, None);
    tracing::info!(listener = "admin", address = %admin_bound.address, tls = false, "listening");

    server.add_service(proxy);
    server.add_service(admin);
    server.add_service(background_service(
        "identity provider keys",
        crate::auth::refresher::KeyRefresher::new(generations.clone()),
    ));
    server.add_service(background_service(
        "health checks",
        HealthChecker::new(generations.clone(), metrics.clone()),
    ));
    match source {
        Some(path) => {
            server.add_service(background_service(
                "config reload",
                Reloader::new(path, generations, metrics.clone(), certs, readiness.clone()),
            ));
        }
        None => readiness.signals.store(true, Ordering::Release),
    }
    server.run(RunArgs {
        shutdown_signal: Box::new(Drain { readiness, metrics }),
    });
    drop(bound);
    Ok(())
}

// === impl Drain ===

#[async_trait]
impl ShutdownSignalWatch for Drain {
    async fn recv(&self) -> ShutdownSignal {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot listen for SIGTERM/SIGINT; stopping");
            return ShutdownSignal::FastShutdown;
        };
        tokio::select! {
            _ = int.recv() => {
                tracing::info!("SIGINT: stopping now");
                ShutdownSignal::FastShutdown
            }
            _ = term.recv() => {
                tracing::info!("SIGTERM: draining");
                self.readiness.draining.store(true, Ordering::Release);
                exit_when_idle(self.metrics.clone());
                ShutdownSignal::GracefulTerminate
            }
        }
    }
}

/// Pingora waits the whole grace period after SIGTERM; exit as soon as no request is in
/// flight instead (checked twice in a row, after the listeners had time to close).
fn exit_when_idle(metrics: Arc<Metrics>) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        let mut idle_checks = 0;
        loop {
            if metrics.active_requests.get() == 0 {
                idle_checks += 1;
                if idle_checks >= 2 {
                    tracing::info!("drained: no request in flight, exiting");
                    std::process::exit(0);
                }
            } else {
                idle_checks = 0;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
}
