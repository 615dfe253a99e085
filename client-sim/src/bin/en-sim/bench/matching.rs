//! Matching throughput on one core, beside the raw AES-128 block rate of the same build.

use std::time::{Duration, Instant};

use aes::cipher::{BlockEncrypt, KeyInit};
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::matching::{Scan, ScanStore};
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata};
use en_protocol::wire::ReportType;
use en_protocol::{IntervalNumber, UnixTime};
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::{median, timed, TODAY};

/// A 14-day store of `n` scans (random RPIs; a few match) and `k` daily keys.
pub fn matching_fixture(
    n_scans: usize,
    n_keys: usize,
    seed: u64,
) -> (ScanStore, Vec<DiagnosisKey>) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let today = TODAY;
    let keys: Vec<DiagnosisKey> = (0..n_keys)
        .map(|i| DiagnosisKey {
            key: TemporaryExposureKey::from_bytes(rng.gen()),
            meta: KeyMetadata {
                rolling_start: IntervalNumber((today - 1 - (i as u32 % 14)) * 144),
                rolling_period: 144,
                transmission_risk: 2,
                report_type: ReportType::ConfirmedTest,
                days_since_onset: Some(0),
            },
        })
        .collect();
    let scans = (0..n_scans)
        .map(|_| Scan {
            rpi: rng.gen(),
            aem: rng.gen(),
            time: UnixTime(u64::from(today) * 86_400 - rng.gen_range(0..14 * 86_400)),
            rssi: -70,
            seconds: 300,
        })
        .collect();
    (ScanStore::new(scans), keys)
}

/// Matching throughput on one core beside the raw AES-128 block rate of the same build.
#[derive(Debug, Clone, Serialize)]
pub struct MatchingResult {
    /// Diagnosis keys matched per second on one thread (median of the rounds).
    pub keys_per_second: f64,
    /// Same, with all cores.
    pub keys_per_second_all_cores: f64,
    /// AES-128 blocks per second on one thread (8-block pipelined, like the matcher; median).
    pub aes_blocks_per_second: f64,
    /// (keys/s × 144) / (AES blocks/s): the median of the rounds' ratios.
    pub ratio: f64,
    /// Lowest and highest round ratio.
    pub ratio_range: (f64, f64),
    /// Rounds measured (each: an AES pass, a matching pass, an AES pass).
    pub rounds: usize,
}

/// Measures matching against a 14-day store of 20,000 scans. Matching and the AES reference
/// alternate for at least `min`, in rounds of one matching pass (~0.07 s) bracketed by two AES
/// passes of ~0.015 s, so both see the same machine (frequency, neighbours); each round gives
/// a ratio, and the median is reported.
pub fn matching(min: Duration) -> MatchingResult {
    let (store, keys) = matching_fixture(20_000, 100_000, 1);
    let cipher = aes::Aes128::new(&[7u8; 16].into());
    let mut blocks = vec![aes::Block::default(); 144];
    let (mut kps, mut aes, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    let mut aes_pass = || {
        let t = Instant::now();
        for _ in 0..keys.len() / 4 {
            cipher.encrypt_blocks(&mut blocks);
        }
        std::hint::black_box(&blocks);
        (keys.len() / 4 * 144) as f64 / t.elapsed().as_secs_f64()
    };
    while start.elapsed() < min || kps.len() < 5 {
        // The reference brackets the matching pass: AES, match, AES.
        let before = aes_pass();
        let t = Instant::now();
        std::hint::black_box(store.match_keys(&keys));
        let k = keys.len() as f64 / t.elapsed().as_secs_f64();
        let a = (before + aes_pass()) / 2.0;
        kps.push(k);
        aes.push(a);
        ratio.push(k * 144.0 / a);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (n, t) = timed(min / 2, || {
        std::hint::black_box(store.match_keys_parallel(&keys, threads));
        keys.len() as u64
    });
    let rounds = ratio.len();
    let range = (
        ratio.iter().copied().fold(f64::INFINITY, f64::min),
        ratio.iter().copied().fold(0.0, f64::max),
    );
    MatchingResult {
        keys_per_second: median(&mut kps),
        keys_per_second_all_cores: n as f64 / t.as_secs_f64(),
        aes_blocks_per_second: median(&mut aes),
        ratio: median(&mut ratio),
        ratio_range: range,
        rounds,
    }
}
