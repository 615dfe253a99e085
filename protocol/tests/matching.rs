//! Matcher and scoring: interval and day boundaries, the edges of the ±2 h skew tolerance,
//! AEM decoding, hand-computed scores, and agreement of the two joins (and of a store built
//! by incremental inserts).

use en_protocol::derive::{KeySchedule, Metadata};
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::matching::{DerivedKeys, Scan, ScanStore, SKEW_TOLERANCE_SECONDS};
use en_protocol::risk::{assess, exposure_windows};
use en_protocol::wire::config::RiskConfig;
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata};
use en_protocol::wire::ReportType;
use en_protocol::{IntervalNumber, UnixTime};
use rand::{Rng, SeedableRng};

const DAY: u32 = 20_000; // UTC day number used by the tests

fn tek(b: u8) -> TemporaryExposureKey {
    TemporaryExposureKey::from_bytes([b; 16])
}

fn dkey(b: u8, day: u32, period: u8, rt: ReportType, dsos: Option<i8>) -> DiagnosisKey {
    DiagnosisKey {
        key: tek(b),
        meta: KeyMetadata {
            rolling_start: IntervalNumber(day * 144),
            rolling_period: period,
            transmission_risk: 2,
            report_type: rt,
            days_since_onset: dsos,
        },
    }
}

/// What a receiver records at its time `t` from a sender whose clock is `skew` seconds ahead.
fn heard(sender: u8, t: u64, skew: i64, tx: i8, rssi: i8, seconds: u16) -> Scan {
    let sender_time = UnixTime(t.saturating_add_signed(skew));
    let ks = KeySchedule::new(&tek(sender));
    let rpi = ks.rpi(sender_time.interval());
    let aem: [u8; 4] = ks
        .aem(
            &rpi,
            &Metadata {
                version: 0x40,
                tx_power: tx,
            }
            .to_bytes(),
        )
        .try_into()
        .unwrap();
    Scan {
        rpi,
        aem,
        time: UnixTime(t),
        rssi,
        seconds,
    }
}

fn day_start(day: u32) -> u64 {
    u64::from(day) * 86_400
}

#[test]
fn interval_boundaries() {
    let t0 = day_start(DAY) + 600 * 10; // start of interval 10 of the day
    let scans = vec![
        heard(1, t0 - 1, 0, 0, -60, 300),
        heard(1, t0, 0, 0, -60, 300),
        heard(1, t0 + 599, 0, 0, -60, 300),
    ];
    let store = ScanStore::new(scans);
    let keys = [dkey(1, DAY, 144, ReportType::ConfirmedTest, None)];
    let mut hits = store.match_keys(&keys);
    hits.sort();
    let intervals: Vec<u32> = hits.iter().map(|h| h.interval.0 - DAY * 144).collect();
    assert_eq!(hits.len(), 3);
    assert_eq!(
        intervals
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        [9, 10].into_iter().collect()
    );
}

#[test]
fn day_boundaries_and_partial_periods() {
    // Last second of the day: key of DAY. First second of the next day: key of DAY+1 only.
    let last = heard(1, day_start(DAY + 1) - 1, 0, 0, -60, 300);
    let store = ScanStore::new(vec![last]);
    assert_eq!(
        store
            .match_keys(&[dkey(1, DAY, 144, ReportType::ConfirmedTest, None)])
            .len(),
        1
    );
    // A key valid for only the first 72 intervals does not cover the evening.
    assert_eq!(
        store
            .match_keys(&[dkey(1, DAY, 72, ReportType::ConfirmedTest, None)])
            .len(),
        0
    );
    // A sender whose clock is 1 h behind still broadcasts yesterday's key after midnight.
    let late = heard(1, day_start(DAY + 1) + 1800, -3600, 0, -60, 300);
    let store = ScanStore::new(vec![late]);
    assert_eq!(
        store
            .match_keys(&[dkey(1, DAY, 144, ReportType::ConfirmedTest, None)])
            .len(),
        1
    );
}

#[test]
fn skew_tolerance_edges_across_midnight() {
    // A day-aligned key is probed against its day's scans widened by the tolerance: scans of
    // the evening before and the morning after must still match its first and last RPIs.
    let key = [dkey(1, DAY, 144, ReportType::ConfirmedTest, None)];
    let tol = SKEW_TOLERANCE_SECONDS;
    let hits = |t: u64, skew: i64| {
        ScanStore::new(vec![heard(1, t, skew, 0, -60, 300)])
            .match_keys(&key)
            .len()
    };
    // Interval 0 heard 2 h early (sender ahead by 2 h), on the receiver's previous day.
    assert_eq!(hits(day_start(DAY) - tol, tol as i64), 1);
    assert_eq!(hits(day_start(DAY) - tol - 1, tol as i64 + 1), 0);
    // Interval 143 heard up to 2 h late (sender behind by 2 h), on the receiver's next day.
    assert_eq!(hits(day_start(DAY + 1) + tol - 1, -(tol as i64)), 1);
    assert_eq!(hits(day_start(DAY + 1) + tol, -(tol as i64) - 1), 0);
}

#[test]
fn skew_tolerance_edges() {
    let t = day_start(DAY) + 43_200;
    let tol = SKEW_TOLERANCE_SECONDS as i64;
    let key = [dkey(1, DAY, 144, ReportType::ConfirmedTest, None)];
    // The sender's RPI for interval I is accepted from start(I) − 2 h to end(I) + 2 h receiver time.
    // Sender ahead by exactly 2 h: its interval starts at most 2 h after our clock → accepted.
    let at = |skew: i64| {
        ScanStore::new(vec![heard(1, t, skew, 0, -60, 300)])
            .match_keys(&key)
            .len()
    };
    assert_eq!(at(tol), 1);
    assert_eq!(at(-tol), 1);
    // The interval is 600 s long: a sender ahead by 2 h + 600 s has moved one interval on.
    assert_eq!(at(tol + 600), 0);
    assert_eq!(at(-tol - 600), 0);
    // Exact edges via the tolerance predicate.
    let i = IntervalNumber(DAY * 144 + 72);
    assert!(en_protocol::matching::within_tolerance(
        i,
        UnixTime(i.start().0 - SKEW_TOLERANCE_SECONDS)
    ));
    assert!(!en_protocol::matching::within_tolerance(
        i,
        UnixTime(i.start().0 - SKEW_TOLERANCE_SECONDS - 1)
    ));
    assert!(en_protocol::matching::within_tolerance(
        i,
        UnixTime(i.start().0 + 600 + SKEW_TOLERANCE_SECONDS - 1)
    ));
    assert!(!en_protocol::matching::within_tolerance(
        i,
        UnixTime(i.start().0 + 600 + SKEW_TOLERANCE_SECONDS)
    ));
}

#[test]
fn aem_gives_transmit_power_and_attenuation() {
    let t = day_start(DAY) + 3600;
    let store = ScanStore::new(vec![
        heard(1, t, 0, 8, -62, 300),
        heard(1, t + 300, 0, 8, -90, 300),
    ]);
    let keys = [dkey(1, DAY, 144, ReportType::ConfirmedTest, None)];
    let w = exposure_windows(&store.match_keys(&keys), &keys, store.scans());
    assert_eq!(w.len(), 1);
    let atts: Vec<u8> = w[0].scans.iter().map(|s| s.attenuation_db).collect();
    assert_eq!(atts, vec![70, 98]); // 8 − (−62), 8 − (−90)
}

#[test]
fn scores_match_hand_computation() {
    // Default config: thresholds 55/63/73, weights 1.5/1.0/0.5/0; confirmed 1.0, self-report 0.5;
    // DSOS 0 → high (2.0); missing → standard (1.0); threshold 900.
    let c = RiskConfig::default();
    let t = day_start(DAY) + 7200;
    // Key 1 (confirmed, DSOS 0): scans at attenuation 50 (immediate), 60 (near), 70 (medium), 80 (other).
    let mut scans = vec![
        heard(1, t, 0, 0, -50, 300),
        heard(1, t + 300, 0, 0, -60, 300),
        heard(1, t + 600, 0, 0, -70, 300),
        heard(1, t + 900, 0, 0, -80, 300),
        // 40 minutes later: a second window.
        heard(1, t + 3300, 0, 0, -60, 120),
    ];
    // Key 2 (self-report, DSOS missing): 600 s at near.
    scans.push(heard(2, t, 0, 0, -60, 600));
    // Key 3 (confirmed, DSOS +12 → infectiousness none): dropped.
    scans.push(heard(3, t, 0, 0, -50, 600));
    let store = ScanStore::new(scans);
    let keys = [
        dkey(1, DAY, 144, ReportType::ConfirmedTest, Some(0)),
        dkey(2, DAY, 144, ReportType::SelfReport, None),
        dkey(3, DAY, 144, ReportType::ConfirmedTest, Some(12)),
    ];
    let windows = exposure_windows(&store.match_keys(&keys), &keys, store.scans());
    assert_eq!(windows.len(), 4);
    let a = assess(windows, &c);
    assert_eq!(a.windows.len(), 3);
    // Window 1: 300·1.5 + 300·1.0 + 300·0.5 + 300·0 = 900 weighted s; × 1.0 × 2.0 = 1800.
    // Window 2: 120·1.0 = 120; × 2.0 = 240.  Window 3: 600·1.0 = 600; × 0.5 × 1.0 = 300.
    let mut scores: Vec<f64> = a.windows.iter().map(|w| w.score).collect();
    scores.sort_by(f64::total_cmp);
    assert_eq!(scores, vec![240.0, 300.0, 1800.0]);
    assert_eq!(a.days.len(), 1);
    assert_eq!(a.days[0].score_sum, 2340.0);
    assert_eq!(a.days[0].max_score, 1800.0);
    assert_eq!(a.days[0].weighted_seconds_sum, 900.0 + 120.0 + 600.0);
    assert_eq!(a.notify_days, vec![u64::from(DAY)]);
    // Below the threshold: a single 5-minute medium-range sighting does not notify.
    let store = ScanStore::new(vec![heard(1, t, 0, 0, -70, 300)]);
    let a = assess(
        exposure_windows(&store.match_keys(&keys[..1]), &keys[..1], store.scans()),
        &c,
    );
    assert_eq!(a.days[0].score_sum, 300.0);
    assert!(a.notify_days.is_empty());
    // Revoked keys never score.
    let revoked = [dkey(1, DAY, 144, ReportType::Revoked, Some(0))];
    let store = ScanStore::new(vec![heard(1, t, 0, 0, -50, 300)]);
    assert!(assess(
        exposure_windows(&store.match_keys(&revoked), &revoked, store.scans()),
        &c
    )
    .windows
    .is_empty());
}

#[test]
fn both_joins_and_threads_agree() {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    // Mostly day-aligned keys of 14 days; every fifth starts mid-day with a shorter period.
    let keys: Vec<DiagnosisKey> = (0..5000u32)
        .map(|i| DiagnosisKey {
            key: TemporaryExposureKey::from_bytes(rng.gen()),
            meta: KeyMetadata {
                rolling_start: IntervalNumber(
                    (DAY - i % 14) * 144 + [0, 37][(i % 5 == 0) as usize],
                ),
                rolling_period: [144, 100][(i % 5 == 0) as usize],
                transmission_risk: 2,
                report_type: ReportType::ConfirmedTest,
                days_since_onset: None,
            },
        })
        .collect();
    // 20,000 scans: 300 from published keys (heard anywhere within the skew tolerance), the
    // rest random.
    let mut scans = Vec::new();
    for i in 0..300usize {
        let k = &keys[i * 7];
        let ks = KeySchedule::new(&k.key);
        let j = rng.gen_range(0..u32::from(k.meta.rolling_period));
        let iv = IntervalNumber(k.meta.rolling_start.0 + j);
        let rpi = ks.rpi(iv);
        let tol = SKEW_TOLERANCE_SECONDS;
        scans.push(Scan {
            rpi,
            aem: [0; 4],
            time: iv.start().minus(tol).plus(rng.gen_range(0..600 + 2 * tol)),
            rssi: -60,
            seconds: 300,
        });
    }
    while scans.len() < 20_000 {
        scans.push(Scan {
            rpi: rng.gen(),
            aem: [0; 4],
            time: UnixTime(day_start(DAY) - rng.gen_range(0..86_400 * 13)),
            rssi: -70,
            seconds: 300,
        });
    }
    // The same scans, inserted one at a time and a chunk at a time in between matches.
    let mut incremental = ScanStore::default();
    for (i, chunk) in scans.chunks(4_999).enumerate() {
        if i % 2 == 0 {
            chunk.iter().for_each(|s| incremental.insert(*s));
        } else {
            incremental.extend(chunk.iter().copied());
        }
        let _ = incremental.match_keys(&keys[..100]);
    }
    let store = ScanStore::new(scans);
    let mut a = store.match_keys(&keys);
    a.sort();
    let b = DerivedKeys::new(&keys).match_scans(&store);
    let mut c = store.match_keys_parallel(&keys, 2);
    c.sort();
    assert_eq!(a.len(), 300);
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(incremental.match_keys(&keys), a);
}

#[test]
fn fast_rpik_matches_the_reference_hkdf() {
    let d = en_protocol::matching::RpikDeriver::default();
    for b in 0..=255u8 {
        let t = tek(b);
        let fast = d.rpi_cipher(&t);
        let reference = KeySchedule::new(&t);
        let rpis = en_protocol::derive::rpis_with(&fast, IntervalNumber(123), 3);
        assert_eq!(rpis[2], reference.rpi(IntervalNumber(125)));
    }
}
