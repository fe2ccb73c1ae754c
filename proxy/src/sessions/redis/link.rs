//! The connection to Redis (one server, or a cluster), every command under a deadline, and
//! the revocation channel: a RESP3 subscription kept alive by a background task, whose
//! messages and disconnections are handed to the store as [`Event`]s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{FromRedisValue, PushInfo, PushKind};

use super::super::StoreError;
use super::RedisSettings;

/// What the subscription tells the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Event {
    /// A node ended the session whose key digest is this.
    Revoked(String),
    /// Revocations may have been missed (the connection dropped): forget every local copy.
    Lost,
}

/// See the module docs.
pub(super) struct Link {
    conn: Conn,
    state: Arc<LinkState>,
    timeout: Duration,
    _keeper: Keeper,
}

enum Conn {
    Single(ConnectionManager),
    /// Set once the cluster answered (it may be down when Vigie starts).
    Cluster(Arc<ArcSwapOption<ClusterConnection>>),
}

/// Shared with the push handler and the keeper task.
struct LinkState {
    channel: String,
    subscribed: AtomicBool,
    /// Bumped by every event: a read that saw another epoch must not fill the local cache.
    epoch: AtomicU64,
    on_event: Box<dyn Fn(Event) + Send + Sync>,
}

/// The runtime of the keeper task; stopped when the link goes.
struct Keeper(Option<tokio::runtime::Runtime>);

/// How often the keeper checks the subscription (and the cluster connection).
const KEEP_EVERY: Duration = Duration::from_millis(250);

// === impl Link ===

impl Link {
    /// Connects lazily to the store `settings` names, subscribed to `channel`; `on_event`
    /// runs on Redis's I/O tasks and must not block.
    pub(super) fn start(
        settings: &RedisSettings,
        channel: String,
        on_event: impl Fn(Event) + Send + Sync + 'static,
    ) -> Result<Link, String> {
        let infos = settings.connection_infos()?;
        let state = Arc::new(LinkState {
            channel,
            subscribed: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            on_event: Box::new(on_event),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("vigie-redis")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the Redis runtime: {e}"))?;
        let pushes = {
            let state = state.clone();
            move |push: PushInfo| {
                state.on_push(push);
                Ok::<(), std::convert::Infallible>(())
            }
        };
        let timeout = settings.timeout;
        let conn = if settings.cluster {
            let first = infos
                .first()
                .ok_or("no Redis URL")?
                .redis_settings()
                .clone();
            let mut builder = ClusterClientBuilder::new(infos)
                .use_protocol(redis::ProtocolVersion::RESP3)
                .push_sender(pushes)
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(1);
            if let Some(user) = first.username() {
                builder = builder.username(user);
            }
            if let Some(password) = first.password() {
                builder = builder.password(password);
            }
            let client = builder.build().map_err(|e| e.to_string())?;
            let slot = Arc::new(ArcSwapOption::empty());
            runtime.spawn(keep_cluster(client, slot.clone(), timeout));
            Conn::Cluster(slot)
        } else {
            let info = infos.into_iter().next().ok_or("no Redis URL")?;
            let client = redis::Client::open(info).map_err(|e| e.to_string())?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_secs(1))
                .set_push_sender(pushes);
            let _in_runtime = runtime.enter();
            Conn::Single(
                ConnectionManager::new_lazy_with_config(client, config)
                    .map_err(|e| e.to_string())?,
            )
        };
        let link = Link {
            conn,
            state: state.clone(),
            timeout,
            _keeper: Keeper(None),
        };
        runtime.spawn(keep_subscribed(link.handle(), state));
        Ok(Link {
            _keeper: Keeper(Some(runtime)),
            ..link
        })
    }

    /// Runs `cmd`, within the configured timeout.
    pub(super) async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        let run = async {
            match &self.conn {
                Conn::Single(manager) => cmd.query_async(&mut manager.clone()).await,
                Conn::Cluster(slot) => match slot.load_full() {
                    Some(conn) => cmd.query_async(&mut (*conn).clone()).await,
                    None => Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "the cluster has not answered yet",
                    ))),
                },
            }
        };
        match tokio::time::timeout(self.timeout, run).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(StoreError(format!("Redis: {e}"))),
            Err(_) => Err(StoreError(format!(
                "Redis did not answer within {:?}",
                self.timeout
            ))),
        }
    }

    /// Whether revocations are being received now (the local cache may be trusted).
    pub(super) fn is_subscribed(&self) -> bool {
        self.state.subscribed.load(Ordering::Acquire)
    }

    /// The current epoch (see [`LinkState::epoch`]).
    pub(super) fn epoch(&self) -> u64 {
        self.state.epoch.load(Ordering::Acquire)
    }

    /// A second handle on the same connection, for the keeper.
    fn handle(&self) -> Link {
        Link {
            conn: match &self.conn {
                Conn::Single(m) => Conn::Single(m.clone()),
                Conn::Cluster(slot) => Conn::Cluster(slot.clone()),
            },
            state: self.state.clone(),
            timeout: self.timeout,
            _keeper: Keeper(None),
        }
    }
}

// === impl LinkState ===

impl LinkState {
    fn on_push(&self, push: PushInfo) {
        match push.kind {
            PushKind::Disconnection => {
                if self.subscribed.swap(false, Ordering::AcqRel) {
                    tracing::warn!(
                        "lost the connection to Redis; reconnecting (session routes answer 503 meanwhile)"
                    );
                }
                self.event(Event::Lost);
            }
            PushKind::Message => {
                // [channel, payload]
                let text = |v: &redis::Value| String::from_redis_value(v.clone()).ok();
                let channel = push.data.first().and_then(text);
                if channel.as_deref() == Some(self.channel.as_str())
                    && let Some(digest) = push.data.get(1).and_then(text)
                {
                    self.event(Event::Revoked(digest));
                }
            }
            _ => {}
        }
    }

    fn event(&self, event: Event) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        (self.on_event)(event);
    }
}

/// Subscribes whenever the link is not subscribed (at start, and after each disconnection).
async fn keep_subscribed(link: Link, state: Arc<LinkState>) {
    loop {
        if !state.subscribed.load(Ordering::Acquire) {
            let subscribed = match &link.conn {
                Conn::Single(manager) => {
                    tokio::time::timeout(link.timeout, manager.clone().subscribe(&state.channel))
                        .await
                }
                Conn::Cluster(slot) => match slot.load_full() {
                    Some(conn) => {
                        tokio::time::timeout(
                            link.timeout,
                            (*conn).clone().subscribe(&state.channel),
                        )
                        .await
                    }
                    None => Ok(Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "not connected",
                    )))),
                },
            };
            if let Ok(Ok(())) = subscribed {
                // Anything cached before may have missed a revocation.
                state.event(Event::Lost);
                state.subscribed.store(true, Ordering::Release);
                tracing::info!(channel = %state.channel, "receiving session revocations from Redis");
            }
        }
        tokio::time::sleep(KEEP_EVERY).await;
    }
}

/// Connects to the cluster, retrying until it answers.
async fn keep_cluster(
    client: redis::cluster::ClusterClient,
    slot: Arc<ArcSwapOption<ClusterConnection>>,
    timeout: Duration,
) {
    let mut warned = false;
    while slot.load().is_none() {
        match tokio::time::timeout(timeout * 4, client.get_async_connection()).await {
            Ok(Ok(conn)) => slot.store(Some(Arc::new(conn))),
            Ok(Err(e)) if !warned => {
                tracing::warn!(error = %e, "cannot reach the Redis cluster yet; session routes answer 503");
                warned = true;
            }
            _ => {}
        }
        tokio::time::sleep(KEEP_EVERY).await;
    }
}

// === impl Keeper ===

impl Drop for Keeper {
    fn drop(&mut self) {
        // Not `drop(runtime)`: the link may be dropped inside another runtime.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
