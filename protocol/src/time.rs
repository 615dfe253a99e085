//! Time as the protocol sees it: Unix seconds and 10-minute ENIntervalNumbers.
//!
//! The crate never reads the clock; callers pass `now` in. This keeps every function
//! deterministic and lets the simulator run on a virtual clock.

/// Seconds in one ENInterval (GAEN spec: 10 minutes).
pub const INTERVAL_SECONDS: u64 = 600;
/// Intervals per TEK rolling period (GAEN spec: 144, one day).
pub const TEK_ROLLING_PERIOD: u32 = 144;
/// Seconds per day.
pub const DAY_SECONDS: u64 = 86_400;

/// A point in time, seconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// The ENIntervalNumber containing this time.
    pub fn interval(self) -> IntervalNumber {
        IntervalNumber::from_unix(self)
    }
    /// This time plus `secs` seconds (saturating).
    pub fn plus(self, secs: u64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }
    /// This time minus `secs` seconds (saturating at the epoch).
    pub fn minus(self, secs: u64) -> UnixTime {
        UnixTime(self.0.saturating_sub(secs))
    }
    /// The UTC day number (days since the epoch).
    pub fn day(self) -> u64 {
        self.0 / DAY_SECONDS
    }
}

/// ENIntervalNumber: the number of 10-minute intervals since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct IntervalNumber(pub u32);

impl IntervalNumber {
    /// The interval containing `t`. Saturates at `u32::MAX` (year 83,000).
    pub fn from_unix(t: UnixTime) -> IntervalNumber {
        IntervalNumber(u32::try_from(t.0 / INTERVAL_SECONDS).unwrap_or(u32::MAX))
    }
    /// The first second of this interval.
    pub fn start(self) -> UnixTime {
        UnixTime(u64::from(self.0) * INTERVAL_SECONDS)
    }
    /// The first interval of the UTC day containing this interval (a valid TEK start).
    pub fn day_start(self) -> IntervalNumber {
        IntervalNumber(self.0 - self.0 % TEK_ROLLING_PERIOD)
    }
    /// The UTC day number of this interval.
    pub fn day(self) -> u32 {
        self.0 / TEK_ROLLING_PERIOD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_of_published_vector() {
        // gaen-crypto.json: key generated at 1585785600 has first interval 2642976.
        assert_eq!(
            UnixTime(1_585_785_600).interval(),
            IntervalNumber(2_642_976)
        );
        assert_eq!(IntervalNumber(2_642_976).start(), UnixTime(1_585_785_600));
        assert_eq!(
            UnixTime(1_585_785_599).interval(),
            IntervalNumber(2_642_975)
        );
        assert_eq!(
            IntervalNumber(2_642_976 + 143).day_start(),
            IntervalNumber(2_642_976)
        );
        assert_eq!(
            IntervalNumber(2_642_976 + 144).day_start(),
            IntervalNumber(2_643_120)
        );
    }
}
