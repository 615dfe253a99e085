//! Issuing codes: one test result (the short code shown large, the long code as text, link
//! and QR code), or a CSV of many (long codes only, with a CSV to download). Codes appear in
//! this one answer and nowhere else.

use std::sync::Arc;

use base64::Engine;
use en_api::date::Day;
use en_api::verify::{group, TestResult, TestType};
use hyper::StatusCode;

use super::i18n::Strings;
use super::pages::{render, Bulk, BulkDone, BulkRow, Issue, Issued, Nav, ShortCode};
use super::session::Session;
use super::web::{html, utc, Ctx, Form};
use crate::http::Resp;
use crate::state::AppState;
use crate::store::codes::AuditAction;
use crate::verification::codes::{ClaimError, DateField, DateProblem};
use crate::verification::CodeError;

fn today(ctx: &Ctx, plus: u32) -> String {
    Day(Day::of_unix(ctx.now).0 + plus).to_string()
}

/// The issue form, with an error if a submission was refused.
pub fn form(ctx: &Ctx, s: &Session, error: Option<String>) -> Resp {
    html(
        super::web::form_status(&error),
        render(&Issue {
            t: ctx.t,
            nav: Some(Nav::of(s, "issue")),
            csrf: &s.csrf,
            today: today(ctx, 0),
            max_date: today(ctx, 1),
            error,
        }),
    )
}

/// A refusal in the browser's language.
fn explain(t: &'static Strings, e: &CodeError) -> String {
    match e {
        CodeError::InvalidTest { reason, .. } => date_problem(t, reason),
        CodeError::TooManyShortCodes => t.too_many_short.into(),
        CodeError::BadCount(_) => t.bad_count.into(),
        CodeError::UnknownAuthority | CodeError::RevokedAuthority | CodeError::WrongRegion => {
            t.not_held.into()
        }
        _ => t.server_error.into(),
    }
}

fn date_problem(t: &'static Strings, c: &ClaimError) -> String {
    let field = match c.field {
        DateField::TestDate => t.test_date,
        DateField::SymptomOnset => t.onset,
    };
    let problem = match c.problem {
        DateProblem::NotADate => t.bad_date,
        DateProblem::Future => t.date_future,
        DateProblem::TooOld => t.date_old,
    };
    format!("{field}: {problem}")
}

/// Checks that the authority can issue here (its key is held by this server).
fn held(state: &AppState, s: &Session) -> Result<(), CodeError> {
    state
        .verification
        .authority_key(&state.registry, &state.policy, &s.authority)
        .map(|_| ())
}

/// `POST /console/issue`.
pub async fn submit(state: &Arc<AppState>, ctx: &Ctx, s: &Session, f: &Form) -> Resp {
    let Some(test_type) = TestType::parse(f.get("test_type")) else {
        return form(ctx, s, Some(ctx.t.bad_type.into()));
    };
    let test = TestResult {
        test_type,
        test_date: f.get("test_date").into(),
        symptom_onset: Some(f.get("symptom_onset").to_string()).filter(|o| !o.is_empty()),
        short: f.get("short") == "1",
    };
    if let Err(e) = held(state, s) {
        return form(ctx, s, Some(explain(ctx.t, &e)));
    }
    let now = state.clock.now();
    let issued = state
        .verification
        .issue(&s.authority, &s.user, AuditAction::Issued, &[test], now)
        .await;
    let code = match issued {
        Ok(mut v) => v.remove(0),
        Err(e) => return form(ctx, s, Some(explain(ctx.t, &e))),
    };
    tracing::info!(authority = %s.authority, "a code was issued in the console");
    let qr = super::qr::svg(&code.link, ctx.t.qr).unwrap_or_default();
    let short = code.short_code.as_ref().map(|c| ShortCode {
        code: format!("{} {}", &c[..4], &c[4..]),
        expires: utc(code.short_expires_at.unwrap_or(0)),
    });
    html(
        StatusCode::OK,
        render(&Issued {
            t: ctx.t,
            nav: Some(Nav::of(s, "issue")),
            short,
            long_code: group(&code.long_code),
            link: code.link.clone(),
            qr_svg: qr,
            long_expires: utc(code.long_expires_at),
        }),
    )
}

/// The bulk form, keeping the CSV of a refused submission.
pub fn bulk_form(ctx: &Ctx, s: &Session, csv: &str, error: Option<String>) -> Resp {
    html(
        super::web::form_status(&error),
        render(&Bulk {
            t: ctx.t,
            nav: Some(Nav::of(s, "bulk")),
            csrf: &s.csrf,
            today: today(ctx, 0),
            csv,
            error,
        }),
    )
}

/// The test results of a CSV (`test_type,test_date,symptom_onset,reference`, an optional
/// header line), each with its reference; or the 1-based line and what is wrong with it.
fn parse_csv(t: &'static Strings, csv: &str) -> Result<Vec<(TestResult, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in csv.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (i == 0 && line.starts_with("test_type")) {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let test_type = TestType::parse(cells[0])
            .ok_or_else(|| format!("{} {}: {}", t.line, i + 1, t.bad_type))?;
        let cell = |n: usize| cells.get(n).copied().unwrap_or("").to_string();
        let reference: String = cell(3)
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect();
        out.push((
            TestResult {
                test_type,
                test_date: cell(1),
                symptom_onset: Some(cell(2)).filter(|o| !o.is_empty()),
                short: false,
            },
            reference,
        ));
    }
    Ok(out)
}

/// A CSV cell: quoted if it holds a comma, quote or line break (RFC 4180), and prefixed with
/// `'` if a spreadsheet would read it as a formula.
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// `POST /console/bulk`.
pub async fn bulk_submit(state: &Arc<AppState>, ctx: &Ctx, s: &Session, f: &Form) -> Resp {
    let csv = f.get("csv");
    let rows = match parse_csv(ctx.t, csv) {
        Ok(r) => r,
        Err(e) => return bulk_form(ctx, s, csv, Some(e)),
    };
    if let Err(e) = held(state, s) {
        return bulk_form(ctx, s, csv, Some(explain(ctx.t, &e)));
    }
    let tests: Vec<TestResult> = rows.iter().map(|(t, _)| t.clone()).collect();
    let issued = state
        .verification
        .issue(
            &s.authority,
            &s.user,
            AuditAction::IssuedBulk,
            &tests,
            state.clock.now(),
        )
        .await;
    let codes = match issued {
        Ok(c) => c,
        Err(e) => {
            let msg = match &e {
                CodeError::InvalidTest { index, .. } => {
                    format!(
                        "{} {}: {}",
                        ctx.t.reference,
                        rows[*index].1,
                        explain(ctx.t, &e)
                    )
                }
                _ => explain(ctx.t, &e),
            };
            return bulk_form(ctx, s, csv, Some(msg));
        }
    };
    tracing::info!(authority = %s.authority, codes = codes.len(), "codes issued from a CSV in the console");
    let mut out = String::from("reference,test_type,test_date,long_code,link,expires_at\n");
    let mut table = Vec::with_capacity(codes.len());
    for ((test, reference), code) in rows.iter().zip(&codes) {
        out.push_str(&format!(
            "{},{},{},{},{},{}\n",
            cell(reference),
            test.test_type.as_str(),
            cell(&test.test_date),
            code.long_code,
            code.link,
            utc(code.long_expires_at)
        ));
        table.push(BulkRow {
            reference: reference.clone(),
            test_type: test.test_type.as_str(),
            code: group(&code.long_code),
            expires: utc(code.long_expires_at),
        });
    }
    let uri = format!(
        "data:text/csv;charset=utf-8;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(out.as_bytes())
    );
    html(
        StatusCode::OK,
        render(&BulkDone {
            t: ctx.t,
            nav: Some(Nav::of(s, "bulk")),
            rows: table,
            csv_uri: uri,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_and_cells() {
        let t = &super::super::i18n::EN;
        let rows = parse_csv(
            t,
            "test_type,test_date,symptom_onset,reference\nconfirmed,2026-11-20,,S-1\n\nlikely, 2026-11-21 ,2026-11-19\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].1, "S-1");
        assert_eq!(rows[1].0.symptom_onset.as_deref(), Some("2026-11-19"));
        assert!(parse_csv(t, "positive,2026-11-20")
            .unwrap_err()
            .starts_with("Line 1"));
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("=cmd()"), "'=cmd()");
    }
}
