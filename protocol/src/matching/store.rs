//! The phone's scans and the indexes the matcher probes: a prefix table, a 256 KiB bitmap of
//! every RPI and a 16 KiB bitmap per UTC day. Scans arrive a few at a time all day, so every
//! index is kept correct by [`ScanStore::insert`] in constant time; only pruning rebuilds.

use std::collections::HashMap;
use std::fmt;

use super::bitmap::{empty_filter, filter_set, filter_test, DAY_WORDS, FILTER_WORDS};
use super::{prefix, within_tolerance, Hit, PrefixMap, Scan};
use super::{SCAN_RETENTION_SECONDS, SKEW_TOLERANCE_SECONDS};
use crate::derive::Rpi;
use crate::time::{IntervalNumber, UnixTime, DAY_SECONDS};

/// End of a chain of scans sharing a prefix.
const NONE: u32 = u32::MAX;

/// A phone's scans, indexed by RPI.
///
/// Scans keep their insertion order ([`Hit::scan`] indexes [`ScanStore::scans`]) until
/// [`ScanStore::prune`] removes some.
#[derive(Clone)]
pub struct ScanStore {
    pub(super) scans: Vec<Scan>,
    /// RPI prefix → the newest scan with that prefix.
    heads: PrefixMap<u32>,
    /// Per scan: the next older scan with the same prefix, or [`NONE`]. A chain rather than
    /// a sorted array, so that an insert costs one table update; the matcher walks it only
    /// for the ~1% of RPIs the bitmaps let through.
    older: Vec<u32>,
    /// Bitmap of every scan's RPI (see [`filter_test`]).
    pub(super) filter: Box<[u64; FILTER_WORDS]>,
    /// Per UTC day: the same for scans heard within the tolerance of that day.
    pub(super) day_filters: HashMap<u32, Box<[u64; DAY_WORDS]>>,
}

impl Default for ScanStore {
    fn default() -> Self {
        ScanStore {
            scans: Vec::new(),
            heads: PrefixMap::default(),
            older: Vec::new(),
            filter: empty_filter(),
            day_filters: HashMap::new(),
        }
    }
}

impl fmt::Debug for ScanStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanStore")
            .field("scans", &self.scans.len())
            .field("days", &self.day_filters.len())
            .finish()
    }
}

impl ScanStore {
    /// Builds the store (and its indexes) from scans.
    pub fn new(scans: Vec<Scan>) -> Self {
        let mut s = ScanStore::default();
        s.reserve(scans.len());
        s.extend(scans);
        s
    }

    /// Reserves room for `n` more scans.
    pub fn reserve(&mut self, n: usize) {
        self.scans.reserve(n);
        self.older.reserve(n);
        self.heads.reserve(n);
    }

    /// Adds one scan, updating every index.
    ///
    /// # Panics
    /// If the store already holds `u32::MAX` scans ([`Hit::scan`] is a `u32`); a phone's
    /// 14 days of scans are orders of magnitude fewer.
    pub fn insert(&mut self, scan: Scan) {
        let i = u32::try_from(self.scans.len())
            .ok()
            .filter(|&i| i != NONE)
            .expect("a scan store holds fewer than u32::MAX scans");
        self.older
            .push(self.heads.insert(prefix(&scan.rpi), i).unwrap_or(NONE));
        filter_set(&mut self.filter, &scan.rpi);
        for d in tolerance_days(scan.time) {
            filter_set(
                self.day_filters.entry(d).or_insert_with(empty_filter),
                &scan.rpi,
            );
        }
        self.scans.push(scan);
    }

    /// The scans, in insertion order.
    pub fn scans(&self) -> &[Scan] {
        &self.scans
    }

    /// Number of scans.
    pub fn len(&self) -> usize {
        self.scans.len()
    }

    /// True if there are no scans.
    pub fn is_empty(&self) -> bool {
        self.scans.is_empty()
    }

    /// Removes the scans heard more than 14 days ([`SCAN_RETENTION_SECONDS`]) before `now`
    /// and returns how many went. The survivors keep their order; the indexes are rebuilt
    /// (bits cannot be taken out of a bitmap), so call it once a day, not per scan.
    pub fn prune(&mut self, now: UnixTime) -> usize {
        let oldest = now.minus(SCAN_RETENTION_SECONDS);
        let before = self.scans.len();
        if self.scans.iter().all(|s| s.time >= oldest) {
            return 0;
        }
        let kept: Vec<Scan> = std::mem::take(&mut self.scans)
            .into_iter()
            .filter(|s| s.time >= oldest)
            .collect();
        *self = ScanStore::new(kept);
        before - self.scans.len()
    }

    /// Keeps only scans from the last 14 days before `now`.
    pub fn pruned(mut self, now: UnixTime) -> Self {
        self.prune(now);
        self
    }

    /// Appends the hits of `rpi` (the RPI of `interval` of key number `key`) to `out`.
    #[inline]
    pub(super) fn probe(&self, rpi: &Rpi, interval: IntervalNumber, key: u32, out: &mut Vec<Hit>) {
        if filter_test(&self.filter, rpi) == 0 {
            return;
        }
        let mut i = self.heads.get(&prefix(rpi)).copied().unwrap_or(NONE);
        while i != NONE {
            let s = &self.scans[i as usize];
            if &s.rpi == rpi && within_tolerance(interval, s.time) {
                out.push(Hit {
                    key,
                    scan: i,
                    interval,
                });
            }
            i = self.older[i as usize];
        }
    }
}

impl Extend<Scan> for ScanStore {
    fn extend<T: IntoIterator<Item = Scan>>(&mut self, scans: T) {
        for s in scans {
            self.insert(s);
        }
    }
}

/// The UTC days whose keys a scan at `time` can match: its own day widened by the skew
/// tolerance (day numbers that do not fit a `u32` can match no key and are left out).
fn tolerance_days(time: UnixTime) -> impl Iterator<Item = u32> {
    let first = time.0.saturating_sub(SKEW_TOLERANCE_SECONDS) / DAY_SECONDS;
    let last = time.0.saturating_add(SKEW_TOLERANCE_SECONDS) / DAY_SECONDS;
    (first..=last).filter_map(|d| u32::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn scans(n: usize, seed: u64) -> Vec<Scan> {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let mut v: Vec<Scan> = (0..n)
            .map(|_| Scan {
                rpi: rng.gen(),
                aem: rng.gen(),
                time: UnixTime(20_000 * 86_400 + rng.gen_range(0..20 * 86_400)),
                rssi: -60,
                seconds: 300,
            })
            .collect();
        // Repeated sightings of one RPI, as phones record them.
        for i in 0..n / 10 {
            let mut s = v[i];
            s.time = s.time.plus(300);
            v.push(s);
        }
        v
    }

    /// Every index of `s` equals what a from-scratch build of its scans produces.
    fn assert_indexes_correct(s: &ScanStore) {
        let mut filter = empty_filter::<FILTER_WORDS>();
        let mut days: HashMap<u32, Box<[u64; DAY_WORDS]>> = HashMap::new();
        let mut by_prefix: HashMap<u64, Vec<u32>> = HashMap::new();
        for (i, sc) in s.scans.iter().enumerate() {
            filter_set(&mut filter, &sc.rpi);
            for d in tolerance_days(sc.time) {
                filter_set(days.entry(d).or_insert_with(empty_filter), &sc.rpi);
            }
            by_prefix.entry(prefix(&sc.rpi)).or_default().push(i as u32);
        }
        assert!(s.filter == filter, "store bitmap");
        assert_eq!(s.day_filters, days, "day bitmaps");
        assert_eq!(s.heads.len(), by_prefix.len());
        for (p, mut want) in by_prefix {
            let mut got = Vec::new();
            let mut i = s.heads[&p];
            while i != NONE {
                got.push(i);
                i = s.older[i as usize];
            }
            want.reverse();
            assert_eq!(got, want, "chain of prefix {p:x}");
        }
    }

    #[test]
    fn inserts_keep_every_index_correct() {
        let all = scans(2_000, 1);
        let mut s = ScanStore::default();
        for (i, chunk) in all.chunks(333).enumerate() {
            if i % 2 == 0 {
                s.extend(chunk.iter().copied());
            } else {
                for sc in chunk {
                    s.insert(*sc);
                }
            }
            assert_indexes_correct(&s);
        }
        assert_eq!(s.scans(), &all[..]);
    }

    #[test]
    fn prune_drops_old_scans_and_rebuilds() {
        let all = scans(1_000, 2);
        let mut s = ScanStore::new(all.clone());
        let now = UnixTime(20_000 * 86_400 + 20 * 86_400);
        let removed = s.prune(now);
        let oldest = now.minus(SCAN_RETENTION_SECONDS);
        let kept: Vec<Scan> = all.into_iter().filter(|x| x.time >= oldest).collect();
        assert_eq!(removed + kept.len(), 1_100);
        assert!(removed > 0);
        assert_eq!(s.scans(), &kept[..]);
        assert_indexes_correct(&s);
        assert_eq!(s.prune(now), 0);
    }

    #[test]
    fn times_at_the_end_of_time_do_not_overflow() {
        let mut s = ScanStore::default();
        s.insert(Scan {
            rpi: [1; 16],
            aem: [0; 4],
            time: UnixTime(u64::MAX),
            rssi: 0,
            seconds: 0,
        });
        assert_indexes_correct(&s);
        let mut out = Vec::new();
        s.probe(&[1; 16], IntervalNumber(u32::MAX), 0, &mut out);
        assert!(out.is_empty());
    }
}
