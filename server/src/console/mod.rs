//! The health authority console: a web app on the **admin listener** (never the public one)
//! where staff issue verification codes, and an API for an authority's back office.
//!
//! Server-rendered HTML in English or Vietnamese (`Accept-Language`), no JavaScript and no
//! external assets, readable on a phone. Accounts per authority with admin and staff roles
//! ([`users`], Argon2id), sessions in `__Host-` cookies (`Secure; HttpOnly; SameSite=Strict`)
//! with a CSRF token in every form, throttled logins. Errors are pages a person can read;
//! the back-office API (`POST /console/api/v1/codes`, an API key) answers like the rest of
//! the API (JSON, stable error codes). See spec/verification.md §6.

mod accounts;
mod api;
mod i18n;
mod issue;
mod login;
mod pages;
mod qr;
mod session;
pub mod users;
mod views;
mod web;

use std::sync::Arc;

use hyper::{Method, Request, StatusCode};

use self::web::{html, redirect, respond, Ctx, Form};
use crate::config::Resolved;
use crate::error::ApiError;
use crate::http::{ReqBody, Resp};
use crate::state::AppState;

/// The console's state: accounts (from the data directory), sessions and login throttling.
pub struct Console {
    pub(crate) accounts: users::Accounts,
    pub(crate) sessions: session::Sessions,
    pub(crate) throttle: session::LoginThrottle,
}

impl Console {
    /// The console of the server configured by `cfg`.
    pub fn new(cfg: &Resolved) -> Self {
        Console {
            accounts: users::Accounts::new(
                crate::datadir::DataDir::new(&cfg.data_dir).console_users(),
            ),
            sessions: session::Sessions::default(),
            throttle: session::LoginThrottle::default(),
        }
    }

    /// Forgets expired sessions and stale login failures.
    pub fn purge(&self, cfg: &crate::config::ConsoleSettings, now: u64) {
        self.sessions.purge(cfg, now);
        self.throttle.purge(cfg, now);
    }
}

/// A readable error page.
fn error_page(ctx: &Ctx, status: StatusCode, message: &str, back: &str) -> Resp {
    let nav = ctx.session.as_ref().map(|s| pages::Nav::of(s, ""));
    html(
        status,
        pages::render(&pages::Error {
            t: ctx.t,
            nav,
            message,
            back,
        }),
    )
}

/// Routes a request to the console (paths `/`, `/console` and `/console/…` of the admin
/// listener). Pages always answer `Ok` (errors are pages); the back-office API answers `Err`
/// for refusals, like the rest of the API.
pub async fn route<B: ReqBody>(state: &Arc<AppState>, req: Request<B>) -> Result<Resp, ApiError> {
    let path = req.uri().path().to_owned();
    if path == "/console/api/v1/codes" {
        return api::codes(state, req).await;
    }
    let ctx = Ctx::new(state, req.headers());
    let method = req.method().clone();
    let is_get = method == Method::GET || method == Method::HEAD;
    let allowed = |allow: &'static str| -> Result<Resp, ApiError> {
        let mut r = error_page(
            &ctx,
            StatusCode::METHOD_NOT_ALLOWED,
            ctx.t.method,
            "/console/",
        );
        r.headers_mut()
            .insert("allow", hyper::header::HeaderValue::from_static(allow));
        Ok(r)
    };
    const GET: &str = "GET, HEAD";
    const POST: &str = "POST";
    // Pages anyone may see.
    match path.as_str() {
        "/" | "/console" if is_get => return Ok(redirect("/console/")),
        "/" | "/console" => return allowed(GET),
        "/console/style.css" if is_get => {
            return Ok(respond(StatusCode::OK, "text/css; charset=utf-8", web::CSS))
        }
        "/console/login" if is_get => return Ok(login::page(state, &ctx)),
        _ => {}
    }
    let posts = [
        "/console/login",
        "/console/logout",
        "/console/issue",
        "/console/bulk",
        "/console/accounts/add",
        "/console/accounts/reset",
        "/console/accounts/remove",
        "/console/api-keys/add",
        "/console/api-keys/revoke",
    ];
    let gets = [
        "/console/",
        "/console/bulk",
        "/console/stats",
        "/console/keys",
        "/console/audit",
        "/console/accounts",
        "/console/login",
        "/console/style.css",
    ];
    let (can_get, can_post) = (
        gets.contains(&path.as_str()),
        posts.contains(&path.as_str()),
    );
    if !can_get && !can_post {
        return Ok(error_page(
            &ctx,
            StatusCode::NOT_FOUND,
            ctx.t.not_found,
            "/console/",
        ));
    }
    if is_get && !can_get {
        return allowed(POST);
    }
    if !is_get && (method != Method::POST || !can_post) {
        return allowed(if can_get && can_post {
            "GET, HEAD, POST"
        } else if can_get {
            GET
        } else {
            POST
        });
    }
    let headers = req.headers().clone();
    let form = if is_get {
        None
    } else {
        let max = state.cfg.config.limits.max_bulk_body_bytes;
        match crate::http::read_limited(state, req, max).await {
            Ok(b) => Some(Form::parse(&b.bytes)),
            Err(e) => return Ok(error_page(&ctx, e.status(), &e.message, "/console/")),
        }
    };
    if path == "/console/login" {
        return Ok(login::submit(state, &ctx, &headers, form.as_ref().expect("a POST")).await);
    }
    // Everything else needs a session.
    let Some(session) = ctx.session.clone() else {
        return Ok(redirect("/console/login"));
    };
    if let Some(f) = &form {
        if !ctx.form_ok(f) {
            return Ok(error_page(
                &ctx,
                StatusCode::FORBIDDEN,
                ctx.t.csrf_error,
                "/console/",
            ));
        }
    }
    let admin = session.role == users::Role::Admin;
    let admin_only = path.starts_with("/console/accounts")
        || path.starts_with("/console/api-keys")
        || path == "/console/audit";
    if admin_only && !admin {
        return Ok(error_page(
            &ctx,
            StatusCode::FORBIDDEN,
            ctx.t.forbidden,
            "/console/",
        ));
    }
    Ok(match (path.as_str(), form) {
        ("/console/logout", Some(_)) => login::logout(state, &ctx),
        ("/console/", None) => issue::form(&ctx, &session, None),
        ("/console/issue", Some(f)) => issue::submit(state, &ctx, &session, &f).await,
        ("/console/bulk", None) => issue::bulk_form(&ctx, &session, "", None),
        ("/console/bulk", Some(f)) => issue::bulk_submit(state, &ctx, &session, &f).await,
        ("/console/stats", None) => views::stats(state, &ctx, &session).await,
        ("/console/keys", None) => views::keys(state, &ctx, &session),
        ("/console/audit", None) => views::audit(state, &ctx, &session).await,
        ("/console/accounts", None) => accounts::page(state, &ctx, &session, None, None),
        (p, Some(f)) => accounts::submit(state, &ctx, &session, p, &f).await,
        _ => error_page(&ctx, StatusCode::NOT_FOUND, ctx.t.not_found, "/console/"),
    })
}
