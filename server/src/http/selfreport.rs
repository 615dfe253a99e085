//! The self-report endpoints (spec/self-report.md): the public key, a kit code and a blinded
//! element for an evaluation, a token for a verification code. Thin: the work is in
//! [`crate::selfreport`]. Nothing of a request is logged.

use std::sync::Arc;

use en_api::self_report::{
    encode_b64, RedeemRequest, SelfReportKeyAnswer, TokenAnswer, TokenRequest, SUITE,
};
use hyper::StatusCode;

use super::body::Body;
use super::upload::parse;
use super::{respond, Resp};
use crate::error::ApiError;
use crate::state::AppState;

fn json<T: serde::Serialize>(v: &T) -> Resp {
    let body = serde_json::to_vec(v).expect("JSON answers serialize");
    respond(StatusCode::OK, "application/json", body.into())
}

/// `GET /v1/self-report/key`.
pub fn key(state: &Arc<AppState>) -> Result<Resp, ApiError> {
    if state.verification.settings.self_report_authority.is_empty() {
        return Err(crate::selfreport::SelfReportError::Disabled.into());
    }
    Ok(json(&SelfReportKeyAnswer {
        suite: SUITE.into(),
        public_key: encode_b64(&state.self_report.public_key().to_bytes()),
    }))
}

/// `POST /v1/self-report/tokens`: spends the kit code, answers the evaluation and its proof.
pub async fn tokens(state: &Arc<AppState>, body: Body) -> Result<Resp, ApiError> {
    let req: TokenRequest = parse(&body.bytes)?;
    let e = state
        .self_report
        .token(
            &state.verification,
            &req.kit_code,
            &req.blinded,
            state.clock.now(),
        )
        .await?;
    Ok(json(&TokenAnswer {
        evaluated: encode_b64(&e.element_bytes()),
        proof: encode_b64(&e.proof_bytes()),
    }))
}

/// `POST /v1/self-report/redeem`: spends the token, answers a verification code.
pub async fn redeem(state: &Arc<AppState>, body: Body) -> Result<Resp, ApiError> {
    let req: RedeemRequest = parse(&body.bytes)?;
    let a = state
        .self_report
        .redeem(
            &state.verification,
            &state.registry,
            &state.policy,
            &req.input,
            &req.output,
            state.clock.now(),
        )
        .await?;
    Ok(json(&a))
}
