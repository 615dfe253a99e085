//! Reading request bodies: the content type, the size caps, and the memory budget.
//!
//! Every body is read under its endpoint's cap (`Content-Length` is checked first, then the
//! stream as it arrives), and only after reserving its size from the server-wide budget of
//! body memory (`limits.max_bodies_in_flight_bytes`): without it, unauthenticated clients
//! could make the server buffer a full body on every connection at once. A request that
//! does not fit in the budget gets 503 `server_busy` at once instead of waiting.
//!
//! A body refused for its size or content type is still read and thrown away, up to
//! [`DRAIN_BYTES`] past the cap and for at most [`DRAIN_TIME`], before the 4xx is sent: a client
//! that is still sending would otherwise see the connection reset instead of the answer.

use bytes::Bytes;
use en_api::ErrorCode;
use http_body_util::BodyExt;
use hyper::Request;
use tokio::sync::OwnedSemaphorePermit;

use crate::error::ApiError;
use crate::state::{body_permits, AppState};

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

/// How many bytes of a refused body the server reads and throws away, so that the client
/// reads the refusal instead of a reset connection. Nothing is kept.
pub const DRAIN_BYTES: usize = 8 << 20;

/// How long the server goes on reading a refused body (a client that stops sending gets
/// the refusal after this long, not after the request timeout).
pub const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads and discards up to `left` bytes of `body`, until it ends or fails, for at most
/// [`DRAIN_TIME`].
async fn drain<B: hyper::body::Body<Data = Bytes>>(body: B, mut left: usize) {
    let mut body = std::pin::pin!(body);
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(d) = frame.data_ref() {
                if d.len() >= left {
                    return;
                }
                left -= d.len();
            }
        }
    })
    .await;
}

/// A body read into memory, holding its share of the memory budget until dropped.
pub struct Body {
    /// The bytes.
    pub bytes: Bytes,
    _budget: OwnedSemaphorePermit,
}

/// Checks the content type and reads a JSON body under the size cap (the bulk cap if `bulk`).
pub async fn read_json<B: ReqBody>(
    state: &AppState,
    req: Request<B>,
    bulk: bool,
) -> Result<Body, ApiError> {
    let ct = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        drain(req.into_body(), DRAIN_BYTES).await;
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "Send the upload as Content-Type: application/json.",
        ));
    }
    let limits = &state.cfg.config.limits;
    let max = if bulk {
        limits.max_bulk_body_bytes
    } else {
        limits.max_body_bytes
    };
    read_limited(state, req, max).await
}

/// Reads a body of any content type under the cap `max` and the memory budget.
pub async fn read_limited<B: ReqBody>(
    state: &AppState,
    req: Request<B>,
    max: usize,
) -> Result<Body, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::BodyTooLarge,
            format!("The request body exceeds {max} bytes."),
        )
    };
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared.filter(|len| *len > max as u64) {
        if len <= (max + DRAIN_BYTES) as u64 {
            drain(req.into_body(), DRAIN_BYTES + max).await;
        }
        return Err(too_large());
    }
    let reserve = declared.map_or(max, |l| l as usize);
    let budget = state
        .bodies
        .clone()
        .try_acquire_many_owned(body_permits(reserve).max(1))
        .map_err(|_| {
            ApiError::new(
                ErrorCode::ServerBusy,
                "The server is receiving too many uploads at once; try again in a few seconds.",
            )
        })?;
    // hyper ends a Content-Length body at its length; the cap bounds chunked bodies.
    let mut body = std::pin::pin!(req.into_body());
    let mut buf = bytes::BytesMut::new();
    let read: Result<bool, ()> = async {
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame.map_err(|_| ())?.into_data() else {
                continue; // trailers
            };
            if buf.len() + data.len() > max {
                drain(body.as_mut(), DRAIN_BYTES).await;
                return Ok(false);
            }
            buf.extend_from_slice(&data);
        }
        Ok(true)
    }
    .await;
    match read {
        Ok(true) => Ok(Body {
            bytes: buf.freeze(),
            _budget: budget,
        }),
        Ok(false) => Err(too_large()),
        Err(_) => Err(ApiError::new(
            ErrorCode::IncompleteBody,
            "The request body ended early or was malformed.",
        )),
    }
}
