//! `POST /v1/cases`, `POST /v1/cases/bulk` and `POST /v1/publish`.
//!
//! Each is limit → decode → verify → accept (the protocol's rules, in `en-protocol`) → store.
//! A phone upload's fake twin ("chaff") is answered after the same checks, the same kind of
//! work and the same durable write, with an answer of the same length: see [`publish`].

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use base64::Engine;
use en_api::json::{
    check_visited_regions, BulkAccepted, BulkCaseUpload, CaseUpload, JsonKey, PublishUpload,
    UploadAccepted, VisitedRegionsError,
};
use en_api::ErrorCode;
use en_protocol::accept::AcceptedUpload;
use en_protocol::validate::validate_keys;
use en_protocol::wire::case_report::SignedCaseReport;
use en_protocol::wire::certificate::{SignedCertificate, VerifiedCertificate};
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::Region;
use en_protocol::UnixTime;
use hyper::StatusCode;

use super::body::Body;
use super::{json, Resp};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Inserted;

/// Every accepted-upload answer is exactly this long, so real and fake uploads (and uploads of
/// different sizes) cannot be told apart by the response.
pub const UPLOAD_RESPONSE_LEN: usize = 256;

pub(super) fn accepted(n: usize, revision_token: Option<String>) -> Resp {
    let body = |pad: usize| {
        serde_json::to_string(&UploadAccepted {
            accepted_keys: n,
            revision_token: revision_token.clone(),
            padding: "=".repeat(pad),
        })
        .expect("serializes")
    };
    let base = body(0).len();
    json(
        StatusCode::OK,
        body(UPLOAD_RESPONSE_LEN.saturating_sub(base)),
    )
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let code = if e.is_data() {
            ErrorCode::InvalidRequest
        } else {
            ErrorCode::MalformedJson
        };
        ApiError::new(
            code,
            format!("The request body is not a valid upload: {e}."),
        )
    })
}

pub(super) fn b64(s: &str, code: ErrorCode, what: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| ApiError::new(code, format!("The {what} is not valid base64.")))
}

/// Refuses uploads while the authority registry is unreadable (it fails closed).
/// Decodes a phone upload's or revision's verification certificate and verifies it against
/// the registry at `now` (its authority, audience, validity and signature).
pub(super) fn verified_certificate(
    state: &AppState,
    certificate: &[u8],
    now: UnixTime,
) -> Result<VerifiedCertificate, ApiError> {
    let cert = SignedCertificate::decode(certificate).map_err(|e| {
        ApiError::malformed(
            ErrorCode::MalformedCertificate,
            "verification certificate",
            e,
        )
    })?;
    registry_available(state)?;
    Ok(cert.verify(
        &state.registry,
        &state.policy.audience,
        now,
        state.policy.clock_skew_seconds,
    )?)
}

pub(super) fn registry_available(state: &AppState) -> Result<(), ApiError> {
    if state.registry.refresh() {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::RegistryUnavailable,
            "The server cannot read its list of health authorities; uploads are refused until an operator fixes it.",
        ))
    }
}

/// Stores accepted uploads durably, all or none; returns the number of keys. In a bulk
/// upload, a refusal names the refused report.
async fn store(
    state: &AppState,
    uploads: &[AcceptedUpload],
    destinations: &[Vec<Region>],
    bulk: bool,
) -> Result<usize, ApiError> {
    let quota = state.cfg.config.authority_daily_upload_quota;
    let r = state
        .store
        .insert_destined(uploads, destinations, quota)
        .await
        .map_err(|e| {
            let i = e.upload_index().filter(|_| bulk);
            let api = ApiError::from(e);
            match i {
                Some(i) => api.at_report(i),
                None => api,
            }
        })?;
    if r == Inserted::AlreadyStored {
        tracing::info!("a retried upload was already stored");
    }
    Ok(uploads.iter().map(|u| u.keys().len()).sum())
}

/// The revision token for a stored upload of a revisable type (clinical, self-report), base64.
fn revision_token(state: &AppState, upload: &AcceptedUpload, now: UnixTime) -> Option<String> {
    let lifetime = en_protocol::wire::revision::DEFAULT_LIFETIME_SECONDS;
    state
        .revision
        .issue_for(upload, now, lifetime, &mut rand::rngs::OsRng)
        .map(|t| base64::engine::general_purpose::STANDARD.encode(t.encode()))
}

/// Decodes, verifies and accepts one base64 signed case report.
fn check_report(state: &AppState, report: &str, now: UnixTime) -> Result<AcceptedUpload, ApiError> {
    let bytes = b64(report, ErrorCode::MalformedReport, "report")?;
    let signed = SignedCaseReport::decode(&bytes)
        .map_err(|e| ApiError::malformed(ErrorCode::MalformedReport, "case report", e))?;
    Ok(signed.verify(&state.registry)?.accept(&state.policy, now)?)
}

/// `POST /v1/cases`: a health authority's signed case report.
pub async fn cases(state: &Arc<AppState>, body: Body) -> Result<Resp, ApiError> {
    let req: CaseUpload = parse(&body.bytes)?;
    registry_available(state)?;
    let now = state.clock.now();
    let upload = check_report(state, &req.report, now)?;
    let n = store(state, std::slice::from_ref(&upload), &[], false).await?;
    state.metrics.cases_answered.fetch_add(1, Relaxed);
    tracing::info!(authority = %upload.authority(), keys = n, "case report stored");
    Ok(accepted(n, revision_token(state, &upload, now)))
}

/// `POST /v1/cases/bulk`: many signed case reports, stored together or not at all. Each
/// report is checked as by `POST /v1/cases`; the first refusal names its report's index.
pub async fn cases_bulk(state: &Arc<AppState>, body: Body) -> Result<Resp, ApiError> {
    let req: BulkCaseUpload = parse(&body.bytes)?;
    let max = state.cfg.config.max_reports_per_bulk;
    if req.reports.is_empty() || req.reports.len() > max {
        return Err(ApiError::new(
            ErrorCode::InvalidBulkSize,
            format!(
                "A bulk upload carries 1 to {max} case reports; this one has {}.",
                req.reports.len()
            ),
        ));
    }
    registry_available(state)?;
    let now = state.clock.now();
    let mut uploads = Vec::with_capacity(req.reports.len());
    for (i, report) in req.reports.iter().enumerate() {
        uploads.push(check_report(state, report, now).map_err(|e| e.at_report(i))?);
        if i % 8 == 7 {
            // Verification is CPU work: let other requests on this worker run in between.
            tokio::task::yield_now().await;
        }
    }
    let keys = store(state, &uploads, &[], true).await?;
    state.metrics.bulk_answered.fetch_add(1, Relaxed);
    tracing::info!(reports = uploads.len(), keys, "bulk case reports stored");
    Ok(json(
        StatusCode::OK,
        serde_json::to_string(&BulkAccepted {
            accepted_reports: uploads.len(),
            accepted_keys: keys,
        })
        .expect("serializes"),
    ))
}

/// What every phone upload is checked for before anything else, real or fake, so a malformed
/// fake gets the same 400 a malformed real one gets.
pub(super) struct Shape {
    pub(super) certificate: Vec<u8>,
    pub(super) hmac_key: Vec<u8>,
    pub(super) keys: Vec<UploadKey>,
    visited: Vec<Region>,
}

fn shape(state: &AppState, body: &[u8], req: &PublishUpload) -> Result<Shape, ApiError> {
    shape_of(
        state,
        body,
        &req.certificate,
        &req.hmac_key,
        &req.keys,
        &req.visited_regions,
    )
}

/// The shape checks of a phone upload's parts (also a revision's: `POST /v1/revisions`).
pub(super) fn shape_of(
    state: &AppState,
    body: &[u8],
    certificate: &str,
    hmac_key: &str,
    keys: &[JsonKey],
    visited_regions: &[String],
) -> Result<Shape, ApiError> {
    let want = state.cfg.config.publish_body_bytes;
    if want != 0 && body.len() != want {
        return Err(ApiError::new(
            ErrorCode::UploadNotPadded,
            format!("Phone uploads must be padded to exactly {want} bytes (the body has {}); see spec/api.md.", body.len()),
        ));
    }
    let max = state.policy.keys.max_keys;
    if keys.is_empty() {
        return Err(ApiError::new(
            ErrorCode::NoKeys,
            "The upload contains no keys.",
        ));
    }
    if keys.len() > max {
        return Err(ApiError::new(
            ErrorCode::TooManyKeys,
            format!(
                "The upload contains {} keys; at most {max} are accepted.",
                keys.len()
            ),
        ));
    }
    let keys = keys
        .iter()
        .map(JsonKey::to_upload_key)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidKey,
                format!("{}.", capitalise(&e.to_string())),
            )
        })?;
    let visited = check_visited_regions(visited_regions, &state.cfg.region).map_err(|e| {
        let code = match e {
            VisitedRegionsError::TooMany(_) => ErrorCode::TooManyVisitedRegions,
            _ => ErrorCode::InvalidVisitedRegion,
        };
        ApiError::new(code, format!("{}.", capitalise(&e.to_string())))
    })?;
    let hmac_key = b64(hmac_key, ErrorCode::InvalidHmacKey, "HMAC key")?;
    if !(16..=64).contains(&hmac_key.len()) {
        return Err(ApiError::new(
            ErrorCode::InvalidHmacKey,
            "The HMAC key must be 16 to 64 bytes.",
        ));
    }
    let certificate = b64(certificate, ErrorCode::MalformedCertificate, "certificate")?;
    Ok(Shape {
        certificate,
        hmac_key,
        keys,
        visited,
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// `POST /v1/publish`: a phone's keys with a verification certificate, or a fake upload.
///
/// A fake upload passes the same shape checks, then does the same kind of work as a real
/// one — a certificate decoded and its signature verified (the server's own decoy
/// certificate), the keys checked against the rules and MAC'd with the phone's HMAC key —
/// and the same durable write (as many bytes, the same group commit), and gets an answer of
/// the same length. `en-sim bench --only chaff` measures how well that holds.
pub async fn publish(state: &Arc<AppState>, body: Body) -> Result<Resp, ApiError> {
    let req: PublishUpload = parse(&body.bytes)?;
    let s = shape(state, &body.bytes, &req)?;
    let now = state.clock.now();
    if req.fake {
        return fake(state, s, now).await;
    }
    let verified = verified_certificate(state, &s.certificate, now)?;
    // Keys are checked against the rules before the MAC so the answer says what is wrong.
    validate_keys(&s.keys, now, &state.policy.keys)?;
    let upload = verified
        .bind(s.keys, &s.hmac_key)?
        .accept(&state.policy, now)?;
    let destinations = destinations(state, &upload, &s.visited);
    let n = store(
        state,
        std::slice::from_ref(&upload),
        std::slice::from_ref(&destinations),
        false,
    )
    .await?;
    state.metrics.publish_answered.fetch_add(1, Relaxed);
    super::verify::count_keys(state, &upload, now).await;
    tracing::info!(authority = %upload.authority(), keys = n, "certified upload stored");
    Ok(accepted(n, revision_token(state, &upload, now)))
}

/// A fake phone upload (or revision): the same kind of work as a real one — a certificate
/// decoded and its signature verified (the server's own decoy certificate), the keys checked
/// against the rules and MAC'd with the phone's HMAC key — and the same durable write, then
/// an answer of the same length.
pub(super) async fn fake(state: &AppState, s: Shape, now: UnixTime) -> Result<Resp, ApiError> {
    let n = s.keys.len();
    let decoy = SignedCertificate::decode(&state.decoy.certificate)
        .map_err(|e| ApiError::malformed(ErrorCode::MalformedCertificate, "certificate", e))?;
    if let Ok(v) = decoy.verify(
        &state.decoy.registry,
        &state.policy.audience,
        now,
        state.policy.clock_skew_seconds,
    ) {
        let _ = validate_keys(&s.keys, now, &state.policy.keys);
        let _ = v.bind(s.keys, &s.hmac_key);
    }
    state.store.chaff(n).await.map_err(ApiError::from)?;
    state.metrics.publish_answered.fetch_add(1, Relaxed);
    Ok(accepted(n, None))
}

/// The federation chains an accepted phone upload's keys go to (spec/federation.md §1): the
/// visited regions this server publishes a chain for, if the certifying authority may share.
fn destinations(state: &AppState, upload: &AcceptedUpload, visited: &[Region]) -> Vec<Region> {
    let f = &state.cfg.federation;
    if !f.may_share(upload.authority()) {
        return Vec::new();
    }
    visited
        .iter()
        .filter(|r| f.is_outbound(r))
        .cloned()
        .collect()
}
