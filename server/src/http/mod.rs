//! HTTP: the accept loops with their limits, and the router. Handlers live in one file per
//! endpoint group and stay thin: limit → decode → verify + accept (protocol) → store → encode.
//!
//! Two listeners: the **public** one (phones and authorities: uploads, downloads, `/healthz`)
//! and the **admin** one (operators: `/metrics`, `/healthz`), loopback by default. Nothing an
//! operator needs is served in public.

mod admin;
mod body;
mod conn;
mod download;
mod revise;
mod router;
mod selfreport;
mod traces;
mod upload;
mod verify;

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::state::AppState;

pub use body::{read_json, read_limited, Body, ReqBody};
pub use router::Listener;
pub(crate) use upload::parse as parse_json;
pub use upload::UPLOAD_RESPONSE_LEN;

/// Response type of every handler.
pub type Resp = Response<Full<Bytes>>;

/// How long shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves connections on `listener` as `role` until `shutdown` resolves, then stops
/// accepting and lets requests in flight finish (up to [`SHUTDOWN_GRACE`]).
///
/// With `tls = None` the server speaks plain HTTP (only for `--insecure-http` and tests).
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<AppState>,
    role: Listener,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limits = state.cfg.config.limits.clone();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let timeouts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        // The peer address is dropped here on purpose: client addresses are never logged or stored.
        let tcp = match accepted {
            Ok((tcp, _peer)) => tcp,
            Err(e) => {
                // Typically EMFILE: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            state.metrics.connections_refused.fetch_add(1, Relaxed);
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let watcher = graceful.watcher();
        let state = state.clone();
        let tls = tls.clone();
        let limits = limits.clone();
        let timeouts = timeouts.clone();
        state.metrics.open_connections.fetch_add(1, Relaxed);
        tokio::spawn(async move {
            let _permit = permit;
            let _open = OpenGuard(state.clone());
            let io = conn::WriteDeadline::new(
                tcp,
                Duration::from_secs(limits.write_timeout_seconds),
                timeouts.clone(),
            );
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(limits.header_timeout_seconds))
                .max_buf_size(64 * 1024)
                .keep_alive(true);
            let svc_state = state.clone();
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let state = svc_state.clone();
                async move { Ok::<_, Infallible>(handle(state, role, req).await) }
            });
            let result = match tls {
                Some(acceptor) => {
                    let hs = Duration::from_secs(limits.tls_handshake_timeout_seconds);
                    match tokio::time::timeout(hs, acceptor.accept(io)).await {
                        Ok(Ok(stream)) => {
                            watcher
                                .watch(builder.serve_connection(TokioIo::new(stream), service))
                                .await
                        }
                        _ => return, // handshake failed or too slow
                    }
                }
                None => {
                    watcher
                        .watch(builder.serve_connection(TokioIo::new(io), service))
                        .await
                }
            };
            state
                .metrics
                .write_timeouts
                .store(timeouts.load(Relaxed), Relaxed);
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?role,
            "some connections did not finish within the grace period"
        );
    }
}

/// Decrements the open-connection gauge when a connection task ends, however it ends.
struct OpenGuard(Arc<AppState>);
impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.metrics.open_connections.fetch_sub(1, Relaxed);
    }
}

/// Routes one request, with the request timeout and latency metric around it.
pub async fn handle<B: ReqBody>(state: Arc<AppState>, role: Listener, req: Request<B>) -> Resp {
    let start = Instant::now();
    let timeout = Duration::from_secs(state.cfg.config.limits.request_timeout_seconds);
    let resp = match tokio::time::timeout(timeout, router::route(&state, role, req)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            state.metrics.reject(e.code.as_str());
            e.into_response()
        }
        Err(_) => {
            state
                .metrics
                .reject(en_api::ErrorCode::RequestTimeout.as_str());
            ApiError::new(
                en_api::ErrorCode::RequestTimeout,
                "The request took too long to arrive.",
            )
            .into_response()
        }
    };
    state.metrics.observe(start.elapsed());
    resp
}

/// A response with `content_type`.
pub(crate) fn respond(status: hyper::StatusCode, content_type: &'static str, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}

/// A JSON response.
pub(crate) fn json(status: hyper::StatusCode, body: String) -> Resp {
    respond(status, "application/json", Bytes::from(body))
}
