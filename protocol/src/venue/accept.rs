//! What a server accepts of a venue trace: a trace report that verified **and** passed the
//! acceptance rules becomes an [`AcceptedTrace`], the only trace value a store takes.
//!
//! The rules are those of case reports ([`crate::accept`]), here so that every store and
//! every replica applies the same ones:
//! - the report is for the server's region (the registry's region rule was applied by
//!   [`super::SignedTraceReport::verify`]);
//! - it is neither issued in the future beyond the clock skew nor older than the maximum
//!   report age;
//! - every traced hour lies in the check-in retention window: not after the current hour
//!   (with the clock skew) and not more than [`RETENTION_HOURS`] before it (phones have
//!   deleted those records, so publishing them would only cost bandwidth);
//! - the single-use token is the (authority, nonce) pair, remembered for as long as the
//!   report could be presented.

use super::report::{TraceEntry, VerifiedTraceReport};
use super::{Hour, RETENTION_HOURS};
use crate::accept::{AcceptPolicy, ReplayToken};
use crate::error::{Error, ValidationError};
use crate::time::UnixTime;
use crate::wire::AuthorityId;

/// A trace report that passed verification and every acceptance rule. Only
/// [`VerifiedTraceReport::accept`] builds one, so a store that takes only this type cannot
/// store an unchecked trace.
#[derive(Debug, Clone)]
pub struct AcceptedTrace {
    authority: AuthorityId,
    token: ReplayToken,
    token_expires_at: UnixTime,
    entries: Vec<TraceEntry>,
    accepted_at: UnixTime,
}

impl AcceptedTrace {
    /// The authority that signed the report (for its daily quota).
    pub fn authority(&self) -> &AuthorityId {
        &self.authority
    }
    /// The single-use token the report spent.
    pub fn token(&self) -> &ReplayToken {
        &self.token
    }
    /// When the token can no longer be presented (the replay record may be dropped then).
    pub fn token_expires_at(&self) -> UnixTime {
        self.token_expires_at
    }
    /// The traced venue-hours, by increasing (hour, identity); every key fully checked.
    pub fn entries(&self) -> &[TraceEntry] {
        &self.entries
    }
    /// When it was accepted (its UTC day counts against the authority's daily quota).
    pub fn accepted_at(&self) -> UnixTime {
        self.accepted_at
    }
}

impl VerifiedTraceReport {
    /// Applies the acceptance rules at `now`: region, freshness, traced hours.
    pub fn accept(self, policy: &AcceptPolicy, now: UnixTime) -> Result<AcceptedTrace, Error> {
        let r = self.report();
        policy.check_report(&r.region, r.issued_at, now)?;
        let latest = Hour::containing(now.plus(policy.clock_skew_seconds));
        let oldest = Hour(Hour::containing(now).0.saturating_sub(RETENTION_HOURS));
        if r.entries()
            .iter()
            .any(|e| e.hour() > latest || e.hour() < oldest)
        {
            return Err(ValidationError::TraceHourOutOfRange.into());
        }
        Ok(AcceptedTrace {
            authority: r.authority.clone(),
            token: ReplayToken::TraceReport {
                authority: r.authority.clone(),
                nonce: r.nonce,
            },
            token_expires_at: r
                .issued_at
                .plus(policy.max_report_age_seconds + policy.clock_skew_seconds + 1),
            entries: r.entries().to_vec(),
            accepted_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand_chacha::rand_core::SeedableRng;

    use super::*;
    use crate::keys::SigningKey;
    use crate::venue::{setup, SealingSecretKey, SignedTraceReport, TraceReport};
    use crate::verify::AuthorityInfo;
    use crate::wire::{Audience, Region};

    const NOW: UnixTime = UnixTime(1_767_300_000);

    /// A verified report of `hours` for region `region`, issued at `issued_at`.
    fn verified(hours: &[Hour], region: &str, issued_at: UnixTime) -> VerifiedTraceReport {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let ha = SealingSecretKey::generate(&mut rng);
        let (_, secret) = setup(&mut rng, "V", "", &ha.public_key()).unwrap();
        // Opened in the last hour asked for, so the authority's own hour check passes.
        let last = hours.iter().max().unwrap().start();
        let checked = secret
            .trace_request(hours)
            .unwrap()
            .open(&ha, last)
            .unwrap();
        let key = SigningKey::generate(&mut rng);
        let id = AuthorityId::new("moh.vn").unwrap();
        let report = TraceReport::new(
            &checked,
            "m",
            id.clone(),
            Region::new(region).unwrap(),
            issued_at,
            [4; 16],
            &mut rng,
        )
        .unwrap();
        let registry = BTreeMap::from([(
            id,
            AuthorityInfo {
                public_key: key.public_key(),
                region: None,
                revoked: false,
            },
        )]);
        SignedTraceReport::decode(&report.sign(&key).unwrap())
            .unwrap()
            .verify(&registry)
            .unwrap()
    }

    fn policy() -> AcceptPolicy {
        AcceptPolicy::new(
            Region::new("VN").unwrap(),
            Audience::new("en-server:VN").unwrap(),
        )
    }

    fn code(r: Result<AcceptedTrace, Error>) -> &'static str {
        r.map(|_| "ok").unwrap_or_else(|e| e.code())
    }

    #[test]
    fn the_rules_of_case_reports_apply() {
        let h = Hour::containing(NOW);
        let p = policy();
        let a = verified(&[Hour(h.0 - 2), h], "VN", NOW.minus(60))
            .accept(&p, NOW)
            .unwrap();
        assert_eq!(a.entries().len(), 2);
        assert_eq!(a.accepted_at(), NOW);
        assert_eq!(a.token_expires_at(), NOW.minus(60).plus(86_400 + 300 + 1));
        let ok = |hours: &[Hour], region: &str, at: UnixTime| {
            code(verified(hours, region, at).accept(&p, NOW))
        };
        assert_eq!(ok(&[h], "TH", NOW), "wrong_region");
        assert_eq!(ok(&[h], "VN", NOW.plus(301)), "not_yet_valid");
        assert_eq!(ok(&[h], "VN", NOW.plus(300)), "ok");
        assert_eq!(ok(&[h], "VN", NOW.minus(86_401)), "report_too_old");
        assert_eq!(ok(&[Hour(h.0 + 1)], "VN", NOW), "trace_hour_out_of_range");
        assert_eq!(ok(&[Hour(h.0 - 336)], "VN", NOW), "ok");
        assert_eq!(ok(&[Hour(h.0 - 337)], "VN", NOW), "trace_hour_out_of_range");
    }

    #[test]
    fn the_trace_token_is_its_own_domain() {
        let authority = AuthorityId::new("moh.vn").unwrap();
        let trace = ReplayToken::TraceReport {
            authority: authority.clone(),
            nonce: [1; 16],
        };
        let case = ReplayToken::CaseReport {
            authority,
            nonce: [1; 16],
        };
        assert_ne!(trace.to_bytes(), case.to_bytes());
        assert!(!format!("{trace:?}").contains("01"));
    }
}
