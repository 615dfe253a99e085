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

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128Enc, Block};

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

/// Words of the whole store's bitmap: 2^21 bits = 256 KiB (fits L2), ~1% false positives
/// at 20,000 scans.
const FILTER_WORDS: usize = 1 << 15;
/// Words of a day's bitmap: 2^17 bits = 16 KiB (fits L1 beside the RPIs), ~1% false
/// positives at the ~1,700 scans of one day of a 20,000-scan store.
const DAY_WORDS: usize = 1 << 11;

/// Whether `rpi`'s bit is set in a bitmap of `W` words (a power of two), as 0 or 1. The
/// word comes from the top bits of the RPI's first eight bytes (read little-endian), the bit
/// in it from the low 6: RPIs are uniformly random, so any bits serve as a hash, and these
/// cost one shift (a bit test takes its offset mod 64).
#[inline(always)]
fn filter_test<const W: usize>(filter: &[u64; W], rpi: &[u8]) -> u64 {
    let x = u64::from_le_bytes(rpi[..8].try_into().expect("8 bytes"));
    (filter[(x >> (64 - W.trailing_zeros())) as usize] >> (x & 63)) & 1
}

/// Sets `rpi`'s bit (see [`filter_test`]).
fn filter_set<const W: usize>(filter: &mut [u64; W], rpi: &[u8]) {
    let x = u64::from_le_bytes(rpi[..8].try_into().expect("8 bytes"));
    filter[(x >> (64 - W.trailing_zeros())) as usize] |= 1 << (x & 63);
}

/// An all-zero bitmap on the heap.
fn empty_filter<const W: usize>() -> Box<[u64; W]> {
    vec![0u64; W]
        .into_boxed_slice()
        .try_into()
        .expect("W words")
}

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
    compress_in(&mut s, block);
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

/// The state of an RPIK derivation between its compressions (see [`RpikDeriver::step`]).
#[derive(Clone, Default)]
struct RpikSteps {
    a: [u32; 8],
    b: [u32; 8],
    prk: [u8; 32],
}

impl RpikSteps {
    /// The RPIK, after all six steps.
    fn okm(&self) -> [u8; 16] {
        digest_bytes(&self.b)[..16].try_into().expect("16 bytes")
    }
}

fn compress_in(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(state, &[(*block).into()]);
}

fn hmac_pad(key: &[u8; 32], x: u8) -> [u8; 64] {
    let mut b = [x; 64];
    for (b, k) in b.iter_mut().zip(key) {
        *b ^= k;
    }
    b
}

impl RpikDeriver {
    /// Steps of an RPIK derivation: `step` 0 to 5 in order, one SHA-256 compression each.
    /// Split so that [`ScanStore::match_keys`] can interleave them with other work.
    #[inline(always)]
    fn step(&self, st: &mut RpikSteps, step: usize, tek: &[u8; 16]) {
        match step {
            // Extract: PRK = HMAC(0^32, TEK) = H(opad0 || H(ipad0 || TEK)).
            0 => {
                st.a = self.zero_ipad;
                compress_in(&mut st.a, &last_block(tek, 64));
            }
            1 => {
                st.b = self.zero_opad;
                compress_in(&mut st.b, &last_block(&digest_bytes(&st.a), 64));
            }
            // Expand: OKM = HMAC(PRK, "EN-RPIK" || 0x01).
            2 => {
                st.prk = digest_bytes(&st.b);
                st.a = SHA256_IV;
                compress_in(&mut st.a, &hmac_pad(&st.prk, 0x36));
            }
            3 => {
                st.b = SHA256_IV;
                compress_in(&mut st.b, &hmac_pad(&st.prk, 0x5c));
            }
            4 => compress_in(&mut st.a, &last_block(b"EN-RPIK\x01", 64)),
            _ => compress_in(&mut st.b, &last_block(&digest_bytes(&st.a), 64)),
        }
    }

    /// RPIK = HKDF-SHA256(TEK, salt = none, info = "EN-RPIK", 16).
    pub fn rpik(&self, tek: &TemporaryExposureKey) -> [u8; 16] {
        let mut st = RpikSteps::default();
        for step in 0..6 {
            self.step(&mut st, step, tek.as_bytes());
        }
        st.okm()
    }

    /// The AES cipher keyed with RPIK (encryption only: RPIs are AES encryptions).
    pub fn rpi_cipher(&self, tek: &TemporaryExposureKey) -> Aes128Enc {
        Aes128Enc::new(&self.rpik(tek).into())
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

/// One key to match, copied from the caller's slice.
#[derive(Clone, Copy, Default)]
struct Job {
    /// Index in the caller's slice.
    index: u32,
    start: IntervalNumber,
    period: u8,
    /// The TEK's bytes (a published key).
    tek: [u8; 16],
}

/// A phone's scans, indexed by RPI.
#[derive(Debug, Clone)]
pub struct ScanStore {
    scans: Vec<Scan>,
    /// RPI prefix → (first index in `order`, count).
    index: PrefixMap<(u32, u32)>,
    /// Scan indices grouped by RPI prefix.
    order: Vec<u32>,
    /// Bitmap of every scan's RPI (see [`filter_test`]).
    filter: Box<[u64; FILTER_WORDS]>,
    /// Per UTC day: the same for scans heard within the tolerance of that day.
    day_filters: HashMap<u32, Box<[u64; DAY_WORDS]>>,
}

impl Default for ScanStore {
    fn default() -> Self {
        ScanStore::new(Vec::new())
    }
}

impl ScanStore {
    /// Builds the store (and its index) from scans.
    pub fn new(scans: Vec<Scan>) -> Self {
        let mut order: Vec<u32> = (0..scans.len() as u32).collect();
        order.sort_unstable_by_key(|&i| prefix(&scans[i as usize].rpi));
        let mut index = PrefixMap::default();
        index.reserve(scans.len());
        let mut filter = empty_filter::<FILTER_WORDS>();
        let mut i = 0;
        while i < order.len() {
            let p = prefix(&scans[order[i] as usize].rpi);
            let mut j = i + 1;
            while j < order.len() && prefix(&scans[order[j] as usize].rpi) == p {
                j += 1;
            }
            index.insert(p, (i as u32, (j - i) as u32));
            filter_set(&mut filter, &scans[order[i] as usize].rpi);
            i = j;
        }
        let mut day_filters: HashMap<u32, Box<[u64; DAY_WORDS]>> = HashMap::new();
        for sc in &scans {
            let first = (sc.time.0.saturating_sub(SKEW_TOLERANCE_SECONDS) / 86_400) as u32;
            let last = ((sc.time.0 + SKEW_TOLERANCE_SECONDS) / 86_400) as u32;
            for d in first..=last {
                filter_set(day_filters.entry(d).or_insert_with(empty_filter), &sc.rpi);
            }
        }
        ScanStore {
            scans,
            index,
            order,
            filter,
            day_filters,
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
        if filter_test(&self.filter, rpi) == 0 {
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

    /// The phone's matcher: every hit of `keys` in this store, on one thread, in key order.
    ///
    /// Keys are taken a UTC day at a time. A day-aligned key (GAEN keys are) can only match
    /// scans heard during its day widened by the skew tolerance, so its RPIs are tested
    /// against that day's bitmap: 16 KiB, which stays in L1 cache, and about as selective as
    /// the whole store's 256 KiB one. Keys of a day without scans cannot match and are
    /// skipped. Other keys are tested against the whole store's bitmap.
    ///
    /// Within a day the loop is software-pipelined: while key *i*'s RPIs are tested, key
    /// *i + 1*'s RPIK is derived, one SHA-256 compression between each sixth of the tests. A
    /// lone compression chain leaves the integer units idle while it waits on SHA round
    /// latency; the bitmap tests (loads and bit tests) fill those gaps.
    pub fn match_keys(&self, keys: &[DiagnosisKey]) -> Vec<Hit> {
        // A counting sort by day into one contiguous array (the loop is too slow for the CPU
        // to run ahead to a cache miss on the next key); the last bucket holds keys that are
        // not day-aligned, or all keys if their days span more than 64.
        let day_of = |k: &DiagnosisKey| {
            let start = k.meta.rolling_start.0;
            (start.is_multiple_of(144) && k.meta.rolling_period <= 144).then_some(start / 144)
        };
        let first = keys.iter().filter_map(day_of).min().unwrap_or(0);
        let last = keys.iter().filter_map(day_of).max().unwrap_or(0);
        let span = if last - first < 64 {
            (last - first + 1) as usize
        } else {
            0
        };
        let bucket = |k: &DiagnosisKey| match day_of(k) {
            Some(d) if span > 0 => (d - first) as usize,
            _ => span,
        };
        let mut starts = vec![0usize; span + 2];
        for k in keys {
            starts[bucket(k) + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut jobs = vec![Job::default(); keys.len()];
        let mut next = starts.clone();
        for (i, k) in keys.iter().enumerate() {
            let b = bucket(k);
            jobs[next[b]] = Job {
                index: i as u32,
                start: k.meta.rolling_start,
                period: k.meta.rolling_period,
                tek: *k.key.as_bytes(),
            };
            next[b] += 1;
        }
        let mut out = Vec::new();
        for b in 0..=span {
            let group = &jobs[starts[b]..starts[b + 1]];
            if b == span {
                self.match_group(group, &self.filter, &mut out);
            } else if let Some(filter) = self.day_filters.get(&(first + b as u32)) {
                self.match_group(group, filter, &mut out);
            }
        }
        out.sort_unstable();
        out
    }

    /// Matches the keys of `group`, testing RPIs against `filter` first.
    fn match_group<const W: usize>(&self, group: &[Job], filter: &[u64; W], out: &mut Vec<Hit>) {
        let deriver = RpikDeriver::default();
        let mut padded = Padded {
            cache: HashMap::default(),
        };
        let mut rpis = [Block::default(); 144];
        let mut st = RpikSteps::default();
        if let Some(first) = group.first() {
            for step in 0..6 {
                deriver.step(&mut st, step, &first.tek);
            }
        }
        for (pos, k) in group.iter().enumerate() {
            let n = usize::from(k.period).min(144);
            let blocks = padded.get(k.start, k.period);
            Aes128Enc::new(&st.okm().into())
                .encrypt_blocks_b2b(&blocks[..n], &mut rpis[..n])
                .expect("equal lengths");
            let next = group.get(pos + 1).map(|k| &k.tek);
            // Branch-free bitmap tests, 48 RPIs per mask word (the first RPI in the highest
            // bit), with a compression of the next key's RPIK before each 24.
            let mut masks = [(0u64, 0usize); 3];
            macro_rules! part {
                ($step:expr, $m:expr, $rpis:expr) => {
                    if let Some(next) = next {
                        deriver.step(&mut st, $step, next);
                    }
                    for b in $rpis {
                        $m = ($m << 1) | filter_test(filter, b);
                    }
                };
            }
            if n == 144 {
                // A whole day, as GAEN keys are: six parts with constant step numbers.
                for (c, m) in masks.iter_mut().enumerate() {
                    *m = (0, 48);
                    let chunk = &rpis[c * 48..c * 48 + 48];
                    part!(2 * c, m.0, &chunk[..24]);
                    part!(2 * c + 1, m.0, &chunk[24..]);
                }
            } else {
                for (c, chunk) in rpis[..n].chunks(48).enumerate() {
                    let mut m = 0u64;
                    for (h, p) in chunk.chunks(24).enumerate() {
                        part!(2 * c + h, m, p);
                    }
                    masks[c] = (m, chunk.len());
                }
                // Fewer than six parts of 24: finish the next key's RPIK.
                if let Some(next) = next {
                    for step in n.div_ceil(24)..6 {
                        deriver.step(&mut st, step, next);
                    }
                }
            }
            // The table only for candidates (~1% of RPIs).
            for (c, (mut m, len)) in masks.into_iter().enumerate() {
                while m != 0 {
                    let j = c * 48 + len - 1 - m.trailing_zeros() as usize;
                    m &= m - 1;
                    self.probe(
                        rpis[j].as_ref(),
                        IntervalNumber(k.start.0.wrapping_add(j as u32)),
                        k.index,
                        out,
                    );
                }
            }
        }
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
