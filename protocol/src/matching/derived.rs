//! The simulator's join: a batch's RPIs derived once, then probed with each phone's scans
//! (thousands of simulated phones share one derivation per batch).

use aes::cipher::BlockEncrypt;
use aes::Block;

use super::padded::Padded;
use super::{prefix, within_tolerance, Hit, PrefixMap, RpikDeriver, Scan, ScanStore};
use crate::derive::Rpi;
use crate::time::IntervalNumber;
use crate::wire::key::DiagnosisKey;

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
        let mut padded = Padded::default();
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
        self.probe_table(scan, scan_index, out);
    }

    /// [`Self::probe`] without the bitmap.
    fn probe_table(&self, scan: &Scan, scan_index: u32, out: &mut Vec<Hit>) {
        if let Some(v) = self.map.get(&prefix(&scan.rpi)) {
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
        for (i, s) in store.scans().iter().enumerate() {
            self.probe_table(s, i as u32, &mut out);
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
