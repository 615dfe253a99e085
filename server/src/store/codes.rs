//! Verification codes and what goes with them, behind one trait: issued codes, tokens, failed
//! attempts, daily statistics and the console's audit log.
//!
//! A [`CodeStore`] never sees a code, a token or a person: callers pass keyed hashes
//! (HMAC-SHA256 under the data directory's `codes.key`, see `crate::verification`) and the
//! claims staff entered (test type and dates). Every implementation gives the same guarantees:
//!
//! - every write is atomic and durable when it returns `Ok` (fsync'd, group-committed with the
//!   uploads in the sled store);
//! - redeeming a code and spending a token are single use, also under concurrent requests;
//! - an authority never holds more than `max_short` unexpired, unused short codes;
//! - nothing expired lingers: [`CodeStore::purge`] deletes expired codes and tokens (counting
//!   unused codes as expired in the statistics) and history older than the retention;
//! - statistics are daily counts per authority; the audit log says who did how much when.

use en_api::date::Day;
use en_api::verify::TestType;
use en_protocol::UnixTime;

/// A keyed hash of a code (its authority, kind and text) or of a token.
pub type Hash = [u8; 32];

/// What staff certified: the test result, never the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The issuing authority's id.
    pub authority: String,
    /// The test result.
    pub test_type: TestType,
    /// The test date.
    pub test_date: Day,
    /// The symptom onset, if known.
    pub symptom_onset: Option<Day>,
}

/// One issued test result: its long code, and its short code if asked for. Redeeming either
/// uses both.
#[derive(Debug, Clone)]
pub struct NewIssue {
    /// Random id of the issue.
    pub id: [u8; 16],
    /// What was certified.
    pub claims: Claims,
    /// The short code's hash and expiry.
    pub short: Option<(Hash, UnixTime)>,
    /// The long code's hash and expiry.
    pub long: (Hash, UnixTime),
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditAction {
    /// Codes issued in the console, one test result at a time.
    Issued,
    /// Codes issued from a bulk CSV in the console.
    IssuedBulk,
    /// Codes issued through the back-office API.
    IssuedApi,
    /// A successful login.
    Login,
    /// A refused login.
    LoginFailed,
    /// A console account was added.
    UserAdded,
    /// A console account's password was reset.
    PasswordReset,
    /// A console account was removed.
    UserRemoved,
    /// An API key was created.
    ApiKeyCreated,
    /// An API key was revoked.
    ApiKeyRevoked,
}

impl AuditAction {
    /// Every action, in code order.
    pub const ALL: [AuditAction; 10] = [
        AuditAction::Issued,
        AuditAction::IssuedBulk,
        AuditAction::IssuedApi,
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::UserAdded,
        AuditAction::PasswordReset,
        AuditAction::UserRemoved,
        AuditAction::ApiKeyCreated,
        AuditAction::ApiKeyRevoked,
    ];
    /// The stored byte.
    pub fn code(self) -> u8 {
        Self::ALL.iter().position(|a| *a == self).expect("listed") as u8 + 1
    }
    /// Parses [`AuditAction::code`].
    pub fn from_code(c: u8) -> Option<Self> {
        Self::ALL.get(usize::from(c).checked_sub(1)?).copied()
    }
}

/// One line of the audit log: who did how much when. Never a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When.
    pub at: UnixTime,
    /// For which authority.
    pub authority: String,
    /// Who: a console account's name, or `api:<key id>`.
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// How many (codes issued; 1 otherwise).
    pub count: u64,
}

/// One day of an authority's statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayStats {
    /// Test results codes were issued for.
    pub issued: u64,
    /// Codes redeemed by a phone.
    pub claimed: u64,
    /// Codes that expired unused.
    pub expired: u64,
    /// Certificates signed for phones.
    pub certificates: u64,
    /// Keys accepted from phones with this authority's certificates (published after their
    /// embargo).
    pub keys: u64,
}

/// Why a code or token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such code or token.
    Unknown,
    /// It expired.
    Expired,
    /// It was used.
    Used,
}

/// Why a code-store operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodeStoreError {
    /// The code or token cannot be used; nothing changed.
    #[error("refused: {0:?}")]
    Refused(Refusal),
    /// The authority holds as many short codes as allowed; nothing was issued.
    #[error("too many outstanding short codes")]
    TooManyShortCodes,
    /// A new code's hash equals an unexpired code's (draw again); nothing was issued.
    #[error("code collision")]
    Collision,
    /// The write may or may not be durable.
    #[error("could not confirm that the write is durable: {0}")]
    Uncertain(String),
    /// Storage failure; nothing was written.
    #[error("storage error: {0}")]
    Io(String),
    /// A stored record cannot be decoded.
    #[error("corrupt record {0}")]
    Corrupt(String),
}

impl From<::sled::Error> for CodeStoreError {
    fn from(e: ::sled::Error) -> Self {
        CodeStoreError::Io(e.to_string())
    }
}

/// What [`CodeStore::purge`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Issues whose codes all expired (used or not).
    pub issues: u64,
    /// Tokens that expired.
    pub tokens: u64,
}

/// Durable storage of verification codes (see the module docs for the contract).
#[async_trait::async_trait]
pub trait CodeStore: Send + Sync + 'static {
    /// Stores new issues with their audit entry, all or none, counting them in the
    /// statistics. Refuses if the authority would hold more than `max_short` unexpired,
    /// unused short codes at `now`, or if a code's hash is already stored.
    async fn issue(
        &self,
        issues: &[NewIssue],
        audit: &AuditEntry,
        max_short: u64,
        now: UnixTime,
    ) -> Result<(), CodeStoreError>;

    /// Redeems the code with hash `code` at `now`: marks its issue used (both codes) and
    /// stores a token with hash `token`, valid until `token_expires`. Returns the claims.
    async fn redeem(
        &self,
        code: &Hash,
        token: &Hash,
        token_expires: UnixTime,
        now: UnixTime,
    ) -> Result<Claims, CodeStoreError>;

    /// Spends the token with hash `token` at `now` (counting a certificate); returns its claims.
    async fn spend_token(&self, token: &Hash, now: UnixTime) -> Result<Claims, CodeStoreError>;

    /// Durably counts a failed short-code attempt in clock hour `hour` for `authority`.
    async fn count_failure(&self, hour: u64, authority: &str) -> Result<(), CodeStoreError>;

    /// Failed attempts counted in clock hour `hour`: (authority, count).
    async fn failures(&self, hour: u64) -> Result<Vec<(String, u64)>, CodeStoreError>;

    /// Counts `keys` keys accepted with `authority`'s certificate on `day` (statistics).
    async fn count_keys(&self, authority: &str, day: Day, keys: u64) -> Result<(), CodeStoreError>;

    /// Appends to the audit log durably.
    async fn audit(&self, entry: &AuditEntry) -> Result<(), CodeStoreError>;

    /// The authority's statistics from day `from` on, oldest first (days without any count
    /// are left out).
    async fn stats(
        &self,
        authority: &str,
        from: Day,
    ) -> Result<Vec<(Day, DayStats)>, CodeStoreError>;

    /// The authority's most recent audit entries, newest first.
    async fn audit_log(
        &self,
        authority: &str,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, CodeStoreError>;

    /// Unexpired, unused short codes the authority holds at `now`.
    async fn outstanding_short(
        &self,
        authority: &str,
        now: UnixTime,
    ) -> Result<u64, CodeStoreError>;

    /// Deletes what expired by `now`, and statistics, audit entries and failure counts from
    /// before day `keep_from`.
    async fn purge(&self, now: UnixTime, keep_from: Day) -> Result<Purged, CodeStoreError>;

    /// A durable write of `bytes` random bytes that stores nothing (a fake request's work).
    async fn chaff(&self, bytes: usize) -> Result<(), CodeStoreError>;

    /// A digest of everything stored (tests: "nothing changed").
    async fn fingerprint(&self) -> Result<[u8; 32], CodeStoreError>;
}
