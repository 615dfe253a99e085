//! The regions a phone follows besides its home region: one key-chain follower per visited
//! region, each with the day the person was last there. A region is added (or its visit
//! refreshed) when the person enters it, and dropped [`VISITED_REGION_RETENTION_DAYS`] after
//! the last visit: by then no key published there can still match a scan of that visit.

use super::{FollowerConfig, KeyFollower};
use crate::error::Error;
use crate::time::{UnixTime, DAY_SECONDS};
use crate::wire::Region;

/// Days a visited region is still followed after the last day the person was there (as long
/// as scans are kept: a case met there may upload up to 14 days later).
pub const VISITED_REGION_RETENTION_DAYS: u64 = 14;
/// Most visited regions a phone follows at once (and its stored state may hold). As many as an
/// upload may name (`visited_regions`, ≤ 16).
pub const MAX_VISITED_REGIONS: usize = 16;

/// One visited region's follower and last visit.
#[derive(Debug, Clone)]
pub(super) struct Visited {
    pub(super) follower: KeyFollower,
    /// UTC day number of the last day the person was in the region.
    pub(super) last_visit_day: u64,
}

impl Visited {
    pub(super) fn region(&self) -> &Region {
        &self.follower.config().region
    }
}

/// Visited regions, by increasing region code (the stored order).
#[derive(Debug, Clone, Default)]
pub(super) struct VisitedRegions {
    pub(super) regions: Vec<Visited>,
}

impl VisitedRegions {
    fn position(&self, region: &Region) -> Result<usize, usize> {
        self.regions
            .binary_search_by(|v| v.region().as_str().cmp(region.as_str()))
    }

    /// Starts following `config.region` (or refreshes its last visit to `now`'s day; a new
    /// `config` replaces the old one, the chain state stays). `home` is refused: it is always
    /// followed.
    pub(super) fn visit(
        &mut self,
        home: &Region,
        config: FollowerConfig,
        now: UnixTime,
    ) -> Result<(), Error> {
        if &config.region == home {
            return Err(Error::Usage(
                "the home region is always followed: visit another region",
            ));
        }
        let day = now.0 / DAY_SECONDS;
        match self.position(&config.region) {
            Ok(at) => {
                let v = &mut self.regions[at];
                let state = *v.follower.state();
                v.follower = KeyFollower::resume(config, state);
                v.last_visit_day = v.last_visit_day.max(day);
            }
            Err(at) => {
                if self.regions.len() >= MAX_VISITED_REGIONS {
                    return Err(Error::Usage(
                        "the phone already follows 16 visited regions: the oldest go 14 days \
                         after the last visit",
                    ));
                }
                self.regions.insert(
                    at,
                    Visited {
                        follower: KeyFollower::new(config),
                        last_visit_day: day,
                    },
                );
            }
        }
        Ok(())
    }

    /// Drops regions last visited more than [`VISITED_REGION_RETENTION_DAYS`] before `now`'s day.
    pub(super) fn prune(&mut self, now: UnixTime) {
        let oldest = (now.0 / DAY_SECONDS).saturating_sub(VISITED_REGION_RETENTION_DAYS);
        self.regions.retain(|v| v.last_visit_day >= oldest);
    }

    pub(super) fn get(&self, region: &Region) -> Option<&Visited> {
        self.position(region).ok().map(|at| &self.regions[at])
    }

    pub(super) fn get_mut(&mut self, region: &Region) -> Option<&mut Visited> {
        self.position(region).ok().map(|at| &mut self.regions[at])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use rand_chacha::rand_core::SeedableRng;

    fn config(region: &str) -> FollowerConfig {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let export = SigningKey::generate(&mut rng);
        FollowerConfig::new(export.public_key().into(), Region::new(region).unwrap())
    }

    const DAY0: u64 = 19_000 * DAY_SECONDS;

    #[test]
    fn visits_are_sorted_refreshed_and_pruned_after_14_days() {
        let home = Region::new("VN-HN").unwrap();
        let mut v = VisitedRegions::default();
        v.visit(&home, config("VN-KG"), UnixTime(DAY0)).unwrap();
        v.visit(&home, config("TH"), UnixTime(DAY0 + 3 * DAY_SECONDS))
            .unwrap();
        let names: Vec<_> = v.regions.iter().map(|r| r.region().as_str()).collect();
        assert_eq!(names, ["TH", "VN-KG"]);
        // A second visit to VN-KG five days later moves its retention.
        v.visit(&home, config("VN-KG"), UnixTime(DAY0 + 5 * DAY_SECONDS))
            .unwrap();
        assert_eq!(
            v.get(&Region::new("VN-KG").unwrap())
                .unwrap()
                .last_visit_day,
            19_005
        );
        // 14 days after TH's visit it is still followed; on the 15th it goes.
        v.prune(UnixTime(DAY0 + 17 * DAY_SECONDS));
        assert_eq!(v.regions.len(), 2);
        v.prune(UnixTime(DAY0 + 18 * DAY_SECONDS));
        let names: Vec<_> = v.regions.iter().map(|r| r.region().as_str()).collect();
        assert_eq!(names, ["VN-KG"]);
        v.prune(UnixTime(DAY0 + 20 * DAY_SECONDS));
        assert!(v.regions.is_empty());
    }

    #[test]
    fn home_and_a_17th_region_are_refused() {
        let home = Region::new("VN-HN").unwrap();
        let mut v = VisitedRegions::default();
        let e = v.visit(&home, config("VN-HN"), UnixTime(DAY0)).unwrap_err();
        assert_eq!(e.code(), "usage");
        for i in 0..MAX_VISITED_REGIONS {
            v.visit(&home, config(&format!("R{i:02}")), UnixTime(DAY0))
                .unwrap();
        }
        let e = v.visit(&home, config("ZZ"), UnixTime(DAY0)).unwrap_err();
        assert_eq!(e.code(), "usage");
        // Refreshing one already followed is not a new region.
        v.visit(&home, config("R03"), UnixTime(DAY0 + DAY_SECONDS))
            .unwrap();
        assert_eq!(v.regions.len(), MAX_VISITED_REGIONS);
    }
}
