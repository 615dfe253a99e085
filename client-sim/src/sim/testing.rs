//! Tests and notifications: a result arrives (a positive one confirms and isolates the case
//! and, for app users who upload, schedules the upload); a notified person quarantines and
//! books a test. The costs of notifications are counted here: quarantine imposed on people
//! who were not infected when notified.

use super::events::Kind;
use super::outcome::DayStats;
use super::streams::{hash, unit, Stream};
use super::timing::DAY;
use super::world::World;

impl World {
    /// A test result for `p` arrives at `now`; the sample was taken at `test`.
    pub(super) fn result(&mut self, p: u32, now: i64, test: i64, st: &mut DayStats) {
        self.awaiting_result[p as usize] = false;
        let h = &mut self.health[p as usize];
        if self.confirmed_day[p as usize].is_some()
            || !h.tests_positive(test.div_euclid(DAY) as i32)
        {
            return;
        }
        let day = now.div_euclid(DAY) as i32;
        self.confirmed_day[p as usize] = Some(day);
        st.confirmed += 1;
        let iso = (self.cfg.epidemic.isolation_days * DAY as f64) as i64;
        h.isolate(now, iso);
        self.schedule_interview(p, now);
        let seed = self.cfg.seed;
        let ep = &self.cfg.epidemic;
        if let Some(app) = &mut self.app {
            app.truth_due.push(p);
            let uploads = unit(seed, Stream::Upload, u64::from(p), 0) < ep.p_upload;
            if self.pop.people[p as usize].app && uploads {
                let delay = self.cfg.timing.upload_delay.seconds(hash(
                    seed,
                    Stream::Upload,
                    u64::from(p),
                    1,
                ));
                self.agenda
                    .push(now + delay, Kind::Upload { test, result: now }, p);
            }
        }
    }

    /// Phone `p` notified its user at `now`, because of `cases` (ground truth, for the
    /// bookkeeping only): they quarantine and may book a test.
    pub(super) fn notified(&mut self, p: u32, now: i64, cases: &[u32], st: &mut DayStats) {
        let seed = self.cfg.seed;
        let ep = &self.cfg.epidemic;
        let Some(app) = &mut self.app else {
            return;
        };
        st.notifications += 1;
        if !app.notified[p as usize] {
            st.notified += 1;
            app.notified[p as usize] = true;
        }
        for &c in cases {
            app.notified_pairs.entry((p, c)).or_insert(now);
        }
        let h = &mut self.health[p as usize];
        // The day's infections are drawn after its events (`day`), so this is whether they
        // were infected before the notification.
        let infected = h.infected.is_some();
        if ep.notified_isolate {
            let added = h.isolate(now, (ep.quarantine_days * DAY as f64) as i64);
            let days = added as f64 / DAY as f64;
            st.quarantine_days += days;
            if !infected {
                st.quarantine_days_uninfected += days;
            }
        }
        if !infected {
            st.notifications_uninfected += 1;
        }
        // The decision and delays are keyed by the person and the notification's time:
        // the only draws a notification creates.
        let key = now as u64;
        if self.confirmed_day[p as usize].is_none()
            && !self.awaiting_result[p as usize]
            && unit(seed, Stream::NotifiedTest, u64::from(p), key) < ep.p_test_when_notified
        {
            let t = &self.cfg.timing;
            let test = now
                + t.notified_test_delay.seconds(hash(
                    seed,
                    Stream::NotifiedTest,
                    u64::from(p),
                    key ^ 1,
                ));
            let result = test
                + t.test_result_delay.seconds(hash(
                    seed,
                    Stream::NotifiedTest,
                    u64::from(p),
                    key ^ 2,
                ));
            self.awaiting_result[p as usize] = true;
            self.agenda.push(result, Kind::Result { test }, p);
        }
    }
}
