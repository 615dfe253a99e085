//! What a server accepts: an upload that passed verification **and** the protocol's rules
//! becomes an [`AcceptedUpload`], the only value a store takes.
//!
//! The rules that decide acceptance live here, not in the server, so that every store (sled,
//! PostgreSQL) and every server replica applies exactly the same ones:
//! - the case report is for this server's region, and the authority may report for it (a
//!   certificate carries no region: its authority must be allowed for the server's region);
//! - a case report is neither issued in the future beyond the clock skew nor older than
//!   the maximum report age; a certificate is not valid for longer than the server's cap;
//! - the keys follow [`crate::validate::validate_keys`];
//! - each key's release time follows GAEN's embargo ([`crate::validate::release_time`]);
//! - the single-use token (case-report nonce or certificate id) and how long it must be
//!   remembered to refuse a replay.
//!
//! ```
//! # use en_protocol::accept::AcceptPolicy;
//! # use en_protocol::wire::{Audience, Region};
//! let policy = AcceptPolicy::new(Region::new("VN").unwrap(), Audience::new("en-server:VN").unwrap());
//! assert_eq!(policy.max_certificate_lifetime_seconds, 86_400);
//! ```

use crate::error::{Error, ValidationError, VerifyError};
use crate::time::{UnixTime, DAY_SECONDS};
use crate::validate::{release_time, to_diagnosis_keys, validate_keys, UploadPolicy};
use crate::wire::case_report::VerifiedCaseReport;
use crate::wire::certificate::CertifiedUpload;
use crate::wire::key::DiagnosisKey;
use crate::wire::{Audience, AuthorityId, Region, ReportType};

/// A server's acceptance rules (its configuration, in protocol terms).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcceptPolicy {
    /// The region this server publishes for.
    pub region: Region,
    /// What certificates must name as their audience.
    pub audience: Audience,
    /// Key count, age and overlap rules.
    pub keys: UploadPolicy,
    /// Oldest accepted case report, seconds since it was issued.
    pub max_report_age_seconds: u64,
    /// Tolerated clock difference for issue times in the future.
    pub clock_skew_seconds: u64,
    /// Longest validity a certificate may have (its expiry minus its issue time).
    pub max_certificate_lifetime_seconds: u64,
    /// Days keys are kept; a key's duplicate record may go a day after that.
    pub retention_days: u64,
}

impl AcceptPolicy {
    /// The rules every signed report meets, a case report or a venue trace: issued for this
    /// server's region, not in the future beyond the clock skew, not older than the maximum age.
    pub(crate) fn check_report(
        &self,
        region: &Region,
        issued_at: UnixTime,
        now: UnixTime,
    ) -> Result<(), Error> {
        if *region != self.region {
            return Err(VerifyError::WrongRegion.into());
        }
        if issued_at > now.plus(self.clock_skew_seconds) {
            return Err(VerifyError::NotYetValid.into());
        }
        if issued_at.plus(self.max_report_age_seconds) < now {
            return Err(ValidationError::ReportTooOld.into());
        }
        Ok(())
    }

    /// The defaults for a server of `region` and `audience`.
    pub fn new(region: Region, audience: Audience) -> Self {
        AcceptPolicy {
            region,
            audience,
            keys: UploadPolicy::default(),
            max_report_age_seconds: DAY_SECONDS,
            clock_skew_seconds: 300,
            max_certificate_lifetime_seconds: DAY_SECONDS,
            retention_days: 14,
        }
    }
}

/// The single-use token an upload spent: a server must refuse it again until it expires.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReplayToken {
    /// A case report's nonce (unique per authority).
    CaseReport {
        /// The signing authority.
        authority: AuthorityId,
        /// The report's nonce.
        nonce: [u8; 16],
    },
    /// A verification certificate's id.
    Certificate {
        /// The certificate id.
        id: [u8; 16],
    },
    /// A revision token's nonce (random, under the server's MAC; see [`crate::revise`]).
    Revision {
        /// The token's nonce.
        nonce: [u8; 16],
    },
    /// A venue trace report's nonce (unique per authority; see [`crate::venue::accept`]).
    TraceReport {
        /// The signing authority.
        authority: AuthorityId,
        /// The report's nonce.
        nonce: [u8; 16],
    },
}

impl std::fmt::Debug for ReplayToken {
    // The authority knows which patient got which certificate id: keep ids out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayToken::CaseReport { authority, .. } => {
                write!(f, "ReplayToken::CaseReport({authority}, <nonce>)")
            }
            ReplayToken::Certificate { .. } => f.write_str("ReplayToken::Certificate(<id>)"),
            ReplayToken::Revision { .. } => f.write_str("ReplayToken::Revision(<nonce>)"),
            ReplayToken::TraceReport { authority, .. } => {
                write!(f, "ReplayToken::TraceReport({authority}, <nonce>)")
            }
        }
    }
}

impl ReplayToken {
    /// A canonical, domain-separated encoding (stores keep only a keyed hash of it).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        match self {
            ReplayToken::CaseReport { authority, nonce } => {
                out.extend_from_slice(b"en/v1/replay/case-report\0");
                authority.write(&mut out);
                out.extend_from_slice(nonce);
            }
            ReplayToken::Certificate { id } => {
                out.extend_from_slice(b"en/v1/replay/certificate\0");
                out.extend_from_slice(id);
            }
            ReplayToken::Revision { nonce } => {
                out.extend_from_slice(b"en/v1/replay/revision\0");
                out.extend_from_slice(nonce);
            }
            ReplayToken::TraceReport { authority, nonce } => {
                out.extend_from_slice(b"en/v1/replay/trace-report\0");
                authority.write(&mut out);
                out.extend_from_slice(nonce);
            }
        }
        out
    }
}

/// A diagnosis key with the time from which it may be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedKey {
    /// The key and its metadata (report type and onset from the authority's signature).
    pub key: DiagnosisKey,
    /// Earliest publication time (GAEN's embargo: 2 h after a still-valid key expires).
    pub release_at: UnixTime,
}

/// An upload that passed verification and every acceptance rule. Only
/// [`VerifiedCaseReport::accept`] and [`CertifiedUpload::accept`] build one, so a store that
/// takes only this type cannot store an unchecked upload.
#[derive(Debug, Clone)]
pub struct AcceptedUpload {
    authority: AuthorityId,
    report_type: ReportType,
    token: ReplayToken,
    token_expires_at: UnixTime,
    keys: Vec<ReleasedKey>,
    keys_expire_at: UnixTime,
    accepted_at: UnixTime,
}

impl AcceptedUpload {
    /// The authority that signed the report or certificate (for its quota).
    pub fn authority(&self) -> &AuthorityId {
        &self.authority
    }
    /// How the case was established.
    pub fn report_type(&self) -> ReportType {
        self.report_type
    }
    /// The single-use token this upload spent.
    pub fn token(&self) -> &ReplayToken {
        &self.token
    }
    /// When the token can no longer be presented (the replay record may be dropped then).
    pub fn token_expires_at(&self) -> UnixTime {
        self.token_expires_at
    }
    /// The keys with their release times.
    pub fn keys(&self) -> &[ReleasedKey] {
        &self.keys
    }
    /// When the keys' duplicate records may be dropped (after retention).
    pub fn keys_expire_at(&self) -> UnixTime {
        self.keys_expire_at
    }
    /// When it was accepted (its UTC day counts against the authority's daily quota).
    pub fn accepted_at(&self) -> UnixTime {
        self.accepted_at
    }

    fn new(
        policy: &AcceptPolicy,
        now: UnixTime,
        authority: AuthorityId,
        report_type: ReportType,
        token: ReplayToken,
        token_expires_at: UnixTime,
        keys: Vec<DiagnosisKey>,
    ) -> Self {
        let last_end = keys
            .iter()
            .map(|k| k.meta.end().start())
            .max()
            .unwrap_or(now);
        AcceptedUpload {
            authority,
            report_type,
            token,
            token_expires_at,
            keys_expire_at: last_end.plus((policy.retention_days + 1) * DAY_SECONDS),
            keys: keys
                .into_iter()
                .map(|k| ReleasedKey {
                    release_at: release_time(&k.meta, now),
                    key: k,
                })
                .collect(),
            accepted_at: now,
        }
    }
}

impl VerifiedCaseReport {
    /// Applies the acceptance rules at `now`: region, freshness, key rules, embargo.
    pub fn accept(self, policy: &AcceptPolicy, now: UnixTime) -> Result<AcceptedUpload, Error> {
        let r = self.report();
        policy.check_report(&r.region, r.issued_at, now)?;
        validate_keys(&r.keys, now, &policy.keys)?;
        let keys = to_diagnosis_keys(&r.keys, r.report_type, r.symptom_onset);
        Ok(AcceptedUpload::new(
            policy,
            now,
            r.authority.clone(),
            r.report_type,
            ReplayToken::CaseReport {
                authority: r.authority.clone(),
                nonce: r.nonce,
            },
            r.issued_at
                .plus(policy.max_report_age_seconds + policy.clock_skew_seconds + 1),
            keys,
        ))
    }
}

impl CertifiedUpload {
    /// The rules on the certificate itself, for an upload and a revision alike: its authority
    /// may report for the server's region, and its lifetime is within the cap.
    pub(crate) fn check_certificate(&self, policy: &AcceptPolicy) -> Result<(), Error> {
        if self
            .authority_region()
            .is_some_and(|allowed| allowed != &policy.region)
        {
            return Err(VerifyError::WrongRegion.into());
        }
        let c = self.certificate();
        if c.expires_at.0 - c.issued_at.0 > policy.max_certificate_lifetime_seconds {
            return Err(ValidationError::CertificateLifetimeTooLong {
                max_seconds: policy.max_certificate_lifetime_seconds,
            }
            .into());
        }
        Ok(())
    }

    /// Applies the acceptance rules at `now`: the authority may report for the server's
    /// region, the certificate's lifetime is within the cap, key rules, embargo.
    pub fn accept(self, policy: &AcceptPolicy, now: UnixTime) -> Result<AcceptedUpload, Error> {
        self.check_certificate(policy)?;
        let c = self.certificate();
        validate_keys(self.keys(), now, &policy.keys)?;
        let keys = to_diagnosis_keys(self.keys(), c.report_type, c.symptom_onset);
        Ok(AcceptedUpload::new(
            policy,
            now,
            c.authority.clone(),
            c.report_type,
            ReplayToken::Certificate { id: c.id },
            c.expires_at.plus(policy.clock_skew_seconds + 1),
            keys,
        ))
    }
}
