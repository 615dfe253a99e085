//! The routes of each listener, with the methods each allows: a wrong method gets 405 with
//! an `Allow` header (RFC 9110 §15.5.6), and `HEAD` works wherever `GET` does (§9.1; hyper
//! sends the headers without the body).

use std::sync::Arc;

use hyper::{Method, Request};

use super::{admin, body, download, revise, selfreport, traces, upload, verify, ReqBody, Resp};
use crate::error::ApiError;
use crate::state::AppState;

/// Which listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Phones and health authorities.
    Public,
    /// Operators (loopback by default).
    Admin,
}

#[derive(Debug, Clone, Copy)]
enum Route {
    Cases,
    CasesBulk,
    Publish,
    Revisions,
    Verify,
    Certificate,
    SelfReportKey,
    SelfReportTokens,
    SelfReportRedeem,
    Console,
    Index,
    Config,
    Batch,
    Healthz,
    Metrics,
    Traces,
    TraceIndex,
    TraceBatch,
    FederationIndex,
    FederationBatch,
}

const POST: &str = "POST";
const GET: &str = "GET, HEAD";
const TRACE_BATCHES: &str = "/v1/traces/batches/";
const FEDERATION: &str = "/v1/federation/";

fn find(role: Listener, path: &str) -> Option<(Route, &'static str)> {
    let r = match (role, path) {
        (_, "/healthz") => (Route::Healthz, GET),
        (Listener::Public, "/v1/cases") => (Route::Cases, POST),
        (Listener::Public, "/v1/cases/bulk") => (Route::CasesBulk, POST),
        (Listener::Public, "/v1/publish") => (Route::Publish, POST),
        (Listener::Public, "/v1/revisions") => (Route::Revisions, POST),
        (Listener::Public, "/v1/verify") => (Route::Verify, POST),
        (Listener::Public, "/v1/certificate") => (Route::Certificate, POST),
        (Listener::Public, "/v1/self-report/key") => (Route::SelfReportKey, GET),
        (Listener::Public, "/v1/self-report/tokens") => (Route::SelfReportTokens, POST),
        (Listener::Public, "/v1/self-report/redeem") => (Route::SelfReportRedeem, POST),
        (Listener::Admin, p) if p == "/" || p == "/console" || p.starts_with("/console/") => {
            (Route::Console, "")
        }
        (Listener::Public, "/v1/index") => (Route::Index, GET),
        (Listener::Public, "/v1/config") => (Route::Config, GET),
        (Listener::Public, p) if p.starts_with("/v1/batches/") => (Route::Batch, GET),
        (Listener::Admin, "/metrics") => (Route::Metrics, GET),
        (Listener::Public, "/v1/traces") => (Route::Traces, POST),
        (Listener::Public, "/v1/traces/index") => (Route::TraceIndex, GET),
        (Listener::Public, p) if p.starts_with(TRACE_BATCHES) => (Route::TraceBatch, GET),
        (Listener::Public, p) if p.starts_with(FEDERATION) => {
            let rest = &p[FEDERATION.len()..];
            match rest.split_once('/') {
                Some((_, "index")) => (Route::FederationIndex, GET),
                Some((_, b)) if b.starts_with("batches/") => (Route::FederationBatch, GET),
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(r)
}

/// Routes one request.
pub async fn route<B: ReqBody>(
    state: &Arc<AppState>,
    role: Listener,
    req: Request<B>,
) -> Result<Resp, ApiError> {
    let path = req.uri().path().to_owned();
    let (route, allow) = find(role, &path).ok_or_else(|| {
        ApiError::new(
            en_api::ErrorCode::NotFound,
            "There is no such endpoint; see spec/api.md.",
        )
    })?;
    if matches!(
        route,
        Route::Publish
            | Route::Revisions
            | Route::Verify
            | Route::Certificate
            | Route::SelfReportTokens
            | Route::SelfReportRedeem
    ) {
        // Phone requests: whatever the outcome, the answer leaves on the release schedule.
        let r = phone(state, route, req, allow).await;
        state.publish_release().await;
        return r;
    }
    if matches!(route, Route::Console) {
        // The console answers its own methods and renders its own errors as pages.
        return crate::console::route(state, req).await;
    }
    let method = req.method();
    let ok = match allow {
        POST => method == Method::POST,
        _ => method == Method::GET || method == Method::HEAD,
    };
    if !ok {
        return Err(ApiError::method_not_allowed(allow));
    }
    match route {
        Route::Cases => upload::cases(state, body::read_json(state, req, false).await?).await,
        Route::CasesBulk => {
            upload::cases_bulk(state, body::read_json(state, req, true).await?).await
        }
        Route::Publish
        | Route::Revisions
        | Route::Verify
        | Route::Certificate
        | Route::SelfReportTokens
        | Route::SelfReportRedeem
        | Route::Console => {
            unreachable!("handled above")
        }
        Route::SelfReportKey => selfreport::key(state),
        Route::Index => download::index(state),
        Route::Config => download::config(state),
        Route::Batch => download::batch(state, &path["/v1/batches/".len()..], req.headers()).await,
        Route::Healthz => Ok(super::respond(
            hyper::StatusCode::OK,
            "text/plain",
            bytes::Bytes::from_static(b"ok\n"),
        )),
        Route::Metrics => Ok(admin::metrics(state)),
        // A trace report of 336 hours is 165 KB in base64: read under the bulk cap.
        Route::Traces => traces::upload(state, body::read_json(state, req, true).await?).await,
        Route::TraceIndex => download::chain_index(state.objects.traces()),
        Route::FederationIndex | Route::FederationBatch => {
            let rest = &path[FEDERATION.len()..];
            let (region, tail) = rest.split_once('/').unwrap_or((rest, ""));
            let chain = download::federation_chain(state, region)?;
            match tail.strip_prefix("batches/") {
                Some(seq) => download::chain_batch(state, &chain, seq, req.headers()).await,
                None => download::chain_index(&chain),
            }
        }
        Route::TraceBatch => {
            download::chain_batch(
                state,
                state.objects.traces(),
                &path[TRACE_BATCHES.len()..],
                req.headers(),
            )
            .await
        }
    }
}

async fn phone<B: ReqBody>(
    state: &Arc<AppState>,
    route: Route,
    req: Request<B>,
    allow: &'static str,
) -> Result<Resp, ApiError> {
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed(allow));
    }
    let body = body::read_json(state, req, false).await?;
    match route {
        Route::Verify => verify::verify(state, body).await,
        Route::Certificate => verify::certificate(state, body).await,
        Route::SelfReportTokens => selfreport::tokens(state, body).await,
        Route::SelfReportRedeem => selfreport::redeem(state, body).await,
        Route::Revisions => revise::revise(state, body).await,
        _ => upload::publish(state, body).await,
    }
}
