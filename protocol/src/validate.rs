//! The protocol's rules for uploaded keys (GAEN's server rules are the baseline), and the
//! conversion of authenticated uploads into publishable diagnosis keys.

use rand_core::CryptoRngCore;

use crate::error::ValidationError;
use crate::keys::TemporaryExposureKey;
use crate::time::{IntervalNumber, UnixTime, DAY_SECONDS, TEK_ROLLING_PERIOD};
use crate::wire::key::{DiagnosisKey, KeyMetadata, UploadKey, MAX_DAYS_SINCE_ONSET};
use crate::wire::ReportType;

/// Limits applied to every upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadPolicy {
    /// Most keys per upload (GAEN: 30).
    pub max_keys: usize,
    /// Oldest accepted key, in days from its end to now (default 14).
    pub max_key_age_days: u64,
    /// Most keys that may share a start interval (GAEN: 3, for same-day key release).
    pub max_same_start: usize,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        UploadPolicy {
            max_keys: 30,
            max_key_age_days: 14,
            max_same_start: 3,
        }
    }
}

/// Checks count, future and age limits, duplicates and overlaps. Rejects the whole upload
/// on the first broken rule (no partial success: a client can always tell what happened).
pub fn validate_keys(
    keys: &[UploadKey],
    now: UnixTime,
    policy: &UploadPolicy,
) -> Result<(), ValidationError> {
    if keys.is_empty() {
        return Err(ValidationError::NoKeys);
    }
    if keys.len() > policy.max_keys {
        return Err(ValidationError::TooManyKeys {
            count: keys.len(),
            max: policy.max_keys,
        });
    }
    let current = now.interval();
    let oldest = now.minus(policy.max_key_age_days * DAY_SECONDS).interval();
    for k in keys {
        if k.rolling_start > current {
            return Err(ValidationError::KeyInFuture);
        }
        if k.end() < oldest {
            return Err(ValidationError::KeyTooOld);
        }
    }
    let mut sorted: Vec<&UploadKey> = keys.iter().collect();
    sorted.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    if sorted.windows(2).any(|w| w[0].key == w[1].key) {
        return Err(ValidationError::DuplicateKey);
    }
    sorted.sort_by_key(|k| (k.rolling_start, k.rolling_period));
    let mut same_start = 1;
    for w in sorted.windows(2) {
        if w[0].rolling_start == w[1].rolling_start {
            same_start += 1;
            if same_start > policy.max_same_start {
                return Err(ValidationError::OverlappingKeys);
            }
        } else {
            same_start = 1;
            if w[0].end() > w[1].rolling_start {
                return Err(ValidationError::OverlappingKeys);
            }
        }
    }
    Ok(())
}

/// Days from the symptom-onset day to the key's day, if known and within ±14.
pub fn days_since_onset(key_start: IntervalNumber, onset: Option<IntervalNumber>) -> Option<i8> {
    let d = i64::from(key_start.day()) - i64::from(onset?.day());
    i8::try_from(d)
        .ok()
        .filter(|d| d.abs() <= MAX_DAYS_SINCE_ONSET)
}

/// Turns authenticated upload keys into diagnosis keys: report type and onset come from the
/// authority's signature; a transmission risk of 0 is backfilled from the report type.
pub fn to_diagnosis_keys(
    keys: &[UploadKey],
    report_type: ReportType,
    onset: Option<IntervalNumber>,
) -> Vec<DiagnosisKey> {
    keys.iter()
        .map(|k| DiagnosisKey {
            key: k.key.clone(),
            meta: KeyMetadata {
                rolling_start: k.rolling_start,
                rolling_period: k.rolling_period,
                transmission_risk: if k.transmission_risk == 0 {
                    report_type.default_transmission_risk()
                } else {
                    k.transmission_risk
                },
                report_type,
                days_since_onset: days_since_onset(k.rolling_start, onset),
            },
        })
        .collect()
}

/// The time after which a key may be published: GAEN's embargo keeps a key that is still
/// valid at upload out of batches until 2 hours after it expires.
pub fn release_time(meta: &KeyMetadata, now: UnixTime) -> UnixTime {
    let embargo = meta.end().start().plus(2 * 3600);
    if embargo > now {
        embargo
    } else {
        now
    }
}

/// Random keys that pad a batch of `real` keys to `min`, for a window ending on UTC day
/// `day` (days since the epoch).
///
/// Their metadata is drawn from one fixed distribution that does not depend on the window's
/// real keys (spec/protocol.md §4.2): a day-long key (period 144) starting on one of the 14
/// days before `day`, uniformly; report type "confirmed test" with its default transmission
/// risk; days since symptom onset uniform in -10..=3 (a case who uploads 14 days of keys three
/// days after onset). So a batch's padding says nothing about whether, or which, real keys
/// were published in the window.
pub fn padding(
    real: usize,
    min: usize,
    day: u32,
    rng: &mut impl CryptoRngCore,
) -> Vec<DiagnosisKey> {
    let uniform = |rng: &mut dyn rand_core::RngCore, n: u32| -> u32 {
        // Rejection sampling: exactly uniform on 0..n.
        let zone = u32::MAX - u32::MAX % n;
        loop {
            let v = rng.next_u32();
            if v < zone {
                return v % n;
            }
        }
    };
    (real..min)
        .map(|_| {
            let key = TemporaryExposureKey::generate(rng);
            let days_back = 1 + uniform(rng, 14);
            let dsos = uniform(rng, 14) as i8 - 10;
            DiagnosisKey {
                key,
                meta: KeyMetadata {
                    rolling_start: IntervalNumber(
                        day.saturating_sub(days_back) * TEK_ROLLING_PERIOD,
                    ),
                    rolling_period: TEK_ROLLING_PERIOD as u8,
                    transmission_risk: ReportType::ConfirmedTest.default_transmission_risk(),
                    report_type: ReportType::ConfirmedTest,
                    days_since_onset: Some(dsos),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(b: u8, start: u32, period: u8) -> UploadKey {
        UploadKey {
            key: TemporaryExposureKey::from_bytes([b; 16]),
            rolling_start: IntervalNumber(start),
            rolling_period: period,
            transmission_risk: 0,
        }
    }

    #[test]
    fn rules() {
        let now = UnixTime(144 * 600 * 20_000 + 3600);
        let today = now.interval().day_start().0;
        let p = UploadPolicy::default();
        assert_eq!(validate_keys(&[], now, &p), Err(ValidationError::NoKeys));
        assert_eq!(validate_keys(&[k(1, today, 144)], now, &p), Ok(()));
        assert_eq!(
            validate_keys(&[k(1, today + 144, 144)], now, &p),
            Err(ValidationError::KeyInFuture)
        );
        assert_eq!(
            validate_keys(&[k(1, today - 144 * 16, 144)], now, &p),
            Err(ValidationError::KeyTooOld)
        );
        // Ends exactly 14 days ago (in intervals): still accepted.
        let edge = now.minus(14 * DAY_SECONDS).interval().0 - 144;
        assert_eq!(validate_keys(&[k(1, edge, 144)], now, &p), Ok(()));
        assert_eq!(
            validate_keys(&[k(1, edge - 1, 144)], now, &p),
            Err(ValidationError::KeyTooOld)
        );
        assert_eq!(
            validate_keys(&[k(1, today, 144), k(1, today - 144, 144)], now, &p),
            Err(ValidationError::DuplicateKey)
        );
        assert_eq!(
            validate_keys(&[k(1, today, 144), k(2, today - 100, 144)], now, &p),
            Err(ValidationError::OverlappingKeys)
        );
        assert_eq!(
            validate_keys(
                &[k(1, today, 144), k(2, today, 10), k(3, today, 20)],
                now,
                &p
            ),
            Ok(())
        );
        assert_eq!(
            validate_keys(
                &[
                    k(1, today, 144),
                    k(2, today, 10),
                    k(3, today, 20),
                    k(4, today, 30)
                ],
                now,
                &p
            ),
            Err(ValidationError::OverlappingKeys)
        );
        let many: Vec<_> = (0..31)
            .map(|i| k(i, today - 144 * u32::from(i % 14), 144))
            .collect();
        assert_eq!(
            validate_keys(&many, now, &p),
            Err(ValidationError::TooManyKeys { count: 31, max: 30 })
        );
    }

    #[test]
    fn onset_and_backfill() {
        let onset = Some(IntervalNumber(144 * 100 + 7));
        assert_eq!(days_since_onset(IntervalNumber(144 * 102), onset), Some(2));
        assert_eq!(days_since_onset(IntervalNumber(144 * 97), onset), Some(-3));
        assert_eq!(days_since_onset(IntervalNumber(144 * 115), onset), None);
        assert_eq!(days_since_onset(IntervalNumber(144 * 114), onset), Some(14));
        let d = to_diagnosis_keys(&[k(1, 144 * 102, 144)], ReportType::SelfReport, onset);
        assert_eq!(d[0].meta.transmission_risk, 5);
        assert_eq!(d[0].meta.days_since_onset, Some(2));
    }

    #[test]
    fn embargo() {
        let meta =
            to_diagnosis_keys(&[k(1, 144 * 100, 144)], ReportType::ConfirmedTest, None)[0].meta;
        let end = UnixTime(144 * 101 * 600);
        assert_eq!(release_time(&meta, end.minus(10)), end.plus(7200));
        assert_eq!(release_time(&meta, end.plus(9000)), end.plus(9000));
    }

    #[test]
    fn padding_ignores_real_keys_and_follows_its_distribution() {
        use rand_chacha::rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let day = 20_000;
        let pad = padding(100, 20_100, day, &mut rng);
        assert_eq!(pad.len(), 20_000);
        assert!(padding(200, 100, day, &mut rng).is_empty());
        let mut starts = std::collections::BTreeMap::new();
        for k in &pad {
            let m = k.meta;
            assert_eq!(
                (m.rolling_period, m.report_type),
                (144, ReportType::ConfirmedTest)
            );
            assert!((-10..=3).contains(&m.days_since_onset.unwrap()));
            *starts.entry(m.rolling_start.day()).or_insert(0u32) += 1;
        }
        assert_eq!(starts.len(), 14);
        assert_eq!(*starts.keys().next().unwrap(), day - 14);
        assert_eq!(*starts.keys().last().unwrap(), day - 1);
        // Roughly uniform: each day within ±15% of 20,000 / 14.
        for n in starts.values() {
            assert!((1214..=1643).contains(n), "{starts:?}");
        }
    }
}
