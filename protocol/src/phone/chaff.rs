//! [`ChaffSchedule`]: when a phone sends a fake upload, so that uploading is not, by itself,
//! a sign of a positive test.

use rand_core::CryptoRngCore;

use crate::error::Error;
use crate::time::{UnixTime, DAY_SECONDS};

/// `2^53`: a probability is compared against 53 random bits (an `f64`'s precision).
const UNIT: u64 = 1 << 53;

/// When one phone sends fake uploads ("chaff"), sans IO: time and randomness are arguments.
///
/// **The rule.** Each UTC day, with probability `per_day`, the phone sends one fake upload at
/// a second of the day drawn uniformly. A real upload replaces that day's fake if the fake is
/// still to come ([`Self::handle_real_upload`]). The server answers a fake exactly as it
/// answers a real upload (same padded size, same work, same answer length); this type only
/// decides *when*.
///
/// **Why.** An observer of the network or of the server's front end who can tell phones
/// apart (by address, by timing) sees each phone upload on about `per_day` of its days,
/// whether or not its owner ever tested positive; a real upload is one of those uploads,
/// not an event of its own. Replacing the day's fake keeps a phone at no more than one
/// upload a day whenever the fake had not gone yet, and lowers the lifetime excess a real
/// upload causes from 1 to `1 − per_day` on average. Planning a whole day at once, at a
/// uniform second, gives fakes no time-of-day pattern of their own.
///
/// **Limits** (what it does not hide):
/// - The day of a real upload carries an upload with certainty instead of probability
///   `per_day`; an observer who links one phone's uploads over many days sees, on average,
///   `1 − per_day` more of them than chance explains. Larger rates hide better and cost
///   more (data, battery, server work).
/// - If the day's fake has already gone, the real upload is a second upload that day.
/// - Real uploads follow people's days (test results arrive in office hours); fakes are
///   uniform over 24 h. Hiding that needs the real upload to wait for a planned slot, which
///   would delay every contact's notification: not done here.
/// - Totals are not hidden: the number of uploads a day still rises with the number of
///   cases (by `1 − per_day` per case). Fakes hide *who* uploads, not *how many*.
/// - A slot already past when the day is planned (the phone was off or asleep) is skipped,
///   not sent late: a burst of late fakes at wake-up would be a pattern of its own. A phone
///   that is often off therefore sends fewer fakes, as it would send fewer real uploads.
///
/// The randomness must be unpredictable to the observer (a CSPRNG on a real phone); a
/// simulation passes a seeded one to stay reproducible.
///
/// ```
/// use en_protocol::phone::ChaffSchedule;
/// use en_protocol::UnixTime;
/// use rand_chacha::rand_core::SeedableRng;
///
/// let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
/// let mut chaff = ChaffSchedule::new(1.0).unwrap(); // one fake every day
/// let morning = UnixTime(1_700_006_400); // a UTC midnight
/// chaff.handle_timeout(morning, &mut rng);
/// let at = chaff.planned().expect("rate 1 plans a fake every day");
/// assert_eq!(chaff.poll_timeout(), Some(at)); // wake then
/// assert!(chaff.poll_fake(at)); // due at its time, once
/// assert!(!chaff.poll_fake(at));
///
/// // Tomorrow a real upload comes first and takes the fake's place.
/// let tomorrow = morning.plus(86_400);
/// chaff.handle_timeout(tomorrow, &mut rng);
/// assert!(chaff.handle_real_upload(tomorrow));
/// assert_eq!(chaff.planned(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaffSchedule {
    /// `per_day × 2^53`: a day gets a fake when 53 random bits fall below it.
    threshold: u64,
    /// The UTC day last planned.
    day: Option<u64>,
    /// That day's fake, if one is planned and neither sent nor replaced.
    due: Option<UnixTime>,
}

impl ChaffSchedule {
    /// A schedule of one fake upload on a fraction `per_day` of days (0 ≤ `per_day` ≤ 1).
    pub fn new(per_day: f64) -> Result<Self, Error> {
        if !(0.0..=1.0).contains(&per_day) {
            return Err(Error::Usage(
                "a chaff rate is a probability per day, between 0 and 1",
            ));
        }
        Ok(ChaffSchedule {
            threshold: (per_day * UNIT as f64) as u64,
            day: None,
            due: None,
        })
    }

    /// The probability of a fake upload on a given day.
    pub fn per_day(&self) -> f64 {
        self.threshold as f64 / UNIT as f64
    }

    /// Plans the day of `now` if it was not planned yet (call on every wake-up; a day is
    /// planned once, and a clock set back never replans an earlier day). Each planning
    /// draws exactly two 64-bit numbers from `rng`, whatever it decides.
    pub fn handle_timeout(&mut self, now: UnixTime, rng: &mut impl CryptoRngCore) {
        let today = now.day();
        if self.day.is_some_and(|d| d >= today) {
            return;
        }
        let send = rng.next_u64() >> 11 < self.threshold;
        // A uniform second of the day: the high half of a 64×64-bit product (bias < 2^-47).
        let second = ((u128::from(rng.next_u64()) * u128::from(DAY_SECONDS)) >> 64) as u64;
        let at = UnixTime(today * DAY_SECONDS + second);
        self.day = Some(today);
        self.due = (send && at >= now).then_some(at);
    }

    /// The fake planned for the day last planned, if it is still to be sent.
    pub fn planned(&self) -> Option<UnixTime> {
        self.due
    }

    /// When to wake next: the planned fake, else the start of the next day (to plan it).
    /// `None` before the first [`Self::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        let next_day = UnixTime((self.day? + 1) * DAY_SECONDS);
        Some(self.due.map_or(next_day, |t| t.min(next_day)))
    }

    /// True, once, when the planned fake is due at `now`: send it then. A fake of an earlier
    /// day that was never sent is dropped, not sent late.
    pub fn poll_fake(&mut self, now: UnixTime) -> bool {
        match self.due {
            Some(t) if t.day() != now.day() => {
                self.due = None;
                false
            }
            Some(t) if t <= now => {
                self.due = None;
                true
            }
            _ => false,
        }
    }

    /// A real upload is being sent at `now`: it takes the place of the day's fake if that is
    /// still to come. Returns true if it replaced one.
    pub fn handle_real_upload(&mut self, now: UnixTime) -> bool {
        match self.due {
            Some(t) if t.day() == now.day() => {
                self.due = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    const MIDNIGHT: u64 = 1_700_006_400;

    fn at(day: u64, second: u64) -> UnixTime {
        UnixTime(MIDNIGHT + day * DAY_SECONDS + second)
    }

    #[test]
    fn rates_outside_a_probability_are_refused() {
        for p in [-0.1, 1.01, f64::NAN, f64::INFINITY] {
            assert!(ChaffSchedule::new(p).is_err(), "{p}");
        }
        assert_eq!(ChaffSchedule::new(0.25).unwrap().per_day(), 0.25);
    }

    #[test]
    fn same_rng_same_schedule() {
        let plan = |seed| {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let mut s = ChaffSchedule::new(0.5).unwrap();
            (0..50)
                .map(|d| {
                    s.handle_timeout(at(d, 0), &mut rng);
                    s.planned()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(plan(3), plan(3));
        assert_ne!(plan(3), plan(4));
    }

    #[test]
    fn rate_and_time_of_day_follow_the_rule() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut s = ChaffSchedule::new(0.1).unwrap();
        let days = 20_000;
        let mut fakes = 0;
        let mut hours = [0u32; 24];
        for d in 0..days {
            s.handle_timeout(at(d, 0), &mut rng);
            if let Some(t) = s.planned() {
                assert_eq!(t.day(), at(d, 0).day(), "a fake lies in its own day");
                fakes += 1;
                hours[((t.0 % DAY_SECONDS) / 3600) as usize] += 1;
            }
        }
        // 2000 expected, standard deviation about 42.
        assert!(
            (1800..=2200).contains(&fakes),
            "{fakes} fakes in {days} days"
        );
        // About 83 per hour: none empty, none more than twice the mean.
        assert!(hours.iter().all(|&h| (20..=170).contains(&h)), "{hours:?}");
        // Never and always.
        let mut never = ChaffSchedule::new(0.0).unwrap();
        let mut always = ChaffSchedule::new(1.0).unwrap();
        for d in 0..1000 {
            never.handle_timeout(at(d, 0), &mut rng);
            always.handle_timeout(at(d, 0), &mut rng);
            assert!(never.planned().is_none());
            assert!(always.planned().is_some());
        }
    }

    #[test]
    fn a_day_is_planned_once_and_its_fake_sent_once() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut s = ChaffSchedule::new(1.0).unwrap();
        assert_eq!(s.poll_timeout(), None);
        s.handle_timeout(at(0, 0), &mut rng);
        let t = s.planned().unwrap();
        assert_eq!(s.poll_timeout(), Some(t));
        // Waking again the same day (or with the clock set back) changes nothing.
        s.handle_timeout(at(0, 0), &mut rng);
        s.handle_timeout(UnixTime(MIDNIGHT - 5), &mut rng);
        assert_eq!(s.planned(), Some(t));
        if t > at(0, 0) {
            assert!(!s.poll_fake(UnixTime(t.0 - 1)));
        }
        assert!(s.poll_fake(t));
        assert!(!s.poll_fake(t));
        assert_eq!(s.poll_timeout(), Some(at(1, 0)), "next: plan tomorrow");
    }

    #[test]
    fn a_real_upload_replaces_the_days_fake_if_still_to_come() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut s = ChaffSchedule::new(1.0).unwrap();
        s.handle_timeout(at(0, 0), &mut rng);
        let t = s.planned().unwrap();
        assert!(s.handle_real_upload(at(0, 0)));
        assert!(!s.poll_fake(t), "the replaced fake is not sent");
        // Once the day's fake has gone, a real upload replaces nothing.
        s.handle_timeout(at(1, 0), &mut rng);
        let t = s.planned().unwrap();
        assert!(s.poll_fake(t));
        assert!(!s.handle_real_upload(t));
        // A real upload on another day leaves this day's fake alone.
        s.handle_timeout(at(2, 0), &mut rng);
        assert!(!s.handle_real_upload(at(1, 80_000)));
        assert!(s.planned().is_some());
    }

    #[test]
    fn missed_slots_are_skipped_not_sent_late() {
        // Planned late in the day: an earlier slot is skipped.
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let mut skipped = 0;
        for d in 0..200 {
            let mut s = ChaffSchedule::new(1.0).unwrap();
            s.handle_timeout(at(d, 43_200), &mut rng);
            match s.planned() {
                Some(t) => assert!(t >= at(d, 43_200)),
                None => skipped += 1,
            }
        }
        assert!(
            (60..=140).contains(&skipped),
            "{skipped} of 200 half-days skipped"
        );
        // A fake never sent on its day is dropped the next day.
        let mut s = ChaffSchedule::new(1.0).unwrap();
        s.handle_timeout(at(0, 0), &mut rng);
        assert!(!s.poll_fake(at(1, 10)));
        assert!(s.planned().is_none());
    }
}
