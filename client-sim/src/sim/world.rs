//! [`World`]: the simulated world's state between days: people and their health, the last
//! 15 days of sessions, the agenda of timed events, and, when the app is on, the phones'
//! side ([`App`]): their chain followers, chaff schedules, pending batches and what the
//! sniffer adversary recorded. The simulator's ground truth is kept beside it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use en_protocol::wire::config::RiskConfig;
use en_protocol::UnixTime;
use rand::Rng;

use super::chaff::Chaff;
use super::config::SimConfig;
use super::epidemic::Health;
use super::error::SimError;
use super::events::{Agenda, Kind};
use super::follow::Downloader;
use super::matching::Published;
use super::outcome::{DayStats, Tally};
use super::phases::Phases;
use super::population::Population;
use super::server::SimServer;
use super::sessions::DaySessions;
use super::sniffer::Sniffer;
use super::streams::Stream;
use super::timing::DAY;
use super::track::{Linkage, Track};
use super::EPOCH;

/// A deterministic world of people, phones and an epidemic, run a day at a time
/// ([`World::step_day`]); [`World::outcome`] reports on the days so far.
///
/// Everything random comes from named streams keyed by what they decide (`streams`): the
/// same configuration against a fresh server gives the same days, byte for byte, and a
/// world without the app ([`World::counterfactual`]) lives through the same contacts and
/// the same courses of infection, so the difference between the two is what the app did.
pub struct World {
    pub(super) cfg: SimConfig,
    pub(super) pop: Population,
    pub(super) health: Vec<Health>,
    /// Sessions that took place in the last 15 days, by day.
    pub(super) sessions: BTreeMap<u32, DaySessions>,
    pub(super) agenda: Agenda,
    /// A test result is awaited (no second test is booked meanwhile).
    pub(super) awaiting_result: Vec<bool>,
    pub(super) confirmed_day: Vec<Option<i32>>,
    /// The phones' side; `None` in a counterfactual world.
    pub(super) app: Option<App>,
    pub(super) tally: Tally,
    pub(super) daily: Vec<DayStats>,
    pub(super) phases: Phases,
}

/// The phones' side of the world, and the ground truth about it.
pub(super) struct App {
    /// The risk configuration the reference phone verified (all phones score with it).
    pub rc: RiskConfig,
    /// The phone whose downloads every app user's matching uses.
    pub reference: Downloader,
    /// Phones that download independently and must see the same batches.
    pub fetchers: Vec<Downloader>,
    pub chaff: Chaff,
    /// Published batches some phone has still to fetch, by publication number.
    pub published: BTreeMap<u32, Published>,
    pub next_batch: u32,
    /// For each phone with a fetch scheduled: the batches it will match then.
    pub pending: HashMap<u32, Vec<u32>>,
    /// Uploaded TEK → person (simulator's ground truth, never used by a phone).
    pub tek_owner: HashMap<[u8; 16], u32>,
    /// Times of each uploaded case: sample, result, upload, first publication.
    pub case_times: HashMap<u32, CaseTimes>,
    pub notified: Vec<bool>,
    /// Notified (contact, case) pairs with the time of the first notification.
    pub notified_pairs: BTreeMap<(u32, u32), i64>,
    /// Ground truth pairs (contact, case).
    pub close_pairs: BTreeSet<(u32, u32)>,
    /// Cases confirmed today, whose close contacts are recorded once the day is over.
    pub truth_due: Vec<u32>,
    /// Requests made by the reference phone and the fetchers.
    pub fetch_requests: u64,
    pub sniffer: Sniffer,
    /// Venue check-in, when the world's venues have QR codes (`venues`).
    pub venues: Option<Box<super::venues::Venues>>,
}

/// When things happened to an uploaded case, seconds since the simulation epoch.
#[derive(Debug, Clone, Copy)]
pub(super) struct CaseTimes {
    pub test: i64,
    pub result: i64,
    pub upload: i64,
    pub published: Option<i64>,
}

impl World {
    fn build(cfg: SimConfig, app: Option<App>, pop: Population) -> Result<Self, SimError> {
        let n = pop.people.len();
        let mut w = World {
            health: vec![Health::default(); n],
            sessions: BTreeMap::new(),
            agenda: Agenda::default(),
            awaiting_result: vec![false; n],
            confirmed_day: vec![None; n],
            app,
            tally: Tally::default(),
            daily: Vec::new(),
            phases: Phases::default(),
            pop,
            cfg,
        };
        let mut r = super::streams::rng(w.cfg.seed, Stream::Seeding, 0, 0);
        for _ in 0..w.cfg.initial() {
            let p = r.gen_range(0..n as u32);
            let back: i32 = r.gen_range(0..5);
            w.infect(p, -back);
        }
        if w.app.is_some() {
            let period = i64::from(w.cfg.timing.batch_period_seconds);
            for d in 0..i64::from(w.cfg.days) {
                for k in 1..=DAY / period {
                    w.agenda.push(d * DAY + k * period + 60, Kind::Batch, 0);
                }
            }
        }
        Ok(w)
    }

    /// Builds the population and the first infections from `cfg.seed`, sets the server's
    /// clock to day 0 and has the reference phone fetch the signed risk configuration.
    pub async fn new(cfg: SimConfig, server: &mut SimServer) -> Result<Self, SimError> {
        cfg.check()?;
        if server.batch_period_seconds() != cfg.timing.batch_period_seconds {
            return Err(SimError::Config(format!(
                "the server closes a batch every {} s but timing.batch_period_seconds is {}",
                server.batch_period_seconds(),
                cfg.timing.batch_period_seconds
            )));
        }
        let pop = Population::new(cfg.phones, cfg.adoption, &cfg.population, cfg.seed);
        let now = UnixTime(EPOCH);
        server.set_time(now)?;
        let follow = server.follower_config();
        let mut reference = Downloader::new("reference", follow.clone());
        let rc = reference.risk_config(&server.client, now).await?;
        let fetchers = (1..=cfg.extra_fetchers)
            .map(|i| Downloader::new(format!("fetcher {i}"), follow.clone()))
            .collect();
        let n = pop.people.len();
        let app = App {
            rc,
            reference,
            fetchers,
            chaff: Chaff::new(cfg.chaff_per_day, &pop.people, cfg.seed)?,
            published: BTreeMap::new(),
            next_batch: 0,
            pending: HashMap::new(),
            tek_owner: HashMap::new(),
            case_times: HashMap::new(),
            notified: vec![false; n],
            notified_pairs: BTreeMap::new(),
            close_pairs: BTreeSet::new(),
            truth_due: Vec::new(),
            fetch_requests: 0,
            sniffer: Sniffer::new(&cfg.sniffer, &pop, &cfg.population),
            venues: super::venues::Venues::new(&cfg, &pop, server)?.map(Box::new),
        };
        World::build(cfg, Some(app), pop)
    }

    /// The same world with the app switched off: the same people, contacts and courses of
    /// infection, no uploads, no notifications (and no server).
    pub fn counterfactual(cfg: SimConfig) -> Result<Self, SimError> {
        cfg.check()?;
        let pop = Population::new(cfg.phones, cfg.adoption, &cfg.population, cfg.seed);
        World::build(cfg, None, pop)
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

    /// Where the time went so far.
    pub fn phases(&self) -> &Phases {
        &self.phases
    }

    /// Whether the app is on (false in a counterfactual world).
    pub fn has_app(&self) -> bool {
        self.app.is_some()
    }

    /// Whether person `p` runs the app.
    pub fn runs_app(&self, p: u32) -> bool {
        self.pop.people[p as usize].app
    }

    /// Whether person `p` uploaded their keys.
    pub fn uploaded(&self, p: u32) -> bool {
        self.app
            .as_ref()
            .is_some_and(|a| a.case_times.contains_key(&p))
    }

    /// The tracks a sniffer adversary at the `k` busiest public places holds on person `p`
    /// over the last 14 days, when `linkage` says what was published about them (`None`
    /// in a counterfactual world, which has no phones to hear).
    pub fn sniffer_tracks(&self, p: u32, k: u32, linkage: Linkage) -> Option<Vec<Track>> {
        Some(self.app.as_ref()?.sniffer.tracks(p, k, linkage))
    }
}
