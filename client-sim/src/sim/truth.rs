//! Ground truth: who really was a close contact of a confirmed case, by the simulator's own
//! knowledge of sessions (never used by a phone), to measure precision and recall.

use std::collections::BTreeMap;

use en_protocol::wire::config::{Infectiousness, RiskConfig};

use super::epidemic::Health;
use super::world::World;

/// Whether a case with this course was infectious on `day` by the risk configuration's
/// days-since-onset map (ground truth and scoring use the same infectious days).
pub(super) fn infectious_by_config(h: &Health, day: i32, rc: &RiskConfig) -> bool {
    match h.onset {
        Some(o) => {
            let d = day - o;
            d.abs() <= 14 && rc.infectiousness_by_dsos[(d + 14) as usize] != Infectiousness::None
        }
        None => rc.infectiousness_when_missing != Infectiousness::None,
    }
}

impl World {
    /// Ground truth for the cases confirmed on `day`, once its sessions took place: everyone
    /// who spent ≥ close_minutes within close_metres of the case on one day of its last 14
    /// while it was infectious.
    pub(super) fn record_close_contacts(&mut self, day: u32) {
        let Some(app) = &mut self.app else {
            return;
        };
        let limit = u64::from(self.cfg.close_minutes) * 60;
        let cm = (self.cfg.close_metres * 100.0) as u16;
        for case in std::mem::take(&mut app.truth_due) {
            for d in day.saturating_sub(13)..=day {
                if !infectious_by_config(&self.health[case as usize], d as i32, &app.rc) {
                    continue;
                }
                let Some(ds) = self.sessions.get(&d) else {
                    continue;
                };
                let mut secs: BTreeMap<u32, u64> = BTreeMap::new();
                for s in ds.of(case) {
                    if s.distance_cm <= cm {
                        *secs.entry(if s.a == case { s.b } else { s.a }).or_default() +=
                            u64::from(s.duration);
                    }
                }
                for (other, t) in secs {
                    if t >= limit {
                        app.close_pairs.insert((other, case));
                    }
                }
            }
        }
    }
}
