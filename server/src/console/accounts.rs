//! Admins manage their authority's accounts and back-office API keys. New passwords and keys
//! are shown once, in the answer to the form that made them.

use std::sync::Arc;

use hyper::StatusCode;

use super::pages::{render, Accounts, ApiKeyRow, Nav, UserRow};
use super::session::Session;
use super::users::{self, Role};
use super::web::{html, utc, Ctx, Form};
use crate::http::Resp;
use crate::state::AppState;
use crate::store::codes::AuditAction;

/// The accounts page, with a secret to show once or an error.
pub fn page(
    state: &Arc<AppState>,
    ctx: &Ctx,
    s: &Session,
    secret: Option<(String, String)>,
    error: Option<&'static str>,
) -> Resp {
    let t = ctx.t;
    let accounts = &state.console.accounts;
    let users = accounts
        .users_of(&s.authority)
        .into_iter()
        .map(|u| UserRow {
            role: match u.role {
                Role::Admin => t.role_admin,
                Role::Staff => t.role_staff,
            },
            name: u.name,
        })
        .collect();
    let keys = accounts
        .keys_of(&s.authority)
        .into_iter()
        .map(|k| ApiKeyRow {
            id: k.id,
            label: k.label,
            created: utc(k.created_at),
        })
        .collect();
    html(
        super::web::form_status(&error),
        render(&Accounts {
            t,
            nav: Some(Nav::of(s, "accounts")),
            csrf: &s.csrf,
            users,
            keys,
            secret,
            error,
        }),
    )
}

/// The change a form asks for.
enum Change {
    Add(String, Role),
    Reset(String),
    Remove(String),
    AddKey(String),
    RevokeKey(String),
}

/// `POST /console/accounts/{add,reset,remove}` and `/console/api-keys/{add,revoke}`.
pub async fn submit(state: &Arc<AppState>, ctx: &Ctx, s: &Session, path: &str, f: &Form) -> Resp {
    let t = ctx.t;
    let name = f.get("name").trim().to_string();
    let change = match path {
        "/console/accounts/add" => {
            Change::Add(name, Role::parse(f.get("role")).unwrap_or(Role::Staff))
        }
        "/console/accounts/reset" => Change::Reset(name),
        // Removing oneself would leave the authority without this admin mid-session.
        "/console/accounts/remove" if name == s.user => {
            return page(state, ctx, s, None, Some(t.forbidden))
        }
        "/console/accounts/remove" => Change::Remove(name),
        "/console/api-keys/add" => Change::AddKey(f.get("label").trim().to_string()),
        "/console/api-keys/revoke" => Change::RevokeKey(f.get("id").trim().to_string()),
        _ => {
            return super::error_page(ctx, StatusCode::NOT_FOUND, t.not_found, "/console/accounts")
        }
    };
    let file = state.console.accounts.path().to_path_buf();
    let authority = s.authority.clone();
    let hasher_state = state.clone();
    // File locks and Argon2: off the async workers.
    let done = tokio::task::spawn_blocking(
        move || -> Result<(AuditAction, Option<(String, String)>), crate::error::Error> {
            Ok(match change {
                Change::Add(name, role) => {
                    let p = users::add_user(&file, &name, &authority, role)?;
                    (AuditAction::UserAdded, Some((name, p.expose().to_string())))
                }
                Change::Reset(name) => {
                    let p = users::reset_password(&file, &name, Some(&authority))?;
                    (
                        AuditAction::PasswordReset,
                        Some((name, p.expose().to_string())),
                    )
                }
                Change::Remove(name) => {
                    users::remove_user(&file, &name, Some(&authority))?;
                    (AuditAction::UserRemoved, None)
                }
                Change::AddKey(label) => {
                    let (id, key) = users::add_api_key(&file, &authority, &label, |k| {
                        hasher_state.verification.hasher.api_key(k)
                    })?;
                    (
                        AuditAction::ApiKeyCreated,
                        Some((id, key.expose().to_string())),
                    )
                }
                Change::RevokeKey(id) => {
                    users::revoke_api_key(&file, &authority, &id)?;
                    (AuditAction::ApiKeyRevoked, None)
                }
            })
        },
    )
    .await;
    let (action, secret) = match done {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::info!(error = %e, "a console account change was refused");
            return page(state, ctx, s, None, Some(t.bad_account));
        }
        Err(_) => {
            return super::error_page(
                ctx,
                StatusCode::INTERNAL_SERVER_ERROR,
                t.server_error,
                "/console/accounts",
            )
        }
    };
    if let Err(e) = state
        .verification
        .audit(&s.authority, &s.user, action, state.clock.now())
        .await
    {
        tracing::error!(error = %e, "could not record an account change in the audit log");
    }
    let secret = secret.map(|(who, secret)| {
        let what = if matches!(action, AuditAction::ApiKeyCreated) {
            t.new_key
        } else {
            t.new_password
        };
        (format!("{what} — {who}"), secret)
    });
    page(state, ctx, s, secret, None)
}
