//! The connection guard: a transparent wrapper around each accepted client stream.
//!
//! For HTTP/1 it tracks where a request head starts and ends, and
//! - closes a connection idle for longer than the keep-alive timeout,
//! - answers 408 and closes when a head takes longer than the header timeout in total
//!   (a slow client sending a byte at a time cannot hold a connection forever),
//! - answers 431 and closes when a head grows past the configured size.
//!
//! The proxy tells the guard that a request is over ([`Guarded::request_done`]) so the next
//! bytes are counted as a new head. HTTP/2 connections are passed through untouched: their
//! limits are the h2 settings. Every guard counts as one active connection while it lives.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::TlsRef;
use pingora::protocols::{
    ALPN, GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, Ssl, Stream, UniqueID,
    UniqueIDType,
};
use pingora::protocols::{SocketDigest, TimingDigest};
use prometheus::{IntCounter, IntGauge};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep, sleep_until};

/// What the guard enforces on one connection, taken from the config generation current
/// when the connection was accepted.
#[derive(Clone)]
pub struct HeaderPolicy {
    /// Largest request head, in bytes.
    pub max_size: usize,
    /// Total time allowed for one request head.
    pub head_timeout: Duration,
    /// Time allowed between requests.
    pub idle_timeout: Duration,
    /// Full HTTP response sent when the head is too large.
    pub too_large: Bytes,
    /// Full HTTP response sent when the head is too slow.
    pub too_slow: Bytes,
    /// Counters and gauge the guard updates.
    pub counters: GuardCounters,
}

impl fmt::Debug for HeaderPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderPolicy")
            .field("max_size", &self.max_size)
            .field("head_timeout", &self.head_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .finish_non_exhaustive()
    }
}

/// Metrics the guard updates.
#[derive(Clone)]
pub struct GuardCounters {
    /// Client connections open now.
    pub active_connections: IntGauge,
    /// Heads refused because too large.
    pub too_large: IntCounter,
    /// Heads refused because too slow.
    pub too_slow: IntCounter,
}

/// A client stream under guard; see the module docs.
pub struct Guarded {
    inner: Stream,
    policy: Arc<HeaderPolicy>,
    phase: Phase,
    /// When the current wait must end: the first request's arrival, or a head in progress.
    /// Between later requests Pingora's own keep-alive timeout applies.
    deadline: Option<Instant>,
    /// Armed only when a read would block while a deadline applies, so a request whose head
    /// arrives in one read costs no timer operation.
    timer: Option<Pin<Box<Sleep>>>,
    request_done: AtomicBool,
}

enum Phase {
    /// HTTP/2 or another protocol: no policing.
    Passthrough,
    /// Between requests: the idle timer runs.
    Idle,
    /// Reading a head: `seen` bytes so far; `newlines` counts line breaks in a row.
    Head { seen: usize, newlines: u8 },
    /// The head is complete; the body and the response are Pingora's business.
    Body,
    /// Sending a canned refusal, then failing the read with `reason`.
    Refusing {
        response: Bytes,
        written: usize,
        reason: &'static str,
    },
}

// === impl Guarded ===

impl Guarded {
    /// Wraps an accepted (and, for HTTPS, handshaken) stream.
    pub fn new(inner: Stream, policy: Arc<HeaderPolicy>) -> Guarded {
        policy.counters.active_connections.inc();
        let h2 = matches!(inner.selected_alpn_proto(), Some(ALPN::H2));
        Guarded {
            phase: if h2 { Phase::Passthrough } else { Phase::Idle },
            deadline: (!h2).then(|| Instant::now() + policy.idle_timeout),
            timer: None,
            request_done: AtomicBool::new(false),
            inner,
            policy,
        }
    }

    /// Called by the proxy when a request on this connection is finished: the next bytes
    /// read start a new head.
    pub fn request_done(&self) {
        self.request_done.store(true, Ordering::Release);
    }

    /// Whether the current deadline has passed; otherwise makes sure `cx` is woken at it.
    fn deadline_passed(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.deadline else {
            return false;
        };
        let timer = match &mut self.timer {
            Some(t) => {
                if t.deadline() != deadline {
                    t.as_mut().reset(deadline);
                }
                t
            }
            None => self.timer.insert(Box::pin(sleep_until(deadline))),
        };
        timer.as_mut().poll(cx).is_ready()
    }

    fn refuse(&mut self, response: Bytes, reason: &'static str) {
        self.phase = Phase::Refusing {
            response,
            written: 0,
            reason,
        };
    }

    /// Scans bytes just read while in a head; moves to `Body` at the blank line ending it,
    /// or to `Refusing` when the head is too large.
    fn scan_head(&mut self, bytes: &[u8]) {
        let Phase::Head { seen, newlines } = &mut self.phase else {
            return;
        };
        for (i, b) in bytes.iter().enumerate() {
            match b {
                b'\n' => *newlines += 1,
                b'\r' => {}
                _ => *newlines = 0,
            }
            if *newlines == 2 {
                let total = *seen + i + 1;
                if total > self.policy.max_size {
                    break;
                }
                self.phase = Phase::Body;
                self.deadline = None;
                return;
            }
        }
        *seen += bytes.len();
        if *seen > self.policy.max_size {
            self.policy.counters.too_large.inc();
            self.refuse(
                self.policy.too_large.clone(),
                "request head larger than the configured limit",
            );
        }
    }

    /// Drives a canned refusal to the client, then fails the read.
    fn poll_refusal(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Phase::Refusing {
            response,
            written,
            reason,
        } = &mut self.phase
        else {
            return Poll::Ready(Ok(()));
        };
        while *written < response.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &response[*written..]))?;
            if n == 0 {
                break;
            }
            *written += n;
        }
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, *reason)))
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.policy.counters.active_connections.dec();
    }
}

impl fmt::Debug for Guarded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if matches!(this.phase, Phase::Body) && this.request_done.swap(false, Ordering::AcqRel) {
            this.phase = Phase::Idle;
        }
        match this.phase {
            Phase::Passthrough | Phase::Body => Pin::new(&mut this.inner).poll_read(cx, buf),
            Phase::Refusing { .. } => this.poll_refusal(cx),
            Phase::Idle | Phase::Head { .. } => {
                let before = buf.filled().len();
                match Pin::new(&mut this.inner).poll_read(cx, buf) {
                    Poll::Ready(Ok(())) => {
                        let new = &buf.filled()[before..];
                        if new.is_empty() {
                            return Poll::Ready(Ok(()));
                        }
                        if matches!(this.phase, Phase::Idle) {
                            this.phase = Phase::Head {
                                seen: 0,
                                newlines: 0,
                            };
                            this.deadline = Some(Instant::now() + this.policy.head_timeout);
                        }
                        this.scan_head(new);
                        if matches!(this.phase, Phase::Refusing { .. }) {
                            buf.set_filled(before);
                            return this.poll_refusal(cx);
                        }
                        Poll::Ready(Ok(()))
                    }
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => {
                        if !this.deadline_passed(cx) {
                            return Poll::Pending;
                        }
                        if matches!(this.phase, Phase::Idle) {
                            // Idle too long: a quiet end of file, as a client closing would be.
                            return Poll::Ready(Ok(()));
                        }
                        this.policy.counters.too_slow.inc();
                        this.refuse(
                            this.policy.too_slow.clone(),
                            "request head not received in time",
                        );
                        this.poll_refusal(cx)
                    }
                }
            }
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for Guarded {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await;
    }
}

impl UniqueID for Guarded {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for Guarded {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for Guarded {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for Guarded {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest);
    }
}

impl GetSocketDigest for Guarded {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest);
    }
}

#[async_trait]
impl Peek for Guarded {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}
