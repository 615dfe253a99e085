//! What goes into a trace batch: the real entries, one per venue-hour, and [`fake_trace`]
//! padding up to a minimum size, at hours spread like the real ones.
//!
//! Padding hides how many venue-hours were traced, and — because a padding entry copies the
//! hour of a real entry, moved by a few days and hours — *when* the traced visits were only
//! to within that spread. It cannot hide a batch's size beyond the minimum, and a batch with
//! no real entry draws its hours from a fixed prior (daytime hours of the last week), which a
//! patient observer could tell from copies of real hours only statistically
//! (spec/threat-model.md §7).

use rand_core::CryptoRngCore;

use super::batch::fake_trace;
use super::report::TraceEntry;
use super::{Hour, RETENTION_HOURS};
use crate::time::UnixTime;

/// A padding entry's day differs from the real entry it copies by up to this many days.
pub const SPREAD_DAYS: u32 = 3;
/// ... and its hour of day by up to this many hours.
pub const SPREAD_HOURS: u32 = 2;
/// With no real entry, padding hours are drawn from this many days before now ...
pub const PRIOR_DAYS: u32 = 7;
/// ... at these UTC hours of day (07:00 to 22:59).
pub const PRIOR_HOURS_OF_DAY: std::ops::RangeInclusive<u32> = 7..=22;

fn uniform(rng: &mut impl CryptoRngCore, n: u32) -> u32 {
    // n ≤ 2^16 here: the modulo bias is below 2^-16.
    (rng.next_u64() % u64::from(n.max(1))) as u32
}

/// The hour of one padding entry at `now`: a real entry's hour moved by up to
/// [`SPREAD_DAYS`] days and [`SPREAD_HOURS`] hours (drawn again while the result would lie
/// outside the retention window), or with no real entry a daytime hour of the last
/// [`PRIOR_DAYS`] days.
pub fn padding_hour(real: &[TraceEntry], now: UnixTime, rng: &mut impl CryptoRngCore) -> Hour {
    let latest = Hour::containing(now).0;
    let oldest = latest.saturating_sub(RETENTION_HOURS);
    if real.is_empty() {
        let today = latest / 24;
        loop {
            let day = today.saturating_sub(uniform(rng, PRIOR_DAYS));
            let span = PRIOR_HOURS_OF_DAY.end() - PRIOR_HOURS_OF_DAY.start() + 1;
            let h = day * 24 + PRIOR_HOURS_OF_DAY.start() + uniform(rng, span);
            if h <= latest {
                return Hour(h);
            }
        }
    }
    let base = real[uniform(rng, real.len() as u32) as usize].hour().0;
    for _ in 0..16 {
        let days = uniform(rng, 2 * SPREAD_DAYS + 1) * 24;
        let hours = uniform(rng, 2 * SPREAD_HOURS + 1);
        let h = (i64::from(base) + i64::from(days) + i64::from(hours)
            - i64::from(SPREAD_DAYS * 24 + SPREAD_HOURS)) as u32;
        if (oldest..=latest).contains(&h) {
            return Hour(h);
        }
    }
    Hour(base)
}

/// The entries of a trace batch closed at `now`: `real` (in the order the server accepted
/// them) with duplicate (hour, identity) entries dropped — the first accepted is kept, since
/// two reports may trace the same venue-hour — then padded with [`fake_trace`]s at
/// [`padding_hour`]s to at least `min` entries. Returned sorted by (hour, identity).
pub fn pad_traces(
    mut real: Vec<TraceEntry>,
    min: usize,
    now: UnixTime,
    rng: &mut impl CryptoRngCore,
) -> Vec<TraceEntry> {
    real.sort_by_key(TraceEntry::sort_key); // stable: the first accepted stays first
    real.dedup_by_key(|e| e.sort_key());
    let pads: Vec<TraceEntry> = (real.len()..min)
        .map(|_| {
            let h = padding_hour(&real, now, rng);
            fake_trace(rng, h)
        })
        .collect();
    real.extend(pads);
    // A padding identity equal to a real one has probability 2^-256; still never sign two.
    real.sort_by_key(TraceEntry::sort_key);
    real.dedup_by_key(|e| e.sort_key());
    real
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::bench::FixtureRng;

    const NOW: UnixTime = UnixTime(1_767_300_000); // 2026-01-01 20:40 UTC

    #[test]
    fn duplicates_are_dropped_and_the_batch_is_padded() {
        let mut rng = FixtureRng::new(1);
        let h = Hour::containing(NOW);
        let a = fake_trace(&mut rng, Hour(h.0 - 30));
        let mut a2 = fake_trace(&mut rng, Hour(h.0 - 30));
        a2.id = a.id; // another report of the same venue-hour
        let b = fake_trace(&mut rng, Hour(h.0 - 5));
        let out = pad_traces(vec![a.clone(), a2, b.clone()], 50, NOW, &mut rng);
        assert_eq!(out.len(), 50);
        assert!(out.windows(2).all(|w| w[0].sort_key() < w[1].sort_key()));
        let same: Vec<_> = out.iter().filter(|e| e.id == a.id).collect();
        assert_eq!(same, vec![&a], "the first accepted entry is kept");
        assert!(out.contains(&b));
        // Above the minimum nothing is added.
        assert_eq!(pad_traces(out.clone(), 10, NOW, &mut rng), out);
    }

    #[test]
    fn padding_hours_follow_the_real_ones() {
        let mut rng = FixtureRng::new(2);
        let h = Hour::containing(NOW);
        let real = vec![fake_trace(&mut rng, Hour(h.0 - 100))];
        let spread = i64::from(SPREAD_DAYS * 24 + SPREAD_HOURS);
        for _ in 0..2000 {
            let p = padding_hour(&real, NOW, &mut rng);
            assert!((i64::from(p.0) - i64::from(h.0 - 100)).abs() <= spread);
            let off = (i64::from(p.0) - i64::from(h.0 - 100)).rem_euclid(24);
            assert!(
                off <= 2 || off >= 22,
                "within two hours of the real hour of day"
            );
        }
        // Near now, copies never lie in the future; near the retention edge, never past it.
        let recent = vec![fake_trace(&mut rng, h)];
        let old = vec![fake_trace(&mut rng, Hour(h.0 - RETENTION_HOURS))];
        for _ in 0..500 {
            assert!(padding_hour(&recent, NOW, &mut rng) <= h);
            assert!(padding_hour(&old, NOW, &mut rng).0 >= h.0 - RETENTION_HOURS);
        }
    }

    #[test]
    fn without_real_entries_padding_is_daytime_of_the_last_week() {
        let mut rng = FixtureRng::new(3);
        let h = Hour::containing(NOW);
        let mut days = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let p = padding_hour(&[], NOW, &mut rng);
            assert!(p <= h && p.0 + PRIOR_DAYS * 24 > h.0);
            assert!(PRIOR_HOURS_OF_DAY.contains(&(p.0 % 24)));
            days.insert(p.day());
        }
        assert_eq!(days.len(), PRIOR_DAYS as usize);
    }
}
