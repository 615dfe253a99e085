//! HTTP: the accept loop with its limits, and the router. Handlers live in one file per
//! endpoint group and stay thin: limit → decode → verify → persist → encode.

mod download;
mod upload;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::state::AppState;

/// Response type of every handler.
pub type Resp = Response<Full<Bytes>>;

/// How long shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves connections on `listener` until `shutdown` resolves, then stops accepting, lets
/// requests in flight finish (up to [`SHUTDOWN_GRACE`]) and flushes the store.
///
/// With `tls = None` the server speaks plain HTTP (only for `--insecure-http` and tests).
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limits = state.cfg.config.limits.clone();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
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
            state
                .metrics
                .connections_refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let watcher = graceful.watcher();
        let state = state.clone();
        let tls = tls.clone();
        let limits = limits.clone();
        state
            .metrics
            .open_connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(async move {
            let _permit = permit;
            let _open = OpenGuard(state.clone());
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(limits.header_timeout_seconds))
                .max_buf_size(64 * 1024)
                .keep_alive(true);
            let svc_state = state.clone();
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let state = svc_state.clone();
                async move { Ok::<_, Infallible>(handle(state, req).await) }
            });
            let result = match tls {
                Some(acceptor) => {
                    let hs = Duration::from_secs(limits.tls_handshake_timeout_seconds);
                    match tokio::time::timeout(hs, acceptor.accept(tcp)).await {
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
                        .watch(builder.serve_connection(TokioIo::new(tcp), service))
                        .await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: no longer accepting; finishing requests in flight");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within the grace period");
    }
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.flush()).await??;
    tracing::info!("store flushed; bye");
    Ok(())
}

/// Bodies the router accepts: hyper's `Incoming` on the wire, any in-memory body in tests
/// and fuzzing.
pub trait ReqBody:
    hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
    + Send
    + 'static
{
}
impl<B> ReqBody for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static
{
}

/// Decrements the open-connection gauge when a connection task ends, however it ends.
struct OpenGuard(Arc<AppState>);
impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0
            .metrics
            .open_connections
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Routes one request, with the request timeout and latency metric around it.
pub async fn handle<B: ReqBody>(state: Arc<AppState>, req: Request<B>) -> Resp {
    let start = Instant::now();
    let timeout = Duration::from_secs(state.cfg.config.limits.request_timeout_seconds);
    let resp = match tokio::time::timeout(timeout, route(&state, req)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            state.metrics.reject(e.code);
            e.into_response()
        }
        Err(_) => {
            state.metrics.reject("request_timeout");
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "The request took too long to arrive.",
            )
            .into_response()
        }
    };
    state.metrics.observe(start.elapsed());
    resp
}

async fn route<B: ReqBody>(state: &Arc<AppState>, req: Request<B>) -> Result<Resp, ApiError> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::POST, "/v1/cases") => {
            upload::cases(state, read_json_body(state, req, false).await?).await
        }
        (Method::POST, "/v1/cases/bulk") => {
            upload::cases_bulk(state, read_json_body(state, req, true).await?).await
        }
        (Method::POST, "/v1/publish") => {
            upload::publish(state, read_json_body(state, req, false).await?).await
        }
        (Method::GET, "/v1/index") => download::index(state),
        (Method::GET, "/v1/config") => Ok(download::binary(state.risk_config.clone(), "no-cache")),
        (Method::GET, "/healthz") => Ok(text(StatusCode::OK, "ok\n".into())),
        (Method::GET, "/metrics") => Ok(text(
            StatusCode::OK,
            state.metrics.render(
                state.store.pending_count(),
                state
                    .metrics
                    .open_connections
                    .load(std::sync::atomic::Ordering::Relaxed) as usize,
            ),
        )),
        (Method::GET, p) if p.starts_with("/v1/batches/") => {
            download::batch(state, &p["/v1/batches/".len()..], req.headers())
        }
        (
            _,
            "/v1/cases" | "/v1/cases/bulk" | "/v1/publish" | "/v1/index" | "/v1/config"
            | "/healthz" | "/metrics",
        ) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This endpoint does not support that method.",
        )),
        (_, p) if p.starts_with("/v1/batches/") => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This endpoint does not support that method.",
        )),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is no such endpoint; see spec/api.md.",
        )),
    }
}

/// Checks the content type and reads the body under the size cap (the bulk cap if `bulk`).
async fn read_json_body<B: ReqBody>(
    state: &AppState,
    req: Request<B>,
    bulk: bool,
) -> Result<Bytes, ApiError> {
    let ct = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the upload as Content-Type: application/json.",
        ));
    }
    let limits = &state.cfg.config.limits;
    let max = if bulk {
        limits.max_bulk_body_bytes
    } else {
        limits.max_body_bytes
    };
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("The request body exceeds {max} bytes."),
        )
    };
    if let Some(len) = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > max as u64 {
            return Err(too_large());
        }
    }
    match Limited::new(req.into_body(), max).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(_) => Err(ApiError::bad_request(
            "incomplete_body",
            "The request body ended early or was malformed.",
        )),
    }
}

fn text(status: StatusCode, body: String) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: String) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}
