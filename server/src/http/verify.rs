//! `POST /v1/verify` and `POST /v1/certificate`: a phone exchanges a verification code for a
//! token, and the token with its tekmac for a certificate (then `POST /v1/publish`).
//!
//! Both are padded like phone uploads: the body must be exactly `console.phone_request_bytes`
//! long, every accepted answer is one fixed size, fake requests (`"fake": true`) do the same
//! kind of work and change nothing, and the router releases every answer on the common
//! schedule ([`crate::AppState::publish_release`]).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use en_api::verify::{
    padded, CertificateAnswer, CertificateRequest, VerifyRequest, CERTIFICATE_ANSWER_BYTES,
    VERIFY_ANSWER_BYTES,
};
use en_api::ErrorCode;
use en_protocol::accept::AcceptedUpload;
use en_protocol::UnixTime;
use hyper::StatusCode;

use super::body::Body;
use super::upload::{b64, parse};
use super::{respond, Resp};
use crate::error::ApiError;
use crate::state::AppState;

fn check_padding(state: &AppState, body: &[u8]) -> Result<(), ApiError> {
    let want = state.cfg.config.console.phone_request_bytes;
    if want != 0 && body.len() != want {
        return Err(ApiError::new(
            ErrorCode::UploadNotPadded,
            format!("Phone requests must be padded to exactly {want} bytes (the body has {}); see spec/api.md.", body.len()),
        ));
    }
    Ok(())
}

fn answer(body: Vec<u8>) -> Resp {
    respond(StatusCode::OK, "application/json", body.into())
}

/// `POST /v1/verify`: a code for a token.
pub async fn verify(state: &Arc<AppState>, body: Body) -> Result<Resp, ApiError> {
    let req: VerifyRequest = parse(&body.bytes)?;
    check_padding(state, &body.bytes)?;
    let a = state
        .verification
        .redeem(
            &state.registry,
            &state.policy,
            &req.authority,
            &req.code,
            req.fake,
            state.clock.now(),
        )
        .await?;
    state.metrics.verify_answered.fetch_add(1, Relaxed);
    Ok(answer(
        padded(&a, VERIFY_ANSWER_BYTES).expect("a verify answer fits its size"),
    ))
}

/// `POST /v1/certificate`: a token and a tekmac for a signed certificate.
pub async fn certificate(state: &Arc<AppState>, body: Body) -> Result<Resp, ApiError> {
    let req: CertificateRequest = parse(&body.bytes)?;
    check_padding(state, &body.bytes)?;
    let tekmac: [u8; 32] = b64(&req.tekmac, ErrorCode::InvalidRequest, "tekmac")?
        .try_into()
        .map_err(|_| ApiError::new(ErrorCode::InvalidRequest, "The tekmac must be 32 bytes."))?;
    let cert = state
        .verification
        .certificate(
            &state.registry,
            &state.policy,
            &req.token,
            tekmac,
            req.fake,
            state.clock.now(),
        )
        .await?;
    state.metrics.certificate_answered.fetch_add(1, Relaxed);
    let a = CertificateAnswer {
        certificate: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, cert),
        padding: String::new(),
    };
    Ok(answer(
        padded(&a, CERTIFICATE_ANSWER_BYTES).expect("a certificate answer fits its size"),
    ))
}

/// Counts the keys of an accepted certified upload in its authority's statistics (a failure
/// to count is logged, never refused: the upload is stored).
pub async fn count_keys(state: &AppState, upload: &AcceptedUpload, now: UnixTime) {
    let day = en_api::date::Day::of_unix(now.0);
    let keys = upload.keys().len() as u64;
    if let Err(e) = state
        .verification
        .store
        .count_keys(upload.authority().as_str(), day, keys)
        .await
    {
        tracing::warn!(error = %e, "could not count the keys of an upload in the statistics");
    }
}
