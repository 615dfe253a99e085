//! `en-sim bench`: the hot paths measured beside a reference measured in the same run on the
//! same machine (these machines are noisy: ratios hold better than absolute times).

use std::time::{Duration, Instant};

use aes::cipher::{BlockEncrypt, KeyInit};
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::matching::{Scan, ScanStore};
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata};
use en_protocol::wire::ReportType;
use en_protocol::{IntervalNumber, UnixTime};
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Runs `f` repeatedly for at least `min` and returns (iterations, elapsed).
fn timed(min: Duration, mut f: impl FnMut() -> u64) -> (u64, Duration) {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < min {
        n += f();
    }
    (n, start.elapsed())
}

/// A 14-day store of `n` scans (random RPIs; a few match) and `k` daily keys.
pub fn matching_fixture(
    n_scans: usize,
    n_keys: usize,
    seed: u64,
) -> (ScanStore, Vec<DiagnosisKey>) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let today = 20_400u32;
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
    /// Diagnosis keys matched per second on one thread.
    pub keys_per_second: f64,
    /// Same, with all cores.
    pub keys_per_second_all_cores: f64,
    /// AES-128 blocks per second on one thread (8-block pipelined, like the matcher).
    pub aes_blocks_per_second: f64,
    /// (keys/s × 144) / (AES blocks/s).
    pub ratio: f64,
}

/// Measures matching against a 14-day store of 20,000 scans.
pub fn matching(min: Duration) -> MatchingResult {
    let (store, keys) = matching_fixture(20_000, 100_000, 1);
    let (n, t) = timed(min, || {
        std::hint::black_box(store.match_keys(&keys));
        keys.len() as u64
    });
    let kps = n as f64 / t.as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (n, t) = timed(min, || {
        std::hint::black_box(store.match_keys_parallel(&keys, threads));
        keys.len() as u64
    });
    let kps_all = n as f64 / t.as_secs_f64();
    let cipher = aes::Aes128::new(&[7u8; 16].into());
    let mut blocks = vec![aes::Block::default(); 144];
    let (n, t) = timed(min, || {
        for _ in 0..1000 {
            cipher.encrypt_blocks(&mut blocks);
        }
        std::hint::black_box(&blocks);
        144 * 1000
    });
    let aes_rate = n as f64 / t.as_secs_f64();
    MatchingResult {
        keys_per_second: kps,
        keys_per_second_all_cores: kps_all,
        aes_blocks_per_second: aes_rate,
        ratio: kps * 144.0 / aes_rate,
    }
}
