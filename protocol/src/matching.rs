//! Phone-side matching: diagnosis keys from verified batches against the phone's scans.
//!
//! Two joins produce the same [`Hit`]s (a test checks it):
//! - [`ScanStore::match_keys`], the phone's own matcher: for each key, derive its RPIs and probe
//!   the phone's RPI index. Keys sharing a start interval share their padded blocks; the RPIK
//!   HMAC uses a precomputed zero-salt state; the index probes a 1 MiB bitmap before the table
//!   (RPIs are uniformly random, so their first 8 bytes are used as the hash directly).
//! - [`DerivedKeys`], for simulators: derive a batch's RPIs once and probe it with each phone's
//!   scans.
//!
//! A hit is accepted if the scan's time lies within the RPI's interval widened by
//! [`SKEW_TOLERANCE_SECONDS`] on each side (GAEN allows ±2 hours of clock skew).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Block};

use crate::derive::{padded_data, Rpi};
use crate::keys::TemporaryExposureKey;
use crate::time::{IntervalNumber, UnixTime, INTERVAL_SECONDS};
use crate::wire::key::DiagnosisKey;

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

fn prefix(rpi: &Rpi) -> u64 {
    u64::from_le_bytes(rpi[..8].try_into().expect("8 bytes"))
}

const FILTER_BITS: u32 = 21; // 2 Mbit = 256 KiB (fits L2): ~1% false positives at 20,000 scans

/// Whether a sighting at `time` is consistent with an RPI broadcast during `enin`.
pub fn within_tolerance(enin: IntervalNumber, time: UnixTime) -> bool {
    let start = enin.start().0;
    time.0 + SKEW_TOLERANCE_SECONDS >= start
        && time.0 < start + INTERVAL_SECONDS + SKEW_TOLERANCE_SECONDS
}

/// RPIK derivation with HKDF-SHA256 written out as its six SHA-256 compressions, the two
/// for the all-zero salt's HMAC pads precomputed once: the same function as
/// [`crate::derive::rpik`] (a test checks it on 256 keys), without per-call buffering.
#[derive(Clone)]
pub struct RpikDeriver {
    zero_ipad: [u32; 8],
    zero_opad: [u32; 8],
}

const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

fn compress(state: &[u32; 8], block: &[u8; 64]) -> [u32; 8] {
    let mut s = *state;
    sha2::compress256(&mut s, &[(*block).into()]);
    s
}

fn digest_bytes(s: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(s) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// The final block of a message of `prefix_len` (the HMAC pad block) + `data.len()` bytes.
fn last_block(data: &[u8], prefix_len: usize) -> [u8; 64] {
    let mut b = [0u8; 64];
    b[..data.len()].copy_from_slice(data);
    b[data.len()] = 0x80;
    b[56..].copy_from_slice(&(((prefix_len + data.len()) * 8) as u64).to_be_bytes());
    b
}

impl Default for RpikDeriver {
    fn default() -> Self {
        RpikDeriver {
            zero_ipad: compress(&SHA256_IV, &[0x36; 64]),
            zero_opad: compress(&SHA256_IV, &[0x5c; 64]),
        }
    }
}

impl RpikDeriver {
    /// RPIK = HKDF-SHA256(TEK, salt = none, info = "EN-RPIK", 16).
    pub fn rpik(&self, tek: &TemporaryExposureKey) -> [u8; 16] {
        // Extract: PRK = HMAC(0^32, TEK).
        let inner = digest_bytes(&compress(&self.zero_ipad, &last_block(tek.as_bytes(), 64)));
        let prk = digest_bytes(&compress(&self.zero_opad, &last_block(&inner, 64)));
        // Expand: OKM = HMAC(PRK, "EN-RPIK" || 0x01).
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5cu8; 64];
        for i in 0..32 {
            ipad[i] ^= prk[i];
            opad[i] ^= prk[i];
        }
        let inner = digest_bytes(&compress(
            &compress(&SHA256_IV, &ipad),
            &last_block(b"EN-RPIK\x01", 64),
        ));
        let okm = digest_bytes(&compress(
            &compress(&SHA256_IV, &opad),
            &last_block(&inner, 64),
        ));
        okm[..16].try_into().expect("16 bytes")
    }

    /// The AES cipher keyed with RPIK.
    pub fn rpi_cipher(&self, tek: &TemporaryExposureKey) -> Aes128 {
        Aes128::new(&self.rpik(tek).into())
    }
}

/// Multiplicative hashing for small integer keys (start interval, period).
#[derive(Default)]
struct SmallIntHasher(u64);
impl Hasher for SmallIntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Padded blocks shared by keys with the same start interval.
struct Padded {
    cache: HashMap<u64, Vec<Block>, BuildHasherDefault<SmallIntHasher>>,
}

impl Padded {
    fn get(&mut self, start: IntervalNumber, period: u8) -> &[Block] {
        self.cache
            .entry(u64::from(start.0) << 8 | u64::from(period))
            .or_insert_with(|| {
                (0..u32::from(period))
                    .map(|j| Block::from(padded_data(IntervalNumber(start.0.wrapping_add(j)))))
                    .collect()
            })
    }
}

/// A phone's scans, indexed by RPI.
#[derive(Debug, Clone, Default)]
pub struct ScanStore {
    scans: Vec<Scan>,
    /// RPI prefix → (first index in `order`, count).
    index: PrefixMap<(u32, u32)>,
    /// Scan indices grouped by RPI prefix.
    order: Vec<u32>,
    filter: Vec<u64>,
}

impl ScanStore {
    /// Builds the store (and its index) from scans.
    pub fn new(scans: Vec<Scan>) -> Self {
        let mut order: Vec<u32> = (0..scans.len() as u32).collect();
        order.sort_unstable_by_key(|&i| prefix(&scans[i as usize].rpi));
        let mut index = PrefixMap::default();
        index.reserve(scans.len());
        let mut filter = vec![0u64; 1 << (FILTER_BITS - 6)];
        let mut i = 0;
        while i < order.len() {
            let p = prefix(&scans[order[i] as usize].rpi);
            let mut j = i + 1;
            while j < order.len() && prefix(&scans[order[j] as usize].rpi) == p {
                j += 1;
            }
            index.insert(p, (i as u32, (j - i) as u32));
            let bit = (p >> (64 - FILTER_BITS)) as usize;
            filter[bit >> 6] |= 1 << (bit & 63);
            i = j;
        }
        ScanStore {
            scans,
            index,
            order,
            filter,
        }
    }

    /// The scans.
    pub fn scans(&self) -> &[Scan] {
        &self.scans
    }

    /// Keeps only scans from the last 14 days before `now`.
    pub fn pruned(self, now: UnixTime) -> Self {
        let oldest = now.minus(SCAN_RETENTION_SECONDS);
        ScanStore::new(
            self.scans
                .into_iter()
                .filter(|s| s.time >= oldest)
                .collect(),
        )
    }

    #[inline]
    fn probe(&self, rpi: &Rpi, interval: IntervalNumber, key: u32, out: &mut Vec<Hit>) {
        let p = prefix(rpi);
        let bit = (p >> (64 - FILTER_BITS)) as usize;
        if self.filter[bit >> 6] & (1 << (bit & 63)) == 0 {
            return;
        }
        if let Some(&(first, n)) = self.index.get(&p) {
            for &i in &self.order[first as usize..(first + n) as usize] {
                let s = &self.scans[i as usize];
                if &s.rpi == rpi && within_tolerance(interval, s.time) {
                    out.push(Hit {
                        key,
                        scan: i,
                        interval,
                    });
                }
            }
        }
    }

    /// The phone's matcher: every hit of `keys` in this store, on one thread.
    pub fn match_keys(&self, keys: &[DiagnosisKey]) -> Vec<Hit> {
        let deriver = RpikDeriver::default();
        let mut padded = Padded {
            cache: HashMap::default(),
        };
        let mut out = Vec::new();
        let mut rpis = vec![Block::default(); 144];
        for (ki, k) in keys.iter().enumerate() {
            let n = usize::from(k.meta.rolling_period);
            let blocks = padded.get(k.meta.rolling_start, k.meta.rolling_period);
            let cipher = deriver.rpi_cipher(&k.key);
            cipher
                .encrypt_blocks_b2b(blocks, &mut rpis[..n])
                .expect("equal lengths");
            // A branch-free pass over the bitmap; the table only for candidates (~1%).
            let mut cand = [0u64; 3];
            for (j, b) in rpis[..n].iter().enumerate() {
                let bit = (u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
                    >> (64 - FILTER_BITS)) as usize;
                cand[j >> 6] |= ((self.filter[bit >> 6] >> (bit & 63)) & 1) << (j & 63);
            }
            for (w, mut word) in cand.into_iter().enumerate() {
                while word != 0 {
                    let j = w * 64 + word.trailing_zeros() as usize;
                    word &= word - 1;
                    let rpi: &Rpi = rpis[j].as_ref();
                    self.probe(
                        rpi,
                        IntervalNumber(k.meta.rolling_start.0.wrapping_add(j as u32)),
                        ki as u32,
                        &mut out,
                    );
                }
            }
        }
        out
    }

    /// [`Self::match_keys`] split across `threads` threads (hits in key order).
    pub fn match_keys_parallel(&self, keys: &[DiagnosisKey], threads: usize) -> Vec<Hit> {
        let threads = threads.max(1);
        if threads == 1 || keys.len() < 4096 {
            return self.match_keys(keys);
        }
        let chunk = keys.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = keys
                .chunks(chunk)
                .enumerate()
                .map(|(c, part)| {
                    s.spawn(move || {
                        let mut h = self.match_keys(part);
                        for x in &mut h {
                            x.key += (c * chunk) as u32;
                        }
                        h
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("matcher thread"))
                .collect()
        })
    }
}

/// The RPIs of a set of diagnosis keys, derived once and shared by many phones.
pub struct DerivedKeys {
    map: PrefixMap<Vec<(Rpi, u32, IntervalNumber)>>,
    filter: Vec<u64>,
    bits: u32,
}

impl DerivedKeys {
    /// Derives every RPI of `keys`.
    pub fn new(keys: &[DiagnosisKey]) -> Self {
        let deriver = RpikDeriver::default();
        let mut padded = Padded {
            cache: HashMap::default(),
        };
        let mut map: PrefixMap<Vec<(Rpi, u32, IntervalNumber)>> = PrefixMap::default();
        map.reserve(keys.len() * 144);
        let mut rpis = vec![Block::default(); 144];
        for (ki, k) in keys.iter().enumerate() {
            let n = usize::from(k.meta.rolling_period);
            let cipher = deriver.rpi_cipher(&k.key);
            cipher
                .encrypt_blocks_b2b(
                    padded.get(k.meta.rolling_start, k.meta.rolling_period),
                    &mut rpis[..n],
                )
                .expect("equal lengths");
            for (j, b) in rpis[..n].iter().enumerate() {
                let rpi: Rpi = (*b).into();
                map.entry(prefix(&rpi)).or_default().push((
                    rpi,
                    ki as u32,
                    IntervalNumber(k.meta.rolling_start.0.wrapping_add(j as u32)),
                ));
            }
        }
        // A bitmap of about 16 bits per RPI in front of the table: most probes are misses.
        let bits = (usize::BITS - (map.len().max(1) * 16).leading_zeros()).clamp(16, 30);
        let mut filter = vec![0u64; 1 << (bits - 6)];
        for p in map.keys() {
            let bit = (p >> (64 - bits)) as usize;
            filter[bit >> 6] |= 1 << (bit & 63);
        }
        DerivedKeys { map, filter, bits }
    }

    /// Hits of one scan (index `scan_index`) against these keys, appended to `out`.
    #[inline]
    pub fn probe(&self, scan: &Scan, scan_index: u32, out: &mut Vec<Hit>) {
        let p = prefix(&scan.rpi);
        let bit = (p >> (64 - self.bits)) as usize;
        if self.filter[bit >> 6] & (1 << (bit & 63)) == 0 {
            return;
        }
        if let Some(v) = self.map.get(&p) {
            for (rpi, key, interval) in v {
                if rpi == &scan.rpi && within_tolerance(*interval, scan.time) {
                    out.push(Hit {
                        key: *key,
                        scan: scan_index,
                        interval: *interval,
                    });
                }
            }
        }
    }

    /// The hits of these keys in `store`, in the same order as [`ScanStore::match_keys`].
    pub fn match_scans(&self, store: &ScanStore) -> Vec<Hit> {
        let mut out = Vec::new();
        for (i, s) in store.scans.iter().enumerate() {
            if let Some(v) = self.map.get(&prefix(&s.rpi)) {
                for (rpi, key, interval) in v {
                    if rpi == &s.rpi && within_tolerance(*interval, s.time) {
                        out.push(Hit {
                            key: *key,
                            scan: i as u32,
                            interval: *interval,
                        });
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Number of RPIs derived.
    pub fn len(&self) -> usize {
        self.map.values().map(Vec::len).sum()
    }

    /// True if no RPI was derived.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
