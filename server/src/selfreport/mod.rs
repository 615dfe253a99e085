//! Self-reports without identity (spec/self-report.md): one-time test-kit codes, exchanged
//! for VOPRF evaluations (`POST /v1/self-report/tokens`); a finalized token, redeemed once
//! (`POST /v1/self-report/redeem`), for a verification code of type self-report for the
//! configured self-report authority, which the phone redeems through `POST /v1/verify`.
//!
//! Storage goes through the verification code store ([`crate::store::CodeStore`], sled and
//! PostgreSQL alike): a kit code is an issue of the pseudo-authority [`KIT_AUTHORITY`] whose
//! long-code hash is the kit code's keyed hash; a redeemed token is an issue of
//! [`USED_AUTHORITY`] whose hash is the keyed hash of the token's input, stored in the same
//! transaction as the verification code it pays for, so a second redemption collides and is
//! refused. Neither pseudo-authority is a valid authority id, so neither can be redeemed at
//! `POST /v1/verify`. Nothing of the blinded element or the evaluation is stored or logged.

pub mod kits;

use std::path::Path;

use en_api::date::Day;
use en_api::self_report::{decode_b64, RedeemAnswer};
use en_api::verify::TestType;
use en_protocol::accept::AcceptPolicy;
use en_protocol::selfreport::server::SelfReportKey;
use en_protocol::selfreport::{
    BlindedElement, Evaluation, SelfReportPublicKey, Token, INPUT_LEN, OUTPUT_LEN,
};
use en_protocol::UnixTime;
use rand::Rng;

use crate::error::Error;
use crate::registry::Registry;
use crate::store::codes::{AuditAction, AuditEntry, Claims, CodeStoreError, NewIssue, Refusal};
use crate::verification::{CodeError, Verification};

/// The pseudo-authority of kit codes in the code store (not a valid authority id).
pub const KIT_AUTHORITY: &str = "#kit";
/// The pseudo-authority of redeemed tokens in the code store (not a valid authority id).
pub const USED_AUTHORITY: &str = "#self-report-used";
/// File name, in the data directory, of the secret seed of the self-report key (0600).
pub const KEY_FILE: &str = "selfreport.key";

/// Why a self-report request was refused (the HTTP mapping is in `crate::error`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SelfReportError {
    /// No self-report authority is configured.
    #[error("self-reports are disabled")]
    Disabled,
    /// Not a kit code.
    #[error("malformed kit code")]
    MalformedKitCode,
    /// The blinded element is not a valid encoding.
    #[error("invalid blinded element")]
    InvalidBlinded,
    /// The token's fields have the wrong length or are not base64.
    #[error("malformed token")]
    MalformedToken,
    /// The kit code cannot be used.
    #[error("kit code refused: {0:?}")]
    Kit(Refusal),
    /// The token does not verify under the key.
    #[error("invalid token")]
    InvalidToken,
    /// The token was redeemed before.
    #[error("token used")]
    TokenUsed,
    /// The daily self-report quota is used up.
    #[error("self-report quota used up")]
    Quota,
    /// The self-report authority cannot issue (unregistered, revoked, key not held).
    #[error(transparent)]
    Code(#[from] CodeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] CodeStoreError),
}

/// The self-report service: the VOPRF key.
pub struct SelfReport {
    key: SelfReportKey,
}

impl std::fmt::Debug for SelfReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfReport")
            .field("key", &self.key)
            .finish()
    }
}

impl SelfReport {
    /// The service with the key whose seed is in `path` (created 0600 if missing).
    pub fn open(path: &Path) -> Result<Self, Error> {
        crate::datadir::create_secret(path)?;
        let seed = zeroize::Zeroizing::new(crate::datadir::read_replay_key(path)?);
        Ok(SelfReport {
            key: SelfReportKey::from_seed(&seed),
        })
    }

    /// The service with `key` (tests).
    pub fn with_key(key: SelfReportKey) -> Self {
        SelfReport { key }
    }

    /// The public key phones check proofs against.
    pub fn public_key(&self) -> SelfReportPublicKey {
        self.key.public_key()
    }

    /// `POST /v1/self-report/tokens`: spends `kit_code` and evaluates `blinded` (base64).
    pub async fn token(
        &self,
        v: &Verification,
        kit_code: &str,
        blinded: &str,
        now: UnixTime,
    ) -> Result<Evaluation, SelfReportError> {
        if v.settings.self_report_authority.is_empty() {
            return Err(SelfReportError::Disabled);
        }
        // Check everything before the kit code is spent.
        let blinded = decode_b64(blinded, 32)
            .and_then(|b| BlindedElement::from_slice(&b).ok())
            .ok_or(SelfReportError::InvalidBlinded)?;
        let code = kits::normalize(kit_code).ok_or(SelfReportError::MalformedKitCode)?;
        let mut rng = rand::rngs::OsRng;
        // Spending a kit code is redeeming its issue; the token it would pay for expires at
        // once (never usable) and is purged.
        let claims = v
            .store
            .redeem(&v.hasher.kit(&code), &v.hasher.token(&rng.gen()), now, now)
            .await
            .map_err(|e| match e {
                CodeStoreError::Refused(r) => SelfReportError::Kit(r),
                e => e.into(),
            })?;
        if claims.authority != KIT_AUTHORITY {
            return Err(SelfReportError::Kit(Refusal::Unknown));
        }
        Ok(self.key.evaluate(&mut rng, &blinded))
    }

    /// `POST /v1/self-report/redeem`: verifies and spends the token (`input`, `output`:
    /// base64) and issues a verification code of type self-report.
    pub async fn redeem(
        &self,
        v: &Verification,
        registry: &Registry,
        policy: &AcceptPolicy,
        input: &str,
        output: &str,
        now: UnixTime,
    ) -> Result<RedeemAnswer, SelfReportError> {
        let s = &v.settings;
        let authority = s.self_report_authority.as_str();
        if authority.is_empty() {
            return Err(SelfReportError::Disabled);
        }
        let token = match (decode_b64(input, INPUT_LEN), decode_b64(output, OUTPUT_LEN)) {
            (Some(i), Some(o)) => {
                Token::from_slices(&i, &o).map_err(|_| SelfReportError::MalformedToken)?
            }
            _ => return Err(SelfReportError::MalformedToken),
        };
        self.key
            .verify(&token)
            .map_err(|_| SelfReportError::InvalidToken)?;
        v.authority_key(registry, policy, authority)?;
        let today = Day::of_unix(now.0);
        let issued: u64 = v
            .store
            .stats(authority, today)
            .await?
            .iter()
            .filter(|(d, _)| *d == today)
            .map(|(_, st)| st.issued)
            .sum();
        if issued >= s.self_report_daily_codes {
            return Err(SelfReportError::Quota);
        }
        let mut rng = rand::rngs::OsRng;
        let long = crate::verification::codes::long_code(&mut rng);
        let code_until = now.plus(s.long_code_lifetime_seconds);
        let claims = |a: &str| Claims {
            authority: a.into(),
            test_type: TestType::SelfReport,
            test_date: today,
            symptom_onset: None,
        };
        let issues = [
            NewIssue {
                id: rng.gen(),
                claims: claims(USED_AUTHORITY),
                short: None,
                long: (
                    v.hasher.self_report_input(token.input.as_bytes()),
                    now.plus(s.self_report_token_days.saturating_mul(86_400)),
                ),
            },
            NewIssue {
                id: rng.gen(),
                claims: claims(authority),
                short: None,
                long: (
                    v.hasher
                        .code(authority, en_api::verify::CodeKind::Long, &long),
                    code_until,
                ),
            },
        ];
        let audit = AuditEntry {
            at: now,
            authority: authority.into(),
            actor: "self-report".into(),
            action: AuditAction::IssuedApi,
            count: 1,
        };
        match v.store.issue(&issues, &audit, u64::MAX, now).await {
            // The input's hash is stored (a 2^-80 collision of the fresh code aside).
            Err(CodeStoreError::Collision) => Err(SelfReportError::TokenUsed),
            Err(e) => Err(e.into()),
            Ok(()) => Ok(RedeemAnswer {
                authority: authority.into(),
                code: long.to_string(),
                expires_at: code_until.0,
            }),
        }
    }
}
