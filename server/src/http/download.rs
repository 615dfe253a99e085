//! `GET /v1/index`, `GET /v1/batches/{seq}`, `GET /v1/config`, and the venue trace chain's
//! `GET /v1/traces/index`, `GET /v1/traces/batches/{seq}`, and the federation chains'
//! `GET /v1/federation/{REGION}/index` and `…/batches/{seq}`: signed bytes, served
//! from shared bytes (no copy per request).

use std::sync::Arc;

use bytes::Bytes;
use en_api::ErrorCode;
use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use hyper::{Response, StatusCode};

use super::Resp;
use crate::error::ApiError;
use crate::objects::Chain;
use crate::state::AppState;

/// Signed binary content.
pub fn binary(body: Bytes, cache: HeaderValue) -> Resp {
    let mut r = Response::new(Full::new(body));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    r.headers_mut().insert(CACHE_CONTROL, cache);
    r
}

fn storage(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "reading a published object failed");
    ApiError::new(
        ErrorCode::StorageError,
        "The server could not read a published object. Try again.",
    )
}

fn not_yet() -> ApiError {
    storage("no index or risk configuration has been published yet")
}

/// The signed index of available batches (short cache: it changes with every batch and is
/// re-signed regularly).
pub fn index(state: &Arc<AppState>) -> Result<Resp, ApiError> {
    chain_index(state.objects.keys())
}

/// The signed risk configuration.
pub fn config(state: &Arc<AppState>) -> Result<Resp, ApiError> {
    let b = state.objects.config().ok_or_else(not_yet)?;
    Ok(binary(b, HeaderValue::from_static("no-cache")))
}

/// One immutable key batch, with a strong ETag and 304 on `If-None-Match`.
pub async fn batch(
    state: &Arc<AppState>,
    seq: &str,
    headers: &HeaderMap,
) -> Result<Resp, ApiError> {
    chain_batch(state, state.objects.keys(), seq, headers).await
}

/// The federation chain for `region` (spec/federation.md §2), or 404
/// `unknown_federation_region` if this server publishes none for it.
pub fn federation_chain(state: &Arc<AppState>, region: &str) -> Result<Arc<Chain>, ApiError> {
    en_protocol::wire::Region::new(region)
        .ok()
        .filter(|r| state.cfg.federation.is_outbound(r))
        .and_then(|r| state.objects.federation_chain(&r))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownFederationRegion,
                "This server publishes no federation chain for that region.",
            )
        })
}

/// The signed index of a chain's batches (`no-cache`, as the key index).
pub fn chain_index(chain: &Chain) -> Result<Resp, ApiError> {
    let b = chain.index().ok_or_else(not_yet)?;
    Ok(binary(b, HeaderValue::from_static("no-cache")))
}

/// One immutable batch of `chain`, with a strong ETag and 304 on `If-None-Match`.
pub async fn chain_batch(
    state: &Arc<AppState>,
    chain: &Chain,
    seq: &str,
    headers: &HeaderMap,
) -> Result<Resp, ApiError> {
    if seq.is_empty() || !seq.bytes().all(|c| c.is_ascii_digit()) || seq.starts_with('0') {
        return Err(ApiError::new(
            ErrorCode::InvalidSequence,
            "The batch sequence number must be a positive decimal integer without leading zeros.",
        ));
    }
    let not_found = || {
        ApiError::new(
            ErrorCode::BatchNotFound,
            format!("There is no batch {seq}; it was never published or has expired."),
        )
    };
    // A positive decimal too large for u64 cannot name a batch either.
    let n: u64 = seq.parse().map_err(|_| not_found())?;
    let (bytes, hash) = chain
        .batch(n)
        .await
        .map_err(storage)?
        .ok_or_else(not_found)?;
    let etag = format!("\"{}\"", en_protocol::hex::encode(&hash));
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
        r.headers_mut().insert(CACHE_CONTROL, cache);
        r
    } else {
        binary(bytes, cache)
    };
    r.headers_mut()
        .insert(ETAG, HeaderValue::from_str(&etag).expect("hex"));
    Ok(r)
}
