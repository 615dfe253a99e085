//! The phone's matcher: every hit of a batch's diagnosis keys in the phone's [`ScanStore`],
//! deriving each key's RPIs once and testing them against the store's bitmaps.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128Enc, Block};

use super::bitmap::filter_test;
use super::padded::Padded;
use super::rpik::{RpikDeriver, RpikSteps};
use super::{Hit, ScanStore};
use crate::time::IntervalNumber;
use crate::wire::key::DiagnosisKey;

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

impl ScanStore {
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
        let mut padded = Padded::default();
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
