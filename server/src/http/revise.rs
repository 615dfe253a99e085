//! `POST /v1/revisions`: keys uploaded earlier as clinical or self-report, presented again with
//! a new certificate (confirmed or revoked) and the revision token the upload's answer carried
//! (spec/api.md). Limit → decode → verify and accept (`en_protocol::revise`) → store
//! (`Store::revise`) → answer, padded and on the release schedule like `POST /v1/publish`
//! (the router holds it), so a revision looks like an upload on the wire; a fake revision is
//! answered like a fake upload.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use en_api::json::RevisionUpload;
use en_api::ErrorCode;
use en_protocol::validate::validate_keys;
use en_protocol::wire::revision::RevisionToken;

use super::body::Body;
use super::upload::{accepted, b64, fake, parse, shape_of, verified_certificate};
use super::Resp;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Inserted;

/// `POST /v1/revisions`.
pub async fn revise(state: &Arc<AppState>, body: Body) -> Result<Resp, ApiError> {
    let req: RevisionUpload = parse(&body.bytes)?;
    let s = shape_of(
        state,
        &body.bytes,
        &req.certificate,
        &req.hmac_key,
        &req.keys,
        &[],
    )?;
    let token = b64(
        &req.revision_token,
        ErrorCode::MalformedRevisionToken,
        "revision token",
    )?;
    let token = RevisionToken::decode(&token)
        .map_err(|e| ApiError::malformed(ErrorCode::MalformedRevisionToken, "revision token", e))?;
    let now = state.clock.now();
    if req.fake {
        return fake(state, s, now).await;
    }
    let verified = verified_certificate(state, &s.certificate, now)?;
    let n = s.keys.len();
    // Keys are checked against the rules before the MAC so the answer says what is wrong.
    validate_keys(&s.keys, now, &state.policy.keys)?;
    let revision = verified.bind(s.keys, &s.hmac_key)?.accept_revision(
        &state.policy,
        &state.revision,
        &token,
        now,
    )?;
    if state.store.revise(&revision).await? == Inserted::AlreadyStored {
        tracing::info!("a retried revision was already stored");
    }
    state.metrics.publish_answered.fetch_add(1, Relaxed);
    tracing::info!(
        authority = %revision.authority(),
        keys = n,
        to = revision.to().name(),
        "revision stored"
    );
    Ok(accepted(n, None))
}
