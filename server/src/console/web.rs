//! The console's HTTP plumbing: pages with their security headers, redirects, cookies, form
//! bodies, and the request context (language, session, CSRF check).

use std::collections::HashMap;

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use zeroize::Zeroizing;

use super::i18n::Strings;
use super::session::{Session, SESSION_COOKIE};
use crate::http::Resp;

/// The stylesheet (no external assets anywhere).
pub const CSS: &str = include_str!("style.css");

/// Headers of every console answer: no caching (pages show codes), no framing, no referrer
/// (links carry codes), only our own styles, forms only to ourselves.
fn secure(r: &mut Resp) {
    let h = r.headers_mut();
    for (k, v) in [
        ("cache-control", "no-store"),
        ("content-security-policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
}

/// A response with `content_type` and the console's headers.
pub fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(http_body_util::Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    secure(&mut r);
    r
}

/// An HTML page.
pub fn html(status: StatusCode, body: String) -> Resp {
    respond(status, "text/html; charset=utf-8", body)
}

/// The status of a form page: 422 when it shows why a submission was refused, else 200.
pub fn form_status<E>(error: &Option<E>) -> StatusCode {
    if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

/// `303 See Other` to `to` (after a form, so that reloading does not post again).
pub fn redirect(to: &'static str) -> Resp {
    let mut r = respond(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
    r.headers_mut()
        .insert("location", HeaderValue::from_static(to));
    r
}

/// Adds a `Set-Cookie` for `name`: host-only, HTTPS-only, invisible to scripts, never sent
/// by another site. `value` None deletes it.
pub fn set_cookie(r: &mut Resp, name: &str, value: Option<&str>, max_age: u64) {
    let c = Zeroizing::new(match value {
        Some(v) => {
            format!("{name}={v}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}")
        }
        None => format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    });
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append("set-cookie", v);
    }
}

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// An `application/x-www-form-urlencoded` body (the first value of each field).
pub struct Form(HashMap<String, Zeroizing<String>>);

impl Form {
    /// Parses a body.
    pub fn parse(body: &[u8]) -> Form {
        let mut m = HashMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            m.entry(k.into_owned())
                .or_insert_with(|| Zeroizing::new(v.into_owned()));
        }
        Form(m)
    }
    /// A field, or "".
    pub fn get(&self, k: &str) -> &str {
        self.0.get(k).map_or("", |v| v.as_str())
    }
}

/// Compares two strings in constant time (CSRF tokens).
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What every console handler knows about its request.
pub struct Ctx {
    /// The words in the browser's language.
    pub t: &'static Strings,
    /// The session, if signed in.
    pub session: Option<Session>,
    /// The session cookie's value, if any.
    pub cookie: Option<Zeroizing<String>>,
    /// Now (Unix seconds).
    pub now: u64,
    /// True if the browser says the request came from another site (`Sec-Fetch-Site`).
    pub cross_site: bool,
}

impl Ctx {
    /// The context of a request with `headers`.
    pub fn new(state: &crate::AppState, headers: &HeaderMap) -> Ctx {
        let t =
            super::i18n::negotiate(headers.get("accept-language").and_then(|v| v.to_str().ok()));
        let now = state.clock.now().0;
        let cookie = cookie(headers, SESSION_COOKIE).map(|c| Zeroizing::new(c.to_string()));
        let session = cookie.as_ref().and_then(|c| {
            let s = state.console.sessions.get(
                &state.verification.hasher,
                &state.cfg.config.console,
                c,
                now,
            )?;
            // The account must still exist with this authority, role and password.
            let u = state.console.accounts.user(&s.user)?;
            (u.authority == s.authority
                && u.role == s.role
                && u.password_set_at == s.password_set_at)
                .then_some(s)
        });
        let cross_site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v != "same-origin" && v != "none");
        Ctx {
            t,
            session,
            cookie,
            now,
            cross_site,
        }
    }

    /// True if a form carries this session's CSRF token and did not come from another site.
    pub fn form_ok(&self, form: &Form) -> bool {
        !self.cross_site
            && self
                .session
                .as_ref()
                .is_some_and(|s| same(form.get("csrf"), &s.csrf))
    }
}

/// `t` as `YYYY-MM-DD HH:MM UTC`.
pub fn utc(t: u64) -> String {
    let day = en_api::date::Day::of_unix(t);
    let s = t % 86_400;
    format!("{day} {:02}:{:02} UTC", s / 3600, s % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_forms_and_times() {
        let mut h = HeaderMap::new();
        h.insert(
            "cookie",
            HeaderValue::from_static("a=1; __Host-en_session=xyz"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
        let f = Form::parse(b"csrf=ab&test_date=2026-11-23&csv=a%2Cb%0Ac");
        assert_eq!(f.get("csv"), "a,b\nc");
        assert_eq!(f.get("missing"), "");
        assert!(!same("", ""));
        assert_eq!(utc(1_795_392_300), "2026-11-23 00:05 UTC");
    }
}
