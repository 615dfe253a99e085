//! The AES input blocks of RPIs, shared by keys with the same start interval and period (a
//! daily batch has a few hundred distinct starts for up to millions of keys).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use aes::Block;

use crate::derive::padded_data;
use crate::time::IntervalNumber;

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

/// Padded blocks by (start interval, period).
#[derive(Default)]
pub(super) struct Padded {
    cache: HashMap<u64, Vec<Block>, BuildHasherDefault<SmallIntHasher>>,
}

impl Padded {
    /// The `period` blocks of intervals `start`, `start + 1`, ….
    pub(super) fn get(&mut self, start: IntervalNumber, period: u8) -> &[Block] {
        self.cache
            .entry(u64::from(start.0) << 8 | u64::from(period))
            .or_insert_with(|| {
                (0..u32::from(period))
                    .map(|j| Block::from(padded_data(IntervalNumber(start.0.wrapping_add(j)))))
                    .collect()
            })
    }
}
