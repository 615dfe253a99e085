//! A server in a test: an export key that signs a hash chain of key batches, their index
//! and risk configurations, from a fixed seed. Shared by the follower and phone tests.
#![allow(dead_code)]

use en_protocol::derive::Metadata;
use en_protocol::keys::{SigningKey, TemporaryExposureKey};
use en_protocol::matching::Scan;
use en_protocol::phone::Phone;
use en_protocol::time::UnixTime;
use en_protocol::verify::ExportKeys;
use en_protocol::wire::batch::{Batch, BatchHeader, SignedBatch, GENESIS_HASH};
use en_protocol::wire::config::RiskConfig;
use en_protocol::wire::index::{Index, IndexEntry};
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata};
use en_protocol::wire::{Region, ReportType};
use en_protocol::IntervalNumber;
use rand_chacha::rand_core::{CryptoRngCore, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// Start of the first batch window (a UTC midnight).
pub const T0: u64 = 19_675 * 86_400;
/// Batch windows are an hour long.
pub const WINDOW: u64 = 3600;

pub fn region() -> Region {
    Region::new("VN").unwrap()
}

/// The chain a server publishes: batch i (1-based) covers [T0 + (i-1)h, T0 + ih).
pub struct Chain {
    pub rng: ChaCha20Rng,
    pub key: SigningKey,
    pub region: Region,
    /// (header, bytes), by sequence.
    pub batches: Vec<(BatchHeader, Vec<u8>)>,
}

impl Chain {
    pub fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let key = SigningKey::generate(&mut rng);
        Chain {
            rng,
            key,
            region: region(),
            batches: Vec::new(),
        }
    }

    pub fn trusted(&self) -> ExportKeys {
        self.key.public_key().into()
    }

    /// Random keys of `day`'s UTC day.
    pub fn random_keys(&mut self, n: usize, day: u64) -> Vec<DiagnosisKey> {
        (0..n)
            .map(|_| {
                let mut b = [0u8; 16];
                self.rng.fill_bytes(&mut b);
                DiagnosisKey {
                    key: TemporaryExposureKey::from_bytes(b),
                    meta: meta(day, ReportType::ConfirmedTest),
                }
            })
            .collect()
    }

    /// Signs the next batch with `keys`, continuing the chain (or starting it at `first`).
    pub fn publish_with(&mut self, keys: Vec<DiagnosisKey>, first: u64) -> &(BatchHeader, Vec<u8>) {
        let (sequence, prev_hash, window_start) = match self.batches.last() {
            Some((h, _)) => (h.sequence + 1, h.hash, h.window_end),
            None => (first, GENESIS_HASH, UnixTime(T0)),
        };
        let bytes = Batch {
            region: self.region.clone(),
            sequence,
            window_start,
            window_end: window_start.plus(WINDOW),
            prev_hash,
            keys,
        }
        .sign(&self.key)
        .unwrap();
        let header = SignedBatch::decode(&bytes).unwrap().header().clone();
        self.batches.push((header, bytes));
        self.batches.last().unwrap()
    }

    /// Publishes `n` batches of 3 random keys each.
    pub fn publish(&mut self, n: usize) {
        for _ in 0..n {
            let keys = self.random_keys(3, T0 / 86_400);
            self.publish_with(keys, 1);
        }
    }

    /// The batch with sequence `seq`.
    pub fn batch(&self, seq: u64) -> &[u8] {
        &self.find(seq).1
    }

    pub fn header(&self, seq: u64) -> &BatchHeader {
        &self.find(seq).0
    }

    fn find(&self, seq: u64) -> &(BatchHeader, Vec<u8>) {
        self.batches
            .iter()
            .find(|(h, _)| h.sequence == seq)
            .unwrap()
    }

    /// An index listing the batches whose sequence is in `seqs`, signed at `at`.
    pub fn index(&self, seqs: impl IntoIterator<Item = u64>, at: u64) -> Vec<u8> {
        let entries = seqs.into_iter().map(|s| entry(self.header(s))).collect();
        Index {
            region: self.region.clone(),
            generated_at: UnixTime(at),
            entries,
        }
        .sign(&self.key)
        .unwrap()
    }

    /// A risk configuration issued at `at`.
    pub fn config(&self, at: u64) -> Vec<u8> {
        RiskConfig {
            issued_at: UnixTime(at),
            ..RiskConfig::default()
        }
        .sign(&self.key)
        .unwrap()
    }

    /// The end of the newest window: when the server published its newest batch.
    pub fn now(&self) -> u64 {
        self.batches.last().map_or(T0, |(h, _)| h.window_end.0)
    }
}

pub fn entry(h: &BatchHeader) -> IndexEntry {
    IndexEntry {
        sequence: h.sequence,
        window_start: h.window_start,
        window_end: h.window_end,
        hash: h.hash,
        size: h.size,
    }
}

pub fn meta(day: u64, report_type: ReportType) -> KeyMetadata {
    KeyMetadata {
        rolling_start: IntervalNumber(day as u32 * 144),
        rolling_period: 144,
        transmission_risk: 2,
        report_type,
        days_since_onset: Some(0),
    }
}

/// Transmit power of every test phone, dBm.
pub const TX_POWER: i8 = -10;

/// `listener` hears `speaker` `times` times, 5 minutes apart from `from`, at `rssi` (each
/// sighting standing for 300 s).
pub fn hear(
    listener: &mut Phone,
    speaker: &mut Phone,
    from: UnixTime,
    times: u64,
    rssi: i8,
    rng: &mut impl CryptoRngCore,
) {
    let meta = Metadata {
        version: 0x40,
        tx_power: TX_POWER,
    };
    for i in 0..times {
        let time = from.plus(i * 300);
        let b = speaker.broadcast(time, meta, rng);
        let (rpi, aem) = (b.rpi, b.aem);
        listener
            .record_scan(Scan {
                rpi,
                aem,
                time,
                rssi,
                seconds: 300,
            })
            .unwrap();
    }
}
