//! A connection's byte stream with a write deadline.
//!
//! hyper's timeouts cover reading a request's headers; nothing covers a peer that stops
//! reading our answers. A client that pipelines requests and never reads would hold its
//! connection slot for as long as it likes. This wrapper fails a write (and so closes the
//! connection) when the peer has taken none of our bytes for the write timeout.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// `io` whose writes fail after `timeout` without progress.
pub struct WriteDeadline<T> {
    io: T,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
    timeouts: Arc<AtomicU64>,
}

impl<T> WriteDeadline<T> {
    /// Wraps `io`; `timeouts` counts connections closed this way.
    pub fn new(io: T, timeout: Duration, timeouts: Arc<AtomicU64>) -> Self {
        WriteDeadline {
            io,
            timeout,
            stalled: None,
            timeouts,
        }
    }

    /// Called when the inner write is pending: arms the deadline, or reports it passed.
    fn stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let timeout = self.timeout;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.timeouts.fetch_add(1, Relaxed);
                Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer did not read the answer in time",
                ))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write(cx, buf) {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.stall(cx).map(Err),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.io).poll_flush(cx) {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.stall(cx).map(Err),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.io).poll_shutdown(cx) {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => self.stall(cx).map(Err),
        }
    }
}
