//! What a server accepts as a revision: keys uploaded earlier as `clinical` or `self-report`,
//! presented again with a new certificate (type `confirmed` or `revoked`, its tekmac over
//! the same keys) and the revision token the server gave at upload
//! (spec/wire-format.md §11). An [`AcceptedRevision`] is the only value a store's revision
//! takes.
//!
//! Rules, in order: the certificate's authority may report for the server's region and its
//! lifetime is within the cap (as for an upload); the new type is `confirmed` or `revoked`
//! (`revision_type_not_allowed`); the token's MAC verifies over exactly these keys
//! (`revision_token_mismatch`: another key set, a forged or altered token) and it has not
//! expired (`revision_token_expired`). Both the certificate id and the token's nonce are
//! single-use ([`ReplayToken::Certificate`], [`ReplayToken::Revision`]).

use crate::accept::{AcceptPolicy, ReplayToken};
use crate::error::{Error, ValidationError};
use crate::time::UnixTime;
use crate::validate::to_diagnosis_keys;
use crate::wire::certificate::CertifiedUpload;
use crate::wire::key::DiagnosisKey;
use crate::wire::revision::{is_revision_target, RevisionSecret, RevisionToken};
use crate::wire::{AuthorityId, ReportType};

/// A revision that passed every rule.
#[derive(Debug, Clone)]
pub struct AcceptedRevision {
    authority: AuthorityId,
    from: ReportType,
    keys: Vec<DiagnosisKey>,
    tokens: [(ReplayToken, UnixTime); 2],
    accepted_at: UnixTime,
}

impl AcceptedRevision {
    /// The authority that signed the new certificate.
    pub fn authority(&self) -> &AuthorityId {
        &self.authority
    }
    /// The report type the keys were uploaded with.
    pub fn from(&self) -> ReportType {
        self.from
    }
    /// The new report type (`confirmed` or `revoked`).
    pub fn to(&self) -> ReportType {
        self.keys
            .first()
            .map_or(ReportType::Revoked, |k| k.meta.report_type)
    }
    /// The keys with their new metadata.
    pub fn keys(&self) -> &[DiagnosisKey] {
        &self.keys
    }
    /// The single-use tokens it spends (the certificate id, the revision token's nonce),
    /// each with the time after which its replay record may go.
    pub fn tokens(&self) -> &[(ReplayToken, UnixTime); 2] {
        &self.tokens
    }
    /// When it was accepted.
    pub fn accepted_at(&self) -> UnixTime {
        self.accepted_at
    }
}

impl CertifiedUpload {
    /// Applies the revision rules at `now` (module docs) with the server's `secret`.
    pub fn accept_revision(
        self,
        policy: &AcceptPolicy,
        secret: &RevisionSecret,
        token: &RevisionToken,
        now: UnixTime,
    ) -> Result<AcceptedRevision, Error> {
        self.check_certificate(policy)?;
        let c = self.certificate();
        if !is_revision_target(c.report_type) {
            return Err(ValidationError::RevisionTypeNotAllowed.into());
        }
        let from = secret.verify(token, self.keys(), now)?;
        Ok(AcceptedRevision {
            authority: c.authority.clone(),
            from,
            keys: to_diagnosis_keys(self.keys(), c.report_type, c.symptom_onset),
            tokens: [
                (
                    ReplayToken::Certificate { id: c.id },
                    c.expires_at.plus(policy.clock_skew_seconds + 1),
                ),
                (
                    ReplayToken::Revision { nonce: token.nonce },
                    token.expires_at.plus(policy.clock_skew_seconds + 1),
                ),
            ],
            accepted_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand_chacha::rand_core::SeedableRng;

    use super::*;
    use crate::keys::{SigningKey, TemporaryExposureKey};
    use crate::verify::AuthorityInfo;
    use crate::wire::certificate::{Certificate, SignedCertificate};
    use crate::wire::key::UploadKey;
    use crate::wire::{Audience, Region};
    use crate::IntervalNumber;

    const NOW: u64 = 1_700_000_000;

    fn keys() -> Vec<UploadKey> {
        let day = (NOW / 86_400) as u32 * 144;
        (1..=3u8)
            .map(|i| UploadKey {
                key: TemporaryExposureKey::from_bytes([i; 16]),
                rolling_start: IntervalNumber(day - 144 * u32::from(i)),
                rolling_period: 144,
                transmission_risk: 0,
            })
            .collect()
    }

    fn certified(rt: ReportType, keys: Vec<UploadKey>) -> (CertifiedUpload, AcceptPolicy) {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let sk = SigningKey::generate(&mut rng);
        let authority = AuthorityId::new("moh.vn").unwrap();
        let audience = Audience::new("en-server:VN").unwrap();
        let hmac_key = [9u8; 32];
        let cert = Certificate {
            authority: authority.clone(),
            report_type: rt,
            symptom_onset: None,
            issued_at: UnixTime(NOW - 60),
            expires_at: UnixTime(NOW + 3600),
            audience: audience.clone(),
            id: [4; 16],
            tekmac: crate::tekmac::tekmac(&hmac_key, &keys, true),
        }
        .sign(&sk)
        .unwrap();
        let registry = BTreeMap::from([(
            authority,
            AuthorityInfo {
                public_key: sk.public_key(),
                region: Some(Region::new("VN").unwrap()),
                revoked: false,
            },
        )]);
        let up = SignedCertificate::decode(&cert)
            .unwrap()
            .verify(&registry, &audience, UnixTime(NOW), 300)
            .unwrap()
            .bind(keys, &hmac_key)
            .unwrap();
        (up, AcceptPolicy::new(Region::new("VN").unwrap(), audience))
    }

    #[test]
    fn a_revision_needs_a_valid_token_for_the_same_keys_and_an_allowed_type() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
        let secret = RevisionSecret::from_bytes([1; 32]);
        let now = UnixTime(NOW);
        let token = secret
            .issue(ReportType::SelfReport, &keys(), now, 86_400, &mut rng)
            .unwrap();

        let (up, policy) = certified(ReportType::Revoked, keys());
        let r = up.accept_revision(&policy, &secret, &token, now).unwrap();
        assert_eq!(
            (r.from(), r.to()),
            (ReportType::SelfReport, ReportType::Revoked)
        );
        assert_eq!(r.keys().len(), 3);
        assert!(r
            .keys()
            .iter()
            .all(|k| k.meta.report_type == ReportType::Revoked));
        assert_eq!(
            r.tokens()[1].0,
            ReplayToken::Revision { nonce: token.nonce }
        );
        assert_eq!(
            format!("{:?}", r.tokens()[1].0),
            "ReplayToken::Revision(<nonce>)"
        );

        let code = |rt: ReportType, k: Vec<UploadKey>, t: &RevisionToken, at: u64| {
            let (up, policy) = certified(rt, k);
            up.accept_revision(&policy, &secret, t, UnixTime(at))
                .unwrap_err()
                .code()
        };
        assert_eq!(
            code(ReportType::SelfReport, keys(), &token, NOW),
            "revision_type_not_allowed"
        );
        assert_eq!(
            code(ReportType::ConfirmedClinicalDiagnosis, keys(), &token, NOW),
            "revision_type_not_allowed"
        );
        assert_eq!(
            code(ReportType::ConfirmedTest, keys()[..2].to_vec(), &token, NOW),
            "revision_token_mismatch"
        );
        assert_eq!(
            code(ReportType::ConfirmedTest, keys(), &token, NOW + 86_400),
            "revision_token_expired"
        );
        let other = RevisionSecret::from_bytes([2; 32]);
        let forged = other
            .issue(ReportType::SelfReport, &keys(), now, 86_400, &mut rng)
            .unwrap();
        assert_eq!(
            code(ReportType::ConfirmedTest, keys(), &forged, NOW),
            "revision_token_mismatch"
        );
    }
}
