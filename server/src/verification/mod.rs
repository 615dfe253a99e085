//! Verification codes: staff issue them for a test result, a phone redeems one for a token
//! (`POST /v1/verify`) and the token, with its tekmac, for a certificate signed with the
//! authority's key the server holds (`POST /v1/certificate`). spec/verification.md.
//!
//! The server keeps only keyed hashes of codes and tokens ([`codes::Hasher`], `codes.key`) and
//! the claims staff entered; never a phone number or a name. Fake requests do the same kind
//! of work as real ones (a store transaction, a signature, a durable write of a similar size)
//! and change nothing.

pub mod codes;
pub mod keys;
pub mod limiter;

use std::path::Path;
use std::sync::Arc;

use en_api::date::Day;
use en_api::verify::{
    code_link, normalize_code, CodeKind, IssuedCode, TestResult, TestType, VerifyAnswer,
};
use en_protocol::accept::AcceptPolicy;
use en_protocol::keys::SigningKey;
use en_protocol::verify::AuthorityRegistry;
use en_protocol::wire::certificate::Certificate;
use en_protocol::wire::{AuthorityId, ReportType};
use en_protocol::{IntervalNumber, UnixTime};
use rand::Rng;

use self::codes::Hasher;
use self::limiter::Limiter;
use crate::config::ConsoleSettings;
use crate::error::Error;
use crate::registry::Registry;
use crate::store::codes::{AuditAction, AuditEntry, CodeStoreError, NewIssue, Refusal};
use crate::store::CodeStore;

/// Bytes a redeem writes (issue, token and statistics records): a fake verify writes as many.
const REDEEM_BYTES: usize = 164;
/// Bytes a token spend writes (token and statistics records).
const SPEND_BYTES: usize = 66;

/// Whether a refusal concerns a code or a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A verification code.
    Code,
    /// A verification token.
    Token,
}

/// Why a verification request or an issue was refused (the HTTP mapping is in `crate::error`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// Not a code.
    #[error("malformed code")]
    MalformedCode,
    /// Not a token.
    #[error("malformed token")]
    MalformedToken,
    /// The tekmac is not 32 bytes of base64.
    #[error("malformed tekmac")]
    MalformedTekmac,
    /// The authority is not registered with a key this server holds, or may not report here.
    #[error("unknown authority")]
    UnknownAuthority,
    /// The authority was revoked.
    #[error("revoked authority")]
    RevokedAuthority,
    /// The authority may not report for this server's region.
    #[error("wrong region")]
    WrongRegion,
    /// The failed short-code budget is spent.
    #[error("rate limited for {retry_after} s")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after: u64,
    },
    /// The code or token cannot be used.
    #[error("{0:?} refused: {1:?}")]
    Refused(Subject, Refusal),
    /// A test result cannot be issued.
    #[error("test result {index}: {reason}")]
    InvalidTest {
        /// Its index in the request.
        index: usize,
        /// Why.
        reason: codes::ClaimError,
    },
    /// No request results, or more than allowed.
    #[error("{0} test results")]
    BadCount(usize),
    /// The authority holds as many short codes as allowed.
    #[error("too many short codes")]
    TooManyShortCodes,
    /// The store failed.
    #[error(transparent)]
    Store(CodeStoreError),
    /// Reading a key or signing failed.
    #[error(transparent)]
    Server(#[from] Error),
}

impl From<CodeStoreError> for CodeError {
    fn from(e: CodeStoreError) -> Self {
        match e {
            CodeStoreError::TooManyShortCodes => CodeError::TooManyShortCodes,
            e => CodeError::Store(e),
        }
    }
}

/// Codes, tokens and certificates: the service behind the endpoints and the console.
pub struct Verification {
    /// Keys every hash.
    pub hasher: Hasher,
    /// Where codes live.
    pub store: Arc<dyn CodeStore>,
    /// The settings.
    pub settings: ConsoleSettings,
    held: keys::HeldKeys,
    limiter: Limiter,
    /// Signs fake certificates (a throwaway key).
    decoy: SigningKey,
}

/// The first interval of day `d` (a certificate's symptom onset: GAEN's UTC midnight).
fn onset_interval(d: Day) -> IntervalNumber {
    IntervalNumber(d.0.saturating_mul(144))
}

impl Verification {
    /// The service over `store`, with the data directory's `codes.key` secret and
    /// `authority-keys/` directory, starting the failure budget from the stored counts.
    pub async fn new(
        store: Arc<dyn CodeStore>,
        secret: [u8; 32],
        keys_dir: &Path,
        settings: ConsoleSettings,
        now: UnixTime,
    ) -> Result<Self, CodeStoreError> {
        let stored = store.failures(now.0 / 3600).await?;
        Ok(Verification {
            hasher: Hasher::new(secret),
            limiter: Limiter::new(
                settings.failed_short_codes_per_hour,
                settings.failed_short_codes_per_authority_per_hour,
                now,
                stored,
            ),
            held: keys::HeldKeys::new(keys_dir.to_path_buf()),
            settings,
            store,
            decoy: SigningKey::generate(&mut rand::rngs::OsRng),
        })
    }

    /// The signing key of `authority` if it is registered, not revoked, allowed for `policy`'s
    /// region, and its registered key is the one this server holds.
    pub fn authority_key(
        &self,
        registry: &Registry,
        policy: &AcceptPolicy,
        authority: &str,
    ) -> Result<Arc<SigningKey>, CodeError> {
        let id = AuthorityId::new(authority).map_err(|_| CodeError::UnknownAuthority)?;
        if !registry.refresh() {
            return Err(Error::Registry("the authority registry is unavailable".into()).into());
        }
        let info = registry.authority(&id).ok_or(CodeError::UnknownAuthority)?;
        if info.revoked {
            return Err(CodeError::RevokedAuthority);
        }
        if info.region.as_ref().is_some_and(|r| r != &policy.region) {
            return Err(CodeError::WrongRegion);
        }
        match self.held.get(id.as_str())? {
            Some(k) if k.public_key() == info.public_key => Ok(k),
            _ => Err(CodeError::UnknownAuthority),
        }
    }

    /// Issues codes for `tests` of `authority` at `now` (a short code too where asked), and
    /// records `actor`'s `action` in the audit log. The codes are returned once; only their
    /// hashes are stored.
    pub async fn issue(
        &self,
        authority: &str,
        actor: &str,
        action: AuditAction,
        tests: &[TestResult],
        now: UnixTime,
    ) -> Result<Vec<IssuedCode>, CodeError> {
        let s = &self.settings;
        if tests.is_empty() || tests.len() > s.max_codes_per_request {
            return Err(CodeError::BadCount(tests.len()));
        }
        let claims = tests
            .iter()
            .enumerate()
            .map(|(index, t)| {
                codes::claims(authority, t, now, s.max_test_age_days)
                    .map_err(|reason| CodeError::InvalidTest { index, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let audit = AuditEntry {
            at: now,
            authority: authority.into(),
            actor: actor.into(),
            action,
            count: tests.len() as u64,
        };
        let (short_until, long_until) = (
            now.plus(s.short_code_lifetime_seconds),
            now.plus(s.long_code_lifetime_seconds),
        );
        for _attempt in 0..4 {
            let mut rng = rand::rngs::OsRng;
            let mut out = Vec::with_capacity(tests.len());
            let mut issues = Vec::with_capacity(tests.len());
            for (t, c) in tests.iter().zip(&claims) {
                let short = t.short.then(|| codes::short_code(&mut rng));
                let long = codes::long_code(&mut rng);
                issues.push(NewIssue {
                    id: rng.gen(),
                    claims: c.clone(),
                    short: short
                        .as_ref()
                        .map(|c| (self.hasher.code(authority, CodeKind::Short, c), short_until)),
                    long: (
                        self.hasher.code(authority, CodeKind::Long, &long),
                        long_until,
                    ),
                });
                out.push(IssuedCode {
                    short_code: short.as_ref().map(|c| c.to_string()),
                    short_expires_at: short.is_some().then_some(short_until.0),
                    link: code_link(&s.code_link_base, authority, &long),
                    long_code: long.to_string(),
                    long_expires_at: long_until.0,
                });
            }
            match self
                .store
                .issue(&issues, &audit, s.max_outstanding_short_codes, now)
                .await
            {
                Err(CodeStoreError::Collision) => continue,
                r => return r.map(|()| out).map_err(CodeError::from),
            }
        }
        Err(CodeError::Store(CodeStoreError::Collision))
    }

    /// `POST /v1/verify`: redeems `code` of `authority` (or, if `fake`, does the same work and
    /// changes nothing).
    pub async fn redeem(
        &self,
        registry: &Registry,
        policy: &AcceptPolicy,
        authority: &str,
        code: &str,
        fake: bool,
        now: UnixTime,
    ) -> Result<VerifyAnswer, CodeError> {
        self.authority_key(registry, policy, authority)?;
        let (kind, code) = normalize_code(code).ok_or(CodeError::MalformedCode)?;
        let mut rng = rand::rngs::OsRng;
        let hash = self.hasher.code(authority, kind, &code);
        let (token, text) = codes::token(&mut rng);
        let token_hash = self.hasher.token(&token);
        let expires = now.plus(self.settings.token_lifetime_seconds);
        let limited = |e: limiter::Exhausted| CodeError::RateLimited {
            retry_after: e.retry_after,
        };
        let answer = |test_type, test_date: Day, onset: Option<Day>| VerifyAnswer {
            token: text.to_string(),
            token_expires_at: expires.0,
            test_type,
            test_date: test_date.to_string(),
            symptom_onset: onset.map(|d| d.to_string()),
            padding: String::new(),
        };
        if kind == CodeKind::Short {
            // Failures other replicas of a shared database counted (fake requests read them
            // too, so that they cost what real ones do).
            let stored = self.store.failures(now.0 / 3600).await?;
            self.limiter.observe(now, stored);
        }
        if fake {
            if kind == CodeKind::Short {
                self.limiter.check(authority, now).map_err(limited)?;
            }
            // A lookup that finds nothing, then a durable write of a redeem's size.
            let _ = self
                .store
                .redeem(&rng.gen(), &token_hash, expires, now)
                .await;
            self.store.chaff(REDEEM_BYTES).await?;
            return Ok(answer(TestType::Confirmed, Day::of_unix(now.0), None));
        }
        let slot = match kind {
            CodeKind::Short => Some(self.limiter.reserve(authority, now).map_err(limited)?),
            CodeKind::Long => None,
        };
        match self.store.redeem(&hash, &token_hash, expires, now).await {
            Ok(c) => {
                if let Some(s) = slot {
                    self.limiter.release(s);
                }
                Ok(answer(c.test_type, c.test_date, c.symptom_onset))
            }
            Err(CodeStoreError::Refused(r)) => {
                if let Some(s) = slot {
                    self.store.count_failure(s.hour(), authority).await?;
                }
                Err(CodeError::Refused(Subject::Code, r))
            }
            Err(e) => {
                if let Some(s) = slot {
                    self.limiter.release(s);
                }
                Err(e.into())
            }
        }
    }

    /// `POST /v1/certificate`: spends `token` and signs a certificate for `tekmac` with the
    /// authority's key (or, if `fake`, does the same work with a throwaway key).
    pub async fn certificate(
        &self,
        registry: &Registry,
        policy: &AcceptPolicy,
        token: &str,
        tekmac: [u8; 32],
        fake: bool,
        now: UnixTime,
    ) -> Result<Vec<u8>, CodeError> {
        let token = codes::parse_token(token).ok_or(CodeError::MalformedToken)?;
        let mut rng = rand::rngs::OsRng;
        let hash = self.hasher.token(&token);
        let cert = |report_type: ReportType, onset: Option<Day>, authority: &str| Certificate {
            authority: AuthorityId::new(authority).expect("a stored authority id is valid"),
            report_type,
            symptom_onset: onset.map(onset_interval),
            issued_at: now,
            expires_at: now.plus(self.settings.certificate_lifetime_seconds),
            audience: policy.audience.clone(),
            id: rand::rngs::OsRng.gen(),
            tekmac,
        };
        if fake {
            let _ = self.store.spend_token(&rng.gen(), now).await;
            let signed = cert(ReportType::ConfirmedTest, None, "decoy").sign(&self.decoy);
            self.store.chaff(SPEND_BYTES).await?;
            return signed.map_err(|e| Error::Protocol(e).into());
        }
        let claims = self
            .store
            .spend_token(&hash, now)
            .await
            .map_err(|e| match e {
                CodeStoreError::Refused(r) => CodeError::Refused(Subject::Token, r),
                e => e.into(),
            })?;
        let key = self.authority_key(registry, policy, &claims.authority)?;
        cert(
            claims.test_type.report_type(),
            claims.symptom_onset,
            &claims.authority,
        )
        .sign(&key)
        .map_err(|e| Error::Protocol(e).into())
    }

    /// Records an audit entry (logins, account changes).
    pub async fn audit(
        &self,
        authority: &str,
        actor: &str,
        action: AuditAction,
        now: UnixTime,
    ) -> Result<(), CodeStoreError> {
        self.store
            .audit(&AuditEntry {
                at: now,
                authority: authority.into(),
                actor: actor.into(),
                action,
                count: 1,
            })
            .await
    }

    /// Deletes what expired and history older than `history_days` (run every minute).
    pub async fn purge(&self, now: UnixTime) -> Result<(), CodeStoreError> {
        let keep_from = Day::of_unix(now.0)
            .0
            .saturating_sub(u32::try_from(self.settings.history_days).unwrap_or(u32::MAX));
        let p = self.store.purge(now, Day(keep_from)).await?;
        if p.issues + p.tokens > 0 {
            tracing::debug!(issues = p.issues, tokens = p.tokens, "expired codes purged");
        }
        Ok(())
    }
}
