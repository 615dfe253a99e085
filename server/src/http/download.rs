//! `GET /v1/index`, `GET /v1/batches/{seq}`, `GET /v1/config`: signed bytes for phones.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use hyper::{Response, StatusCode};

use super::Resp;
use crate::error::ApiError;
use crate::state::AppState;

/// Signed binary content.
pub fn binary(body: Bytes, cache: &'static str) -> Resp {
    let mut r = Response::new(Full::new(body));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

fn storage(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "storage read failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "storage_error",
        "The server could not read its store. Try again.",
    )
}

/// The signed index of available batches.
pub fn index(state: &Arc<AppState>) -> Result<Resp, ApiError> {
    Ok(binary(state.index_bytes().map_err(storage)?, "no-cache"))
}

/// One immutable batch, with a strong ETag and 304 on `If-None-Match`.
pub fn batch(state: &Arc<AppState>, seq: &str, headers: &HeaderMap) -> Result<Resp, ApiError> {
    let seq: u64 = seq
        .parse()
        .ok()
        .filter(|s| *s > 0 && seq.bytes().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_sequence",
                "The batch sequence number must be a positive decimal integer.",
            )
        })?;
    let bytes = state.store.batch(seq).map_err(storage)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "batch_not_found",
            format!("There is no batch {seq}; it was never published or has expired."),
        )
    })?;
    let hash = state
        .store
        .batch_entry(seq)
        .map_err(storage)?
        .map(|e| e.hash);
    let etag = format!(
        "\"{}\"",
        en_protocol::hex::encode(&hash.unwrap_or_else(|| sha256(&bytes)))
    );
    let matches = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*");
    let max_age = state.cfg.config.limits.batch_cache_max_age_seconds;
    let cache =
        HeaderValue::from_str(&format!("public, max-age={max_age}, immutable")).expect("ASCII");
    let mut r = if matches {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        binary(Bytes::from(bytes.to_vec()), "no-cache")
    };
    r.headers_mut().insert(CACHE_CONTROL, cache);
    r.headers_mut()
        .insert(ETAG, HeaderValue::from_str(&etag).expect("hex"));
    Ok(r)
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}
