//! Signing in and out.
//!
//! The login form is protected against cross-site posts by a double-submit token (a
//! `__Host-` cookie whose value the form repeats), since no session exists yet. A wrong
//! password is answered after the same Argon2 work as a right one, with one message for a
//! wrong name or a wrong password, and counts against the throttle.

use std::sync::Arc;

use hyper::header::HeaderMap;
use hyper::StatusCode;

use super::pages::{render, Login};
use super::session::{random_token, Throttled, LOGIN_COOKIE, SESSION_COOKIE};
use super::web::{cookie, html, redirect, same, set_cookie, Ctx, Form};
use crate::http::Resp;
use crate::state::AppState;
use crate::store::codes::AuditAction;

fn form(ctx: &Ctx, status: StatusCode, csrf: &str, name: &str, error: Option<&str>) -> Resp {
    html(
        status,
        render(&Login {
            t: ctx.t,
            nav: None,
            csrf,
            name,
            error,
        }),
    )
}

/// `GET /console/login`: the form, with a fresh double-submit token.
pub fn page(_state: &Arc<AppState>, ctx: &Ctx) -> Resp {
    if ctx.session.is_some() {
        return redirect("/console/");
    }
    let token = random_token();
    let mut r = form(ctx, StatusCode::OK, &token, "", None);
    set_cookie(&mut r, LOGIN_COOKIE, Some(&token), 3600);
    r
}

/// `POST /console/login`.
pub async fn submit(state: &Arc<AppState>, ctx: &Ctx, headers: &HeaderMap, f: &Form) -> Resp {
    let t = ctx.t;
    let token = cookie(headers, LOGIN_COOKIE).unwrap_or("");
    if ctx.cross_site || !same(f.get("csrf"), token) {
        let fresh = random_token();
        let mut r = form(ctx, StatusCode::FORBIDDEN, &fresh, "", Some(t.csrf_error));
        set_cookie(&mut r, LOGIN_COOKIE, Some(&fresh), 3600);
        return r;
    }
    let name = f.get("name").trim().to_string();
    let settings = &state.cfg.config.console;
    let console = &state.console;
    if let Err(why) = console.throttle.check(settings, &name, ctx.now) {
        let msg = match why {
            Throttled::Account => t.login_locked,
            Throttled::Console => t.login_busy,
        };
        return form(ctx, StatusCode::TOO_MANY_REQUESTS, token, &name, Some(msg));
    }
    // Argon2 takes tens of milliseconds of CPU: off the async workers.
    let password = zeroize::Zeroizing::new(f.get("password").to_string());
    let st = state.clone();
    let who = name.clone();
    let user =
        tokio::task::spawn_blocking(move || st.console.accounts.check_login(&who, &password))
            .await
            .ok()
            .flatten();
    let verification = &state.verification;
    let Some(user) = user else {
        console.throttle.failed(settings, &name, ctx.now);
        if let Some(u) = console.accounts.user(&name) {
            let _ = verification
                .audit(
                    &u.authority,
                    &u.name,
                    AuditAction::LoginFailed,
                    state.clock.now(),
                )
                .await;
        }
        tracing::info!("a console login was refused");
        return form(
            ctx,
            StatusCode::UNAUTHORIZED,
            token,
            &name,
            Some(t.login_failed),
        );
    };
    console.throttle.succeeded(&user.name);
    if let Err(e) = verification
        .audit(
            &user.authority,
            &user.name,
            AuditAction::Login,
            state.clock.now(),
        )
        .await
    {
        tracing::error!(error = %e, "could not record a login in the audit log");
        return form(
            ctx,
            StatusCode::SERVICE_UNAVAILABLE,
            token,
            &name,
            Some(t.server_error),
        );
    }
    let id = console.sessions.start(&verification.hasher, &user, ctx.now);
    let mut r = redirect("/console/");
    set_cookie(
        &mut r,
        SESSION_COOKIE,
        Some(&id),
        settings.session_max_seconds,
    );
    set_cookie(&mut r, LOGIN_COOKIE, None, 0);
    tracing::info!(authority = %user.authority, "console login");
    r
}

/// `POST /console/logout` (the router checked the CSRF token).
pub fn logout(state: &Arc<AppState>, ctx: &Ctx) -> Resp {
    if let Some(c) = &ctx.cookie {
        state.console.sessions.end(&state.verification.hasher, c);
    }
    let mut r = redirect("/console/login");
    set_cookie(&mut r, SESSION_COOKIE, None, 0);
    r
}
