//! [`TimingParams`]: when things happen. The server's batch period, each phone's own fetch
//! schedule, and the delays from symptoms to a test, from a test to its result, from a
//! result to the upload and from a notification to a test, each from a [`Delay`]
//! distribution.

use serde::{Deserialize, Serialize};

use super::ble::normal;
use super::error::SimError;
use super::streams::{hash, unit, Stream};

/// Seconds in a day.
pub(super) const DAY: i64 = 86_400;

/// A delay distribution, in hours (`kind = "fixed" | "uniform" | "lognormal"` in a scenario).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum Delay {
    /// Always the same.
    Fixed {
        /// Hours.
        hours: f64,
    },
    /// Uniform between two bounds.
    Uniform {
        /// Shortest, hours.
        min_hours: f64,
        /// Longest, hours.
        max_hours: f64,
    },
    /// Log-normal: the median and the standard deviation of the logarithm; long delays are
    /// cut at 14 days.
    Lognormal {
        /// Median, hours.
        median_hours: f64,
        /// Standard deviation of ln(hours).
        sigma: f64,
    },
}

/// Longest delay drawn (a log-normal's tail is cut here).
const MAX_DELAY_HOURS: f64 = 14.0 * 24.0;

impl Delay {
    /// The delay in seconds for the 64-bit hash `h` (a draw keyed by what it delays).
    pub(super) fn seconds(&self, h: u64) -> i64 {
        let u = (h >> 11) as f64 / (1u64 << 53) as f64;
        let hours = match *self {
            Delay::Fixed { hours } => hours,
            Delay::Uniform {
                min_hours,
                max_hours,
            } => min_hours + u * (max_hours - min_hours),
            Delay::Lognormal {
                median_hours,
                sigma,
            } => median_hours * (sigma * normal(h)).exp(),
        };
        (hours.clamp(0.0, MAX_DELAY_HOURS) * 3600.0).round() as i64
    }

    /// The mean, hours (before the 14-day cut).
    pub fn mean_hours(&self) -> f64 {
        match *self {
            Delay::Fixed { hours } => hours,
            Delay::Uniform {
                min_hours,
                max_hours,
            } => (min_hours + max_hours) / 2.0,
            Delay::Lognormal {
                median_hours,
                sigma,
            } => median_hours * (sigma * sigma / 2.0).exp(),
        }
    }

    fn check(&self, name: &str) -> Result<(), SimError> {
        let ok = match *self {
            Delay::Fixed { hours } => hours.is_finite() && hours >= 0.0,
            Delay::Uniform {
                min_hours,
                max_hours,
            } => {
                min_hours.is_finite()
                    && max_hours.is_finite()
                    && 0.0 <= min_hours
                    && min_hours <= max_hours
            }
            Delay::Lognormal {
                median_hours,
                sigma,
            } => {
                median_hours.is_finite() && sigma.is_finite() && median_hours > 0.0 && sigma >= 0.0
            }
        };
        if ok {
            Ok(())
        } else {
            Err(SimError::Config(format!(
                "timing.{name}: hours must be finite and non-negative (min ≤ max; median > 0)"
            )))
        }
    }
}

/// When things happen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TimingParams {
    /// The server closes a batch every this many seconds (must divide 86,400).
    pub batch_period_seconds: u32,
    /// A phone fetches new batches every this many seconds…
    pub fetch_interval_seconds: u32,
    /// …at a phase of its own, uniform in [offset, offset + spread)…
    pub fetch_offset_seconds: u32,
    /// …(0: every phone at the same phase)…
    pub fetch_phase_spread_seconds: u32,
    /// …plus a jitter drawn anew for each fetch, uniform in [0, jitter).
    pub fetch_jitter_seconds: u32,
    /// From symptom onset to the test, for people who seek one.
    pub seek_test_delay: Delay,
    /// From a test to its result.
    pub test_result_delay: Delay,
    /// From a positive result to the upload (app users who upload).
    pub upload_delay: Delay,
    /// From a notification to the test (notified people who get tested).
    pub notified_test_delay: Delay,
}

impl Default for TimingParams {
    /// Batches every 2 hours (DP-3T's release buckets), phones fetching every 4 hours at
    /// phases of their own with up to an hour's jitter; a test within two days of symptoms,
    /// results after about a day, uploads after a few hours (some after a day or more).
    fn default() -> Self {
        TimingParams {
            batch_period_seconds: 7_200,
            fetch_interval_seconds: 14_400,
            fetch_offset_seconds: 0,
            fetch_phase_spread_seconds: 14_400,
            fetch_jitter_seconds: 3_600,
            seek_test_delay: Delay::Uniform {
                min_hours: 0.0,
                max_hours: 48.0,
            },
            test_result_delay: Delay::Lognormal {
                median_hours: 24.0,
                sigma: 0.4,
            },
            upload_delay: Delay::Lognormal {
                median_hours: 4.0,
                sigma: 1.0,
            },
            notified_test_delay: Delay::Uniform {
                min_hours: 0.0,
                max_hours: 24.0,
            },
        }
    }
}

impl TimingParams {
    /// Rejects values the model cannot use.
    pub(super) fn check(&self) -> Result<(), SimError> {
        let p = self.batch_period_seconds;
        if p < 60 || !(DAY as u32).is_multiple_of(p) {
            return Err(SimError::Config(format!(
                "timing.batch_period_seconds must divide 86400 and be at least 60, got {p}"
            )));
        }
        if self.fetch_interval_seconds < 60
            || self.fetch_jitter_seconds > self.fetch_interval_seconds
        {
            return Err(SimError::Config(
                "timing.fetch_interval_seconds must be at least 60 and at least the jitter".into(),
            ));
        }
        self.seek_test_delay.check("seek_test_delay")?;
        self.test_result_delay.check("test_result_delay")?;
        self.upload_delay.check("upload_delay")?;
        self.notified_test_delay.check("notified_test_delay")
    }

    /// The time of phone `p`'s `k`-th fetch, seconds since the simulation's epoch.
    fn fetch_time(&self, seed: u64, p: u32, k: i64) -> i64 {
        let phase = unit(seed, Stream::Fetch, u64::from(p), u64::MAX)
            * f64::from(self.fetch_phase_spread_seconds);
        let jitter = (hash(seed, Stream::Fetch, u64::from(p), k as u64)
            % (u64::from(self.fetch_jitter_seconds) + 1)) as i64;
        i64::from(self.fetch_offset_seconds)
            + phase as i64
            + k * i64::from(self.fetch_interval_seconds)
            + jitter
    }

    /// Phone `p`'s first fetch strictly after `t` (fetch times increase with k because the
    /// jitter is at most the interval).
    pub(super) fn next_fetch(&self, seed: u64, p: u32, t: i64) -> i64 {
        let i = i64::from(self.fetch_interval_seconds);
        let mut k = (t
            - i64::from(self.fetch_offset_seconds)
            - i64::from(self.fetch_phase_spread_seconds)
            - i64::from(self.fetch_jitter_seconds))
        .div_euclid(i)
            - 1;
        loop {
            let f = self.fetch_time(seed, p, k);
            if f > t {
                return f;
            }
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetches_follow_the_schedule() {
        let t = TimingParams::default();
        for p in 0..50 {
            let mut now = -1;
            let mut times = Vec::new();
            for _ in 0..12 {
                now = t.next_fetch(9, p, now);
                times.push(now);
            }
            for w in times.windows(2) {
                let gap = w[1] - w[0];
                assert!(gap > 0 && gap <= 14_400 + 3_600, "{gap}");
            }
            assert!(times[0] < 14_400 + 3_600 + 14_400);
        }
    }

    #[test]
    fn delays_have_their_distribution() {
        let d = Delay::Lognormal {
            median_hours: 24.0,
            sigma: 0.5,
        };
        let mut v: Vec<i64> = (0..4001)
            .map(|i| d.seconds(super::super::ble::mix(i)))
            .collect();
        v.sort_unstable();
        let median_h = v[2000] as f64 / 3600.0;
        assert!((median_h - 24.0).abs() < 1.5, "{median_h}");
        let u = Delay::Uniform {
            min_hours: 1.0,
            max_hours: 3.0,
        };
        assert!((0..100).all(|i| (3600..=10_800).contains(&u.seconds(super::super::ble::mix(i)))));
    }
}
