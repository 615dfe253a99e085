//! Read-only pages: statistics, the authority's registered keys, the audit log.

use std::sync::Arc;

use en_api::date::Day;
use hyper::StatusCode;

use super::pages::{render, Audit, AuditRow, KeyRow, Keys, Nav, Stats, StatsRow};
use super::session::Session;
use super::web::{html, utc, Ctx};
use crate::http::Resp;
use crate::state::AppState;
use crate::store::codes::AuditAction;

/// Days of statistics shown.
const STATS_DAYS: u32 = 31;
/// Audit entries shown.
const AUDIT_ROWS: usize = 200;

fn failed(ctx: &Ctx, e: impl std::fmt::Display) -> Resp {
    tracing::error!(error = %e, "a console page could not be read");
    super::error_page(
        ctx,
        StatusCode::INTERNAL_SERVER_ERROR,
        ctx.t.server_error,
        "/console/",
    )
}

/// `GET /console/stats`: the last month, newest first.
pub async fn stats(state: &Arc<AppState>, ctx: &Ctx, s: &Session) -> Resp {
    let store = &state.verification.store;
    let from = Day(Day::of_unix(ctx.now).0.saturating_sub(STATS_DAYS - 1));
    let days = match store.stats(&s.authority, from).await {
        Ok(d) => d,
        Err(e) => return failed(ctx, e),
    };
    let outstanding = match store
        .outstanding_short(&s.authority, state.clock.now())
        .await
    {
        Ok(n) => n,
        Err(e) => return failed(ctx, e),
    };
    let rows = days
        .into_iter()
        .rev()
        .map(|(d, n)| StatsRow {
            day: d.to_string(),
            issued: n.issued,
            claimed: n.claimed,
            expired: n.expired,
            certificates: n.certificates,
            keys: n.keys,
        })
        .collect();
    html(
        StatusCode::OK,
        render(&Stats {
            t: ctx.t,
            nav: Some(Nav::of(s, "stats")),
            outstanding,
            rows,
        }),
    )
}

/// `GET /console/keys`: the registry's entries for the authority.
pub fn keys(state: &Arc<AppState>, ctx: &Ctx, s: &Session) -> Resp {
    let path = crate::datadir::DataDir::new(&state.cfg.data_dir).authorities();
    let entries = match crate::registry::read(&path) {
        Ok(e) => e,
        Err(e) => return failed(ctx, e),
    };
    let held = state
        .verification
        .authority_key(&state.registry, &state.policy, &s.authority)
        .ok()
        .map(|k| k.public_key().to_hex());
    let t = ctx.t;
    let rows = entries
        .into_iter()
        .filter(|e| e.id == s.authority)
        .map(|e| KeyRow {
            key_id: en_protocol::keys::PublicKey::from_hex(&e.public_key)
                .map(|k| k.key_id().to_string())
                .unwrap_or_default(),
            holder: if held.as_deref() == Some(e.public_key.as_str()) {
                t.held
            } else {
                t.not_held_short
            },
            status: if e.revoked { t.revoked } else { t.active },
            region: e.region.unwrap_or_else(|| t.any_region.into()),
            added: utc(e.added_at),
            public_key: e.public_key,
            id: e.id,
        })
        .collect();
    html(
        StatusCode::OK,
        render(&Keys {
            t,
            nav: Some(Nav::of(s, "keys")),
            rows,
        }),
    )
}

/// `GET /console/audit` (admins): newest first.
pub async fn audit(state: &Arc<AppState>, ctx: &Ctx, s: &Session) -> Resp {
    let entries = match state
        .verification
        .store
        .audit_log(&s.authority, AUDIT_ROWS)
        .await
    {
        Ok(e) => e,
        Err(e) => return failed(ctx, e),
    };
    let t = ctx.t;
    let rows = entries
        .into_iter()
        .map(|e| AuditRow {
            when: utc(e.at.0),
            who: e.actor,
            what: match e.action {
                AuditAction::Issued => t.act_issued,
                AuditAction::IssuedBulk => t.act_issued_bulk,
                AuditAction::IssuedApi => t.act_issued_api,
                AuditAction::Login => t.act_login,
                AuditAction::LoginFailed => t.act_login_failed,
                AuditAction::UserAdded => t.act_user_added,
                AuditAction::PasswordReset => t.act_password_reset,
                AuditAction::UserRemoved => t.act_user_removed,
                AuditAction::ApiKeyCreated => t.act_key_created,
                AuditAction::ApiKeyRevoked => t.act_key_revoked,
            },
            count: e.count,
        })
        .collect();
    html(
        StatusCode::OK,
        render(&Audit {
            t,
            nav: Some(Nav::of(s, "audit")),
            rows,
        }),
    )
}
