//! `POST /v1/traces`: a health authority's signed venue trace report (spec/venue.md §8.6).
//!
//! Limit → decode → verify (registered, unrevoked, region) → accept (region, freshness,
//! traced hours; `en-protocol`) → store (replay, quota, durable) → answer. The downloads of
//! the trace chain are [`super::download`]'s.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use en_api::json::{TraceAccepted, TraceUpload};
use en_api::ErrorCode;
use en_protocol::venue::SignedTraceReport;
use hyper::StatusCode;

use super::body::Body;
use super::upload::{b64, parse, registry_available};
use super::{json, Resp};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Inserted, StoreError};

/// `POST /v1/traces`. The body is read under `max_bulk_body_bytes`: a report may cover up to
/// 336 hours, 124 KB (165 KB in base64).
pub async fn upload(state: &Arc<AppState>, body: Body) -> Result<Resp, ApiError> {
    let req: TraceUpload = parse(&body.bytes)?;
    registry_available(state)?;
    let now = state.clock.now();
    let bytes = b64(&req.report, ErrorCode::MalformedTrace, "trace report")?;
    let signed = SignedTraceReport::decode(&bytes)
        .map_err(|e| ApiError::malformed(ErrorCode::MalformedTrace, "trace report", e))?;
    let trace = signed.verify(&state.registry)?.accept(&state.policy, now)?;
    let quota = state.cfg.config.authority_daily_upload_quota;
    let stored = state
        .store
        .insert_trace(&trace, quota)
        .await
        .map_err(|e| match e {
            StoreError::Replayed(_) => ApiError::new(
                ErrorCode::Replayed,
                "This trace report's nonce has already been used for another report.",
            ),
            e => ApiError::from(e),
        })?;
    let n = trace.entries().len();
    if stored == Inserted::AlreadyStored {
        tracing::info!("a retried trace report was already stored");
    } else {
        // Which venue-hours were traced is published anyway; the log says only how many.
        tracing::info!(authority = %trace.authority(), hours = n, "trace report stored");
    }
    state.metrics.traces_answered.fetch_add(1, Relaxed);
    Ok(json(
        StatusCode::OK,
        serde_json::to_string(&TraceAccepted { accepted_hours: n }).expect("serializes"),
    ))
}
