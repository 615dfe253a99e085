//! [`World`]: the simulated world's state between days: people and their phones, their
//! health, the last 15 days of sessions, the phones' chain followers and chaff schedules,
//! and the simulator's ground truth beside them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use en_protocol::wire::config::RiskConfig;
use en_protocol::UnixTime;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::chaff::Chaff;
use super::config::SimConfig;
use super::epidemic::Health;
use super::error::SimError;
use super::follow::Downloader;
use super::keys::Ciphers;
use super::outcome::DayStats;
use super::population::Population;
use super::server::SimServer;
use super::sessions::DaySessions;
use super::EPOCH;

/// A deterministic world of people, phones and an epidemic, run a day at a time against a
/// server ([`World::step_day`]); [`World::outcome`] reports on the days so far.
///
/// Everything random comes from ChaCha20 streams or SplitMix hashes derived from the seed:
/// the same configuration against a fresh server gives the same days, byte for byte.
pub struct World {
    pub(super) cfg: SimConfig,
    pub(super) pop: Population,
    pub(super) health: Vec<Health>,
    /// Sessions of the last 15 days, by day.
    pub(super) sessions: BTreeMap<u32, DaySessions>,
    /// RPIK ciphers of app users, by day.
    pub(super) ciphers: Ciphers,
    /// The risk configuration the reference phone verified (all phones score with it).
    pub(super) rc: RiskConfig,
    /// The phone whose downloads every app user's matching uses.
    pub(super) reference: Downloader,
    /// Phones that download independently and must see the same batches.
    pub(super) fetchers: Vec<Downloader>,
    pub(super) chaff: Chaff,
    /// Uploaded TEK → person (simulator's ground truth, never used by a phone).
    pub(super) tek_owner: HashMap<[u8; 16], u32>,
    pub(super) confirmed_day: Vec<Option<i32>>,
    pub(super) notified: Vec<bool>,
    /// Notified (contact, case) pairs with the day.
    pub(super) notified_pairs: BTreeMap<(u32, u32), u32>,
    /// Ground truth pairs (contact, case).
    pub(super) close_pairs: BTreeSet<(u32, u32)>,
    pub(super) daily: Vec<DayStats>,
    /// Requests made by the reference phone and the fetchers.
    pub(super) fetch_requests: u64,
}

impl World {
    /// Builds the population and the first infections from `cfg.seed`, sets the server's
    /// clock to day 0 and has the reference phone fetch the signed risk configuration.
    pub async fn new(cfg: SimConfig, server: &mut SimServer) -> Result<Self, SimError> {
        let mut rng = ChaCha20Rng::seed_from_u64(cfg.seed);
        let pop = Population::new(cfg.phones, cfg.adoption, &mut rng);
        let n = pop.people.len();
        let mut health = vec![Health::default(); n];
        for _ in 0..cfg.initial_infections.min(n) {
            let p = rng.gen_range(0..n);
            let back = rng.gen_range(0..5);
            health[p].infect(-back, &cfg.epidemic, &mut rng);
        }
        let now = UnixTime(EPOCH);
        server.set_time(now)?;
        let follow = server.follower_config();
        let mut reference = Downloader::new("reference", follow.clone());
        let rc = reference.risk_config(&server.client, now).await?;
        let fetchers = (1..=cfg.extra_fetchers)
            .map(|i| Downloader::new(format!("fetcher {i}"), follow.clone()))
            .collect();
        let chaff = Chaff::new(cfg.chaff_per_day, &pop.people, cfg.seed)?;
        Ok(World {
            health,
            sessions: BTreeMap::new(),
            ciphers: Ciphers::default(),
            rc,
            reference,
            fetchers,
            chaff,
            tek_owner: HashMap::new(),
            confirmed_day: vec![None; n],
            notified: vec![false; n],
            notified_pairs: BTreeMap::new(),
            close_pairs: BTreeSet::new(),
            daily: Vec::new(),
            fetch_requests: 0,
            pop,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Days simulated so far (the next [`World::step_day`] simulates this day).
    pub fn day(&self) -> u32 {
        self.daily.len() as u32
    }

    /// The numbers of each day simulated so far.
    pub fn daily(&self) -> &[DayStats] {
        &self.daily
    }
}
