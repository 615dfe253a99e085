//! `POST /console/api/v1/codes`: an authority's back office issues codes machine to machine,
//! with an API key (`Authorization: Bearer enk_…`) made by an admin in the console. Answers
//! like the public API: JSON, and refusals as 4xx with stable codes.

use std::sync::Arc;

use en_api::verify::{IssueAnswer, IssueRequest};
use en_api::ErrorCode;
use hyper::{Method, Request, StatusCode};

use crate::error::ApiError;
use crate::http::{read_json, ReqBody, Resp};
use crate::state::AppState;
use crate::store::codes::AuditAction;

fn bearer<B>(req: &Request<B>) -> Option<String> {
    let v = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, key) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim().to_string())
}

/// Issues codes for the API key's authority.
pub async fn codes<B: ReqBody>(state: &Arc<AppState>, req: Request<B>) -> Result<Resp, ApiError> {
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed("POST"));
    }
    let key = bearer(&req)
        .map(|k| state.verification.hasher.api_key(&k))
        .and_then(|h| state.console.accounts.api_key(&h))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidApiKey,
                "Send an API key made in the console as `Authorization: Bearer <key>`.",
            )
        })?;
    let body = read_json(state, req, true).await?;
    let request: IssueRequest = crate::http::parse_json(&body.bytes)?;
    let v = &state.verification;
    v.authority_key(&state.registry, &state.policy, &key.authority)?;
    let actor = format!("api:{}", key.id);
    let codes = v
        .issue(
            &key.authority,
            &actor,
            AuditAction::IssuedApi,
            &request.tests,
            state.clock.now(),
        )
        .await?;
    tracing::info!(authority = %key.authority, codes = codes.len(), "codes issued through the back-office API");
    let mut r = crate::http::json(
        StatusCode::OK,
        serde_json::to_string(&IssueAnswer { codes }).expect("answers serialize"),
    );
    // The codes are shown once: no cache may keep them.
    r.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    Ok(r)
}
