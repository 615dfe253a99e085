//! What a server accepts from a peer region's federation chain (spec/federation.md §2): a
//! batch the chain follower verified — signed by the peer's configured export key and no
//! other, chained to the last batch imported from that peer, fresh — becomes an
//! [`AcceptedImport`], the only value a store's import takes.
//!
//! The rules, applied here so that every store and replica applies the same ones:
//! - the batch is for this server's region (the peer's federation chain *for* it), and the
//!   origin is another region;
//! - keys whose validity ended before the retention period are dropped (a peer may keep them
//!   longer than this server would; they could no longer match anything anyway);
//! - every key is released at once (the peer already published it) and never forwarded:
//!   imported keys carry no destinations;
//! - a key imported before from the same origin is revised only as a phone may revise it
//!   ([`is_import_revision`]): from clinical diagnosis or self-report to confirmed or revoked,
//!   never back, so a batch imported again (after a resynchronisation) cannot undo a revision.

use crate::error::{Error, VerifyError};
use crate::phone::FollowerState;
use crate::time::{UnixTime, DAY_SECONDS};
use crate::wire::batch::VerifiedBatch;
use crate::wire::key::{DiagnosisKey, KeyMetadata};
use crate::wire::revision::{is_revisable, is_revision_target};
use crate::wire::Region;

use crate::accept::AcceptPolicy;

/// Whether metadata `new`, imported from the origin that sent `stored` for the same key
/// before, revises it: the revisions a phone may make at the origin (`POST /v1/revisions`),
/// from clinical diagnosis or self-report to confirmed or revoked, with the key's validity
/// unchanged. Anything else (the same metadata, an older batch imported again, a change a
/// revision cannot make) leaves the stored key as it is.
pub fn is_import_revision(stored: &KeyMetadata, new: &KeyMetadata) -> bool {
    is_revisable(stored.report_type)
        && is_revision_target(new.report_type)
        && stored.rolling_start == new.rolling_start
        && stored.rolling_period == new.rolling_period
}

/// A verified batch of a peer's federation chain, accepted for import.
#[derive(Debug, Clone)]
pub struct AcceptedImport {
    origin: Region,
    sequence: u64,
    keys: Vec<DiagnosisKey>,
    stale: usize,
    keys_expire_at: UnixTime,
    follower: FollowerState,
}

impl AcceptedImport {
    /// Applies the import rules at `now` to `batch`, verified by the follower of `origin`'s
    /// chain whose state after the batch is `follower` (stored with the keys, so that a
    /// restart resumes after this batch and never imports it twice).
    pub fn accept(
        policy: &AcceptPolicy,
        origin: Region,
        batch: VerifiedBatch,
        follower: FollowerState,
        now: UnixTime,
    ) -> Result<Self, Error> {
        if batch.header().region != policy.region || origin == policy.region {
            return Err(VerifyError::WrongRegion.into());
        }
        let oldest = UnixTime(now.0.saturating_sub(policy.retention_days * DAY_SECONDS));
        let all = batch.keys().len();
        let keys: Vec<DiagnosisKey> = batch
            .keys()
            .iter()
            .filter(|k| k.meta.end().start() >= oldest)
            .cloned()
            .collect();
        let last_end = keys
            .iter()
            .map(|k| k.meta.end().start())
            .max()
            .unwrap_or(now);
        Ok(AcceptedImport {
            origin,
            sequence: batch.header().sequence,
            stale: all - keys.len(),
            keys,
            keys_expire_at: last_end.plus((policy.retention_days + 1) * DAY_SECONDS),
            follower,
        })
    }

    /// The region the keys come from (recorded with them).
    pub fn origin(&self) -> &Region {
        &self.origin
    }
    /// The sequence of the imported batch in the peer's chain.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }
    /// The keys to import, sorted by key bytes, each once.
    pub fn keys(&self) -> &[DiagnosisKey] {
        &self.keys
    }
    /// Keys of the batch dropped because their validity ended before the retention period.
    pub fn stale(&self) -> usize {
        self.stale
    }
    /// When the keys' duplicate records may be dropped (after retention).
    pub fn keys_expire_at(&self) -> UnixTime {
        self.keys_expire_at
    }
    /// The follower's state after this batch.
    pub fn follower(&self) -> &FollowerState {
        &self.follower
    }
}

#[cfg(test)]
mod tests {
    use super::is_import_revision;
    use crate::wire::key::KeyMetadata;
    use crate::wire::ReportType;
    use crate::IntervalNumber;

    fn meta(t: ReportType) -> KeyMetadata {
        KeyMetadata {
            rolling_start: IntervalNumber(2_900_000),
            rolling_period: 144,
            transmission_risk: 2,
            report_type: t,
            days_since_onset: Some(1),
        }
    }

    #[test]
    fn only_the_revisions_a_phone_may_make_travel() {
        use ReportType::*;
        let all = [
            ConfirmedTest,
            ConfirmedClinicalDiagnosis,
            SelfReport,
            Revoked,
        ];
        for from in all {
            for to in all {
                let want = matches!(from, ConfirmedClinicalDiagnosis | SelfReport)
                    && matches!(to, ConfirmedTest | Revoked);
                assert_eq!(
                    is_import_revision(&meta(from), &meta(to)),
                    want,
                    "{from:?} -> {to:?}"
                );
            }
        }
        // Undoing a revision (an older batch imported again) is not one.
        assert!(!is_import_revision(&meta(Revoked), &meta(SelfReport)));
        // A revision may bring another transmission risk and onset (the new certificate's).
        let mut other = meta(Revoked);
        other.transmission_risk = 6;
        other.days_since_onset = None;
        assert!(is_import_revision(&meta(SelfReport), &other));
        // Not a change of the key's validity.
        let mut moved = meta(Revoked);
        moved.rolling_start = IntervalNumber(2_900_144);
        assert!(!is_import_revision(&meta(SelfReport), &moved));
    }
}
