//! The console's pages: one askama template each (`server/templates/console/`), rendered on
//! the server (no JavaScript). askama escapes every value; only the QR code's SVG, which we
//! draw ourselves, is inserted as markup.

use askama::Template;

use super::i18n::Strings;
use super::session::Session;

/// The header's navigation and sign-out form.
pub struct Nav {
    /// The account.
    pub user: String,
    /// Its authority.
    pub authority: String,
    /// Admins see the audit log and the accounts.
    pub admin: bool,
    /// The session's CSRF token (the sign-out form).
    pub csrf: String,
    /// Which page is shown (`aria-current`).
    pub here: &'static str,
}

impl Nav {
    /// The navigation of `session` on page `here`.
    pub fn of(session: &Session, here: &'static str) -> Nav {
        Nav {
            user: session.user.clone(),
            authority: session.authority.clone(),
            admin: session.role == super::users::Role::Admin,
            csrf: session.csrf.clone(),
            here,
        }
    }
}

/// Sign in.
#[derive(Template)]
#[template(path = "console/login.html")]
pub struct Login<'a> {
    pub t: &'static Strings,
    pub nav: Option<Nav>,
    pub csrf: &'a str,
    pub name: &'a str,
    pub error: Option<&'a str>,
}

/// The form for one test result.
#[derive(Template)]
#[template(path = "console/issue.html")]
pub struct Issue<'a> {
    pub t: &'static Strings,
    pub nav: Option<Nav>,
    pub csrf: &'a str,
    pub today: String,
    pub max_date: String,
    pub error: Option<String>,
}

/// A short code and its expiry, for display.
pub struct ShortCode {
    pub code: String,
    pub expires: String,
}

/// The codes just issued.
#[derive(Template)]
#[template(path = "console/issued.html")]
pub struct Issued {
    pub t: &'static Strings,
    pub nav: Option<Nav>,
    pub short: Option<ShortCode>,
    pub long_code: String,
    pub link: String,
    pub qr_svg: String,
    pub long_expires: String,
}

/// The bulk form.
#[derive(Template)]
#[template(path = "console/bulk.html")]
pub struct Bulk<'a> {
    pub t: &'static Strings,
    pub nav: Option<Nav>,
    pub csrf: &'a str,
    pub today: String,
    pub csv: &'a str,
    pub error: Option<String>,
}

/// One line of the bulk result.
pub struct BulkRow {
    pub reference: String,
    pub test_type: &'static str,
    pub code: String,
    pub expires: String,
}

/// The codes of a bulk CSV.
#[derive(Template)]
#[template(path = "console/bulk_done.html")]
pub struct BulkDone {
    pub t: &'static Strings,
    pub nav: Option<Nav>,
    pub rows: Vec<BulkRow>,
    pub csv_uri: String,
}

/// One day of statistics.
pub struct StatsRow {
    pub day: String,
    pub issued: u64,
    pub claimed: u64,
    pub expired: u64,
    pub certificates: u64,
    pub keys: u64,
}

/// Statistics.
#[derive(Template)]
#[template(path = "console/stats.html")]
pub struct Stats {
    pub t: &'static Strings,
    pub nav: Option<Nav>,
    pub outstanding: u64,
    pub rows: Vec<StatsRow>,
}

/// One registered key.
pub struct KeyRow {
    pub id: String,
    pub public_key: String,
    pub key_id: String,
    pub region: String,
    pub status: &'static str,
    pub holder: &'static str,
    pub added: String,
}

/// The authority's registered keys.
#[derive(Template)]
#[template(path = "console/keys.html")]
pub struct Keys {
    pub t: &'static Strings,
    pub nav: Option<Nav>,
    pub rows: Vec<KeyRow>,
}

/// One audit entry.
pub struct AuditRow {
    pub when: String,
    pub who: String,
    pub what: &'static str,
    pub count: u64,
}

/// The audit log.
#[derive(Template)]
#[template(path = "console/audit.html")]
pub struct Audit {
    pub t: &'static Strings,
    pub nav: Option<Nav>,
    pub rows: Vec<AuditRow>,
}

/// An account, for the list.
pub struct UserRow {
    pub name: String,
    pub role: &'static str,
}

/// An API key, for the list.
pub struct ApiKeyRow {
    pub id: String,
    pub label: String,
    pub created: String,
}

/// Accounts and API keys (admins).
#[derive(Template)]
#[template(path = "console/accounts.html")]
pub struct Accounts<'a> {
    pub t: &'static Strings,
    pub nav: Option<Nav>,
    pub csrf: &'a str,
    pub users: Vec<UserRow>,
    pub keys: Vec<ApiKeyRow>,
    /// A secret to show once: (what, secret).
    pub secret: Option<(String, String)>,
    pub error: Option<&'static str>,
}

/// A readable error.
#[derive(Template)]
#[template(path = "console/error.html")]
pub struct Error<'a> {
    pub t: &'static Strings,
    pub nav: Option<Nav>,
    pub message: &'a str,
    pub back: &'a str,
}

/// Renders a page (templates are checked at compile time; rendering only fails on a
/// formatting error, which would be a bug).
pub fn render(page: &impl Template) -> String {
    page.render().expect("console templates render")
}
