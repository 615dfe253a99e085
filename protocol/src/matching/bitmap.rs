//! Bitmaps of RPIs in front of the prefix table: most RPIs a matcher tests are misses, and a
//! bit test in cache is far cheaper than a hash-table probe.

/// Words of the whole store's bitmap: 2^21 bits = 256 KiB (fits L2), ~1% false positives
/// at 20,000 scans.
pub(super) const FILTER_WORDS: usize = 1 << 15;
/// Words of a day's bitmap: 2^17 bits = 16 KiB (fits L1 beside the RPIs), ~1% false
/// positives at the ~1,700 scans of one day of a 20,000-scan store.
pub(super) const DAY_WORDS: usize = 1 << 11;

/// Whether `rpi`'s bit is set in a bitmap of `W` words (a power of two), as 0 or 1. The
/// word comes from the top bits of the RPI's first eight bytes (read little-endian), the bit
/// in it from the low 6: RPIs are uniformly random, so any bits serve as a hash, and these
/// cost one shift (a bit test takes its offset mod 64).
#[inline(always)]
pub(super) fn filter_test<const W: usize>(filter: &[u64; W], rpi: &[u8]) -> u64 {
    let x = u64::from_le_bytes(rpi[..8].try_into().expect("8 bytes"));
    (filter[(x >> (64 - W.trailing_zeros())) as usize] >> (x & 63)) & 1
}

/// Sets `rpi`'s bit (see [`filter_test`]).
pub(super) fn filter_set<const W: usize>(filter: &mut [u64; W], rpi: &[u8]) {
    let x = u64::from_le_bytes(rpi[..8].try_into().expect("8 bytes"));
    filter[(x >> (64 - W.trailing_zeros())) as usize] |= 1 << (x & 63);
}

/// An all-zero bitmap on the heap.
pub(super) fn empty_filter<const W: usize>() -> Box<[u64; W]> {
    vec![0u64; W]
        .into_boxed_slice()
        .try_into()
        .expect("W words")
}
