//! Phone-side matching: diagnosis keys from verified batches against the phone's scans.
//!
//! Two joins produce the same [`Hit`]s (a test checks it):
//! - [`ScanStore::match_keys`], the phone's own matcher: for each key, derive its RPIs and probe
//!   the phone's RPI index. Keys are taken a day at a time against a 16 KiB bitmap of that
//!   day's scans before the table (RPIs are uniformly random, so their bits serve as the hash);
//!   keys sharing a start interval share their padded blocks; the RPIK HMAC uses a precomputed
//!   zero-salt state, and the next key's RPIK is derived while this key's RPIs are tested.
//! - [`DerivedKeys`], for simulators: derive a batch's RPIs once and probe it with each phone's
//!   scans.
//!
//! A hit is accepted if the scan's time lies within the RPI's interval widened by
//! [`SKEW_TOLERANCE_SECONDS`] on each side (GAEN allows ±2 hours of clock skew).
//!
//! One job per file: `rpik` derives RPIKs fast, `bitmap` holds the RPI bitmaps, `store` keeps
//! the scans and their indexes, `matcher` is the phone's join, `derived` the simulator's.

mod bitmap;
mod derived;
mod matcher;
mod padded;
mod rpik;
mod store;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::derive::Rpi;
use crate::time::{IntervalNumber, UnixTime, INTERVAL_SECONDS};

pub use derived::DerivedKeys;
pub use rpik::RpikDeriver;
pub use store::ScanStore;

/// Clock-skew tolerance on each side of an RPI's interval.
pub const SKEW_TOLERANCE_SECONDS: u64 = 2 * 3600;
/// How long a phone keeps scans.
pub const SCAN_RETENTION_SECONDS: u64 = 14 * 86_400;

/// One sighting of another phone's broadcast, as a phone records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// The rolling proximity identifier heard.
    pub rpi: Rpi,
    /// The associated encrypted metadata heard with it.
    pub aem: [u8; 4],
    /// When it was heard.
    pub time: UnixTime,
    /// Received signal strength, dBm.
    pub rssi: i8,
    /// Seconds this sighting stands for (GAEN's secondsSinceLastScan).
    pub seconds: u16,
}

/// A scan matched to a diagnosis key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hit {
    /// Index of the key in the slice that was matched.
    pub key: u32,
    /// Index of the scan in the store.
    pub scan: u32,
    /// The interval whose RPI matched.
    pub interval: IntervalNumber,
}

/// A hasher for values that are already uniformly random (RPI prefixes).
#[derive(Default)]
pub struct PrefixHasher(u64);
impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}
type PrefixMap<V> = HashMap<u64, V, BuildHasherDefault<PrefixHasher>>;

/// The RPI's first eight bytes: the key of the prefix tables.
fn prefix(rpi: &Rpi) -> u64 {
    u64::from_le_bytes(rpi[..8].try_into().expect("8 bytes"))
}

/// Whether a sighting at `time` is consistent with an RPI broadcast during `enin`.
pub fn within_tolerance(enin: IntervalNumber, time: UnixTime) -> bool {
    let start = enin.start().0;
    time.0.saturating_add(SKEW_TOLERANCE_SECONDS) >= start
        && time.0 < start + INTERVAL_SECONDS + SKEW_TOLERANCE_SECONDS
}
