//! `POST /v1/cases`, `POST /v1/cases/bulk` and `POST /v1/publish`.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::validate::{release_time, to_diagnosis_keys, validate_keys, UploadPolicy};
use en_protocol::wire::case_report::SignedCaseReport;
use en_protocol::wire::certificate::SignedCertificate;
use en_protocol::wire::key::{DiagnosisKey, UploadKey};
use en_protocol::wire::AuthorityId;
use en_protocol::{IntervalNumber, UnixTime, ValidationError, VerifyError};
use hyper::StatusCode;

use super::{json, Resp};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{certificate_key, nonce_key, NewUpload};
use en_api::json::{BulkAccepted, BulkCaseUpload, CaseUpload, PublishUpload, UploadAccepted};

/// Every accepted-upload answer is exactly this long, so real and fake uploads (and uploads of
/// different sizes) cannot be told apart by the response.
pub const UPLOAD_RESPONSE_LEN: usize = 256;

fn accepted(n: usize) -> Resp {
    let body = |pad: usize| {
        serde_json::to_string(&UploadAccepted {
            accepted_keys: n,
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

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let code = if e.is_data() {
            "invalid_request"
        } else {
            "malformed_json"
        };
        ApiError::bad_request(
            code,
            format!("The request body is not a valid upload: {e}."),
        )
    })
}

fn b64(s: &str, code: &'static str, what: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| ApiError::bad_request(code, format!("The {what} is not valid base64.")))
}

fn policy(state: &AppState) -> UploadPolicy {
    UploadPolicy {
        max_keys: state.cfg.config.max_keys_per_upload,
        max_key_age_days: state.cfg.config.max_key_age_days,
        ..UploadPolicy::default()
    }
}

/// A verified, validated upload, not yet stored.
struct Checked {
    authority: AuthorityId,
    replay: (Vec<u8>, UnixTime),
    keys: Vec<DiagnosisKey>,
}

/// Stores verified, validated uploads durably, all or none; returns the number of keys once
/// they are on disk. In a bulk upload, a refusal names the refused report.
async fn persist(
    state: &AppState,
    uploads: Vec<Checked>,
    now: UnixTime,
    bulk: bool,
) -> Result<usize, ApiError> {
    let cfg = &state.cfg.config;
    let mut n = 0;
    {
        let cut = state.cut.read().expect("cut lock");
        let uploads: Vec<NewUpload> = uploads
            .into_iter()
            .map(|u| {
                n += u.keys.len();
                let key_expiry = u
                    .keys
                    .iter()
                    .map(|k| k.meta.end().start())
                    .max()
                    .unwrap_or(now)
                    .plus((cfg.retention_days + 1) * 86_400);
                NewUpload {
                    authority: u.authority,
                    replay: u.replay,
                    keys: u
                        .keys
                        .into_iter()
                        .map(|k| {
                            let release = release_time(&k.meta, now).max(*cut);
                            (k, release)
                        })
                        .collect(),
                    key_expiry,
                    day: now.day(),
                    quota: cfg.authority_daily_upload_quota,
                }
            })
            .collect();
        state.store.insert_uploads(&uploads).map_err(|e| {
            let i = e.upload_index().filter(|_| bulk);
            let api = ApiError::from(e);
            match i {
                Some(i) => api.at_report(i),
                None => api,
            }
        })?;
    }
    durable(state).await?;
    state.metrics.keys_stored.fetch_add(n as u64, Relaxed);
    Ok(n)
}

async fn durable(state: &AppState) -> Result<(), ApiError> {
    state.committer.durable().await.map_err(|e| {
        tracing::error!(error = %e, "flush failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage_error",
            "The server could not make the upload durable. Try again.",
        )
    })
}

/// Decodes, verifies and validates one base64 signed case report.
fn check_report(state: &AppState, report: &str, now: UnixTime) -> Result<Checked, ApiError> {
    let bytes = b64(report, "malformed_report", "report")?;
    let signed = SignedCaseReport::decode(&bytes)
        .map_err(|e| ApiError::malformed("malformed_report", "case report", e))?;
    let verified = signed.verify(&state.registry)?;
    let r = verified.report();
    let cfg = &state.cfg.config;
    if r.region != state.cfg.region {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_region",
            format!(
                "This server publishes keys for region {}.",
                state.cfg.region
            ),
        ));
    }
    if r.issued_at > now.plus(cfg.clock_skew_seconds) {
        return Err(VerifyError::NotYetValid.into());
    }
    if r.issued_at.plus(cfg.max_report_age_seconds) < now {
        return Err(ValidationError::ReportTooOld.into());
    }
    validate_keys(&r.keys, now, &policy(state))?;
    Ok(Checked {
        authority: r.authority.clone(),
        replay: (
            nonce_key(&r.authority, &r.nonce),
            r.issued_at
                .plus(cfg.max_report_age_seconds + cfg.clock_skew_seconds + 1),
        ),
        keys: to_diagnosis_keys(&r.keys, r.report_type, r.symptom_onset),
    })
}

/// `POST /v1/cases`: a health authority's signed case report.
pub async fn cases(state: &Arc<AppState>, body: Bytes) -> Result<Resp, ApiError> {
    let req: CaseUpload = parse(&body)?;
    state.registry.refresh();
    let now = state.clock.now();
    let checked = check_report(state, &req.report, now)?;
    let authority = checked.authority.clone();
    let n = persist(state, vec![checked], now, false).await?;
    state.metrics.cases_accepted.fetch_add(1, Relaxed);
    tracing::info!(authority = %authority, keys = n, "case report stored");
    Ok(accepted(n))
}

/// `POST /v1/cases/bulk`: many signed case reports, stored together or not at all. Each
/// report is checked as by `POST /v1/cases`; the first refusal names its report's index.
pub async fn cases_bulk(state: &Arc<AppState>, body: Bytes) -> Result<Resp, ApiError> {
    let req: BulkCaseUpload = parse(&body)?;
    let max = state.cfg.config.max_reports_per_bulk;
    if req.reports.is_empty() || req.reports.len() > max {
        return Err(ApiError::bad_request(
            "invalid_bulk_size",
            format!(
                "A bulk upload carries 1 to {max} case reports; this one has {}.",
                req.reports.len()
            ),
        ));
    }
    state.registry.refresh();
    let now = state.clock.now();
    let mut checked = Vec::with_capacity(req.reports.len());
    for (i, report) in req.reports.iter().enumerate() {
        checked.push(check_report(state, report, now).map_err(|e| e.at_report(i))?);
        if i % 8 == 7 {
            // Verification is CPU work: let other requests on this worker run in between.
            tokio::task::yield_now().await;
        }
    }
    let reports = checked.len();
    let keys = persist(state, checked, now, true).await?;
    state
        .metrics
        .cases_accepted
        .fetch_add(reports as u64, Relaxed);
    tracing::info!(reports, keys, "bulk case reports stored");
    Ok(json(
        StatusCode::OK,
        serde_json::to_string(&BulkAccepted {
            accepted_reports: reports,
            accepted_keys: keys,
        })
        .expect("serializes"),
    ))
}

/// `POST /v1/publish`: a phone's keys with a verification certificate, or a fake upload.
pub async fn publish(state: &Arc<AppState>, body: Bytes) -> Result<Resp, ApiError> {
    let req: PublishUpload = parse(&body)?;
    if req.fake {
        // Same answer, same size, and the same wait for a durable flush as a real upload.
        durable(state).await?;
        state.metrics.fake_uploads.fetch_add(1, Relaxed);
        return Ok(accepted(req.keys.len()));
    }
    let cert = b64(&req.certificate, "malformed_certificate", "certificate")?;
    let cert = SignedCertificate::decode(&cert)
        .map_err(|e| ApiError::malformed("malformed_certificate", "verification certificate", e))?;
    let hmac_key = b64(&req.hmac_key, "invalid_hmac_key", "HMAC key")?;
    if !(16..=64).contains(&hmac_key.len()) {
        return Err(ApiError::bad_request(
            "invalid_hmac_key",
            "The HMAC key must be 16 to 64 bytes.",
        ));
    }
    let mut keys = Vec::with_capacity(req.keys.len().min(256));
    for k in &req.keys {
        let raw: [u8; 16] = b64(&k.key, "invalid_key", "key")?.try_into().map_err(|_| {
            ApiError::bad_request("invalid_key", "Each key must be exactly 16 bytes.")
        })?;
        let u = UploadKey {
            key: TemporaryExposureKey::from_bytes(raw),
            rolling_start: IntervalNumber(k.rolling_start),
            rolling_period: k.rolling_period,
            transmission_risk: k.transmission_risk,
        };
        u.check_ranges()
            .map_err(|e| ApiError::bad_request("invalid_key", format!("A key is invalid: {e}.")))?;
        keys.push(u);
    }
    let now = state.clock.now();
    let cfg = &state.cfg.config;
    state.registry.refresh();
    let verified = cert.verify(
        &state.registry,
        &state.cfg.audience,
        now,
        cfg.clock_skew_seconds,
    )?;
    // Keys are checked against the policy before the MAC so the answer says what is wrong.
    validate_keys(&keys, now, &policy(state))?;
    let certified = verified.bind(keys, &hmac_key)?;
    let c = certified.certificate();
    let keys = to_diagnosis_keys(certified.keys(), c.report_type, c.symptom_onset);
    let replay = (
        certificate_key(&c.id),
        c.expires_at.plus(cfg.clock_skew_seconds + 1),
    );
    let authority = c.authority.clone();
    let n = persist(
        state,
        vec![Checked {
            authority: c.authority.clone(),
            replay,
            keys,
        }],
        now,
        false,
    )
    .await?;
    state.metrics.publishes_accepted.fetch_add(1, Relaxed);
    tracing::info!(authority = %authority, keys = n, "certified upload stored");
    Ok(accepted(n))
}
