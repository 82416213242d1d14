//! Bounds on TCP connections, before any request is decoded: a cap on the
//! connections open at once, and a deadline for a new connection to start
//! talking.
//!
//! * **Cap** ([`Limits::max_connections`](crate::config::Limits)): a
//!   connection accepted while the cap is reached is closed at once (the
//!   client sees a reset and retries later), counted in
//!   [`ConnectionStats::refused`] and logged at most once per
//!   [`REFUSAL_LOG_INTERVAL`].
//! * **First bytes** ([`Limits::first_bytes_timeout`](crate::config::Limits)):
//!   a connection that has sent fewer than [`FIRST_BYTES`] bytes when the
//!   timeout runs out is closed and counted in [`ConnectionStats::silent`].
//!   That covers idle sockets and stalled TLS handshakes (a ClientHello is
//!   larger) and stops there: once a client has spoken, HTTP/2 keep-alive
//!   pings and the per-call limits take over, and a long update stream is
//!   never cut.
//!
//! This module owns connections only; it never looks at what they carry.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Bytes a new connection must send before the first-bytes timeout: fewer
/// than a TLS ClientHello or an HTTP/2 preface with its SETTINGS frame.
pub const FIRST_BYTES: usize = 64;

/// Refused connections are logged at most this often (with the count since
/// the last line), so a flood does not flood the log.
pub const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// What the bounds did, for logs and (later) metrics.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections closed at once because the cap was reached.
    pub refused: AtomicU64,
    /// Connections closed for sending too little before the timeout.
    pub silent: AtomicU64,
}

/// The accepted connections of `listener`, bounded as the module says.
pub fn bounded(
    listener: TcpListener,
    max_connections: usize,
    first_bytes_timeout: Duration,
    stats: Arc<ConnectionStats>,
) -> impl Stream<Item = io::Result<Bounded>> {
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut last_log: Option<Instant> = None;
    let mut unlogged = 0u64;
    tokio_stream::wrappers::TcpListenerStream::new(listener).filter_map(move |accepted| {
        let tcp = match accepted {
            Ok(tcp) => tcp,
            Err(e) => return Some(Err(e)),
        };
        match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => Some(Ok(Bounded::new(
                tcp,
                permit,
                first_bytes_timeout,
                Arc::clone(&stats),
            ))),
            Err(_) => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                unlogged += 1;
                if last_log.is_none_or(|at| at.elapsed() >= REFUSAL_LOG_INTERVAL) {
                    tracing::warn!(
                        refused = unlogged,
                        open = max_connections,
                        "refused connections at the cap (limits.max_connections)"
                    );
                    last_log = Some(Instant::now());
                    unlogged = 0;
                }
                // Dropping the stream closes it.
                None
            }
        }
    })
}

/// A connection holding its place under the cap until it closes.
#[derive(Debug)]
pub struct Bounded {
    tcp: TcpStream,
    /// Set until the connection has sent [`FIRST_BYTES`].
    deadline: Option<Pin<Box<Sleep>>>,
    read: usize,
    stats: Arc<ConnectionStats>,
    _permit: OwnedSemaphorePermit,
}

impl Bounded {
    fn new(
        tcp: TcpStream,
        permit: OwnedSemaphorePermit,
        first_bytes_timeout: Duration,
        stats: Arc<ConnectionStats>,
    ) -> Bounded {
        stats.open.fetch_add(1, Ordering::Relaxed);
        Bounded {
            tcp,
            deadline: Some(Box::pin(tokio::time::sleep(first_bytes_timeout))),
            read: 0,
            stats,
            _permit: permit,
        }
    }
}

impl Drop for Bounded {
    fn drop(&mut self) {
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Bounded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.read += buf.filled().len() - before;
            if self.read >= FIRST_BYTES {
                self.deadline = None;
            }
            return polled;
        }
        // Still waiting for the first bytes: the deadline wakes this task too.
        if let Some(deadline) = self.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            self.stats.silent.fetch_add(1, Ordering::Relaxed);
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection sent too little before limits.first_bytes_timeout",
            )));
        }
        polled
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

impl Connected for Bounded {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.tcp.connect_info()
    }
}
