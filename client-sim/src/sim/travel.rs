//! Travel between two regions (issue #14): two in-process servers, VN-HN and VN-KG, each with
//! its own export key and health authority; people with a home region, some of whom spend
//! a trip of a few days in the other region. Every phone is a real [`Phone`] (keys, scans,
//! followers, matching, scoring), every case uploads to its home region's server, every phone
//! syncs from the servers over TLS ([`en_client::regions::sync_regions`]).
//!
//! **Recall** is the fraction of the people exposed to a case (at least one contact with a
//! case on a day the case's key is uploaded; ground truth kept by the simulator) whose phone
//! notifies. It is measured in the [`Condition`]s of the issue:
//! - (a) [`Condition::HomeOnly`]: phones follow their home region only, servers not federated;
//! - (b) [`Condition::FollowVisited`]: phones follow every region they visited (the trip's
//!   region from the first day of the trip);
//! - (c) [`Condition::Federation`]: the servers are federated (spec/federation.md): each
//!   publishes a federation chain for the other region and imports the other's chain for
//!   its own; cases name the region they visited in their upload; phones follow home only;
//! - (d) [`Condition::Both`]: federation, and travellers also follow the region they visited.
//!
//! They help different contacts. Following a visited region (b) lets a traveller learn of a
//! local case met there; it cannot tell a local that the traveller they met was a case, since
//! the traveller uploads at home. Federation (c) does the latter: the traveller's upload names
//! the visited region, whose server imports it; but a local case, who visited nothing, stays
//! in its own region's chain, which the traveller back home does not follow.
//!
//! Every condition uploads the same way (the phone, with a certificate, naming the region the
//! person visited if any) and syncs after the same two windows, so the conditions compare the
//! same world, uploads and timing.

use std::collections::BTreeSet;

use en_client::regions::{sync_regions, RegionSource};
use en_protocol::derive::Metadata;
use en_protocol::keys::SigningKey;
use en_protocol::matching::Scan;
use en_protocol::phone::Phone;
use en_protocol::time::DAY_SECONDS;
use en_protocol::{IntervalNumber, UnixTime};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use super::error::SimError;
use super::server::SimServer;
use crate::stats::{mean_ci, Interval};

/// The two regions.
pub const REGIONS: [&str; 2] = ["VN-HN", "VN-KG"];

/// What the phones follow and what the servers share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// (a) Phones follow their home region only; servers not federated.
    HomeOnly,
    /// (b) Phones also follow the regions they visited; servers not federated.
    FollowVisited,
    /// (c) Servers federated (each imports the keys of the other's cases who visited it);
    /// phones follow home only.
    Federation,
    /// (d) Servers federated and phones also follow the regions they visited.
    Both,
}

impl Condition {
    /// The four conditions, in order.
    pub const ALL: [Condition; 4] = [
        Condition::HomeOnly,
        Condition::FollowVisited,
        Condition::Federation,
        Condition::Both,
    ];

    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Condition::HomeOnly => "(a) home region only",
            Condition::FollowVisited => "(b) travellers follow visited regions",
            Condition::Federation => "(c) federated servers",
            Condition::Both => "(d) federation and following",
        }
    }

    /// Whether travellers' phones also follow the region they visit.
    pub fn follows_visited(self) -> bool {
        matches!(self, Condition::FollowVisited | Condition::Both)
    }

    /// Whether the two servers are federated.
    pub fn federated(self) -> bool {
        matches!(self, Condition::Federation | Condition::Both)
    }
}

/// A travel world's parameters.
#[derive(Debug, Clone, Serialize)]
pub struct TravelParams {
    /// Seed of everything random.
    pub seed: u64,
    /// People living in each region.
    pub people_per_region: usize,
    /// Fraction of people who make one trip to the other region.
    pub traveller_fraction: f64,
    /// Days of a trip.
    pub trip_days: u64,
    /// Days simulated (contacts); the cases upload the day after.
    pub days: u64,
    /// Contacts a person has per day with random others present in the same region.
    pub contacts_per_day: usize,
    /// Fraction of people who are cases (test positive and upload at the end).
    pub case_fraction: f64,
}

impl Default for TravelParams {
    fn default() -> Self {
        TravelParams {
            seed: 1,
            people_per_region: 60,
            traveller_fraction: 0.3,
            trip_days: 4,
            days: 7,
            contacts_per_day: 2,
            case_fraction: 0.1,
        }
    }
}

/// One run's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TravelOutcome {
    /// The condition.
    pub condition: Condition,
    /// People (not cases) exposed to a case.
    pub exposed: usize,
    /// Of them, those whose phone notified.
    pub notified: usize,
    /// People notified who were not exposed (should stay 0: no false matches).
    pub false_notified: usize,
}

impl TravelOutcome {
    /// `notified / exposed` (0 with no one exposed).
    pub fn recall(&self) -> f64 {
        if self.exposed == 0 {
            0.0
        } else {
            self.notified as f64 / self.exposed as f64
        }
    }
}

/// Recall over several seeds, with its 95 % interval.
#[derive(Debug, Clone, Serialize)]
pub struct ConditionSummary {
    /// The condition.
    pub condition: Condition,
    /// Recall, mean over seeds with a Student-t 95 % interval.
    pub recall: Interval,
    /// The runs.
    pub runs: Vec<TravelOutcome>,
}

/// One person's plan: home region and trip (first day, inclusive; `None`: stays home).
struct Person {
    home: usize,
    trip_start: Option<u64>,
}

impl Person {
    fn region_on(&self, day: u64, trip_days: u64) -> usize {
        match self.trip_start {
            Some(s) if day >= s && day < s + trip_days => 1 - self.home,
            _ => self.home,
        }
    }
}

/// Runs one world under `condition`. The world (people, trips, contacts, cases) depends on
/// the seed only, so the conditions compare the same contacts.
pub async fn run(p: &TravelParams, condition: Condition) -> Result<TravelOutcome, SimError> {
    if p.days == 0 || p.days > 13 || p.trip_days == 0 || p.people_per_region < 2 {
        return Err(SimError::Config(
            "travel: 1-13 days, trips of 1 day or more, 2 people or more per region".into(),
        ));
    }
    let mut rng = ChaCha20Rng::seed_from_u64(super::ble::mix(p.seed ^ 0x7a));
    let n = 2 * p.people_per_region;
    let people: Vec<Person> = (0..n)
        .map(|i| {
            let travels = rng.gen_bool(p.traveller_fraction.clamp(0.0, 1.0));
            let latest = p.days.saturating_sub(p.trip_days);
            Person {
                home: i / p.people_per_region,
                trip_start: travels.then(|| rng.gen_range(0..=latest)),
            }
        })
        .collect();
    let cases: BTreeSet<usize> = (0..n)
        .filter(|_| rng.gen_bool(p.case_fraction.clamp(0.0, 1.0)))
        .collect();

    let start = UnixTime(super::EPOCH);
    let mut servers = Vec::with_capacity(2);
    for (r, region) in REGIONS.iter().enumerate() {
        let key = SigningKey::generate(&mut rng);
        let outbound: &[&str] = if condition.federated() {
            &REGIONS[1 - r..2 - r]
        } else {
            &[]
        };
        servers.push(
            SimServer::in_process_federated(region, start, key, p.seed ^ r as u64, 3600, outbound)
                .await?,
        );
    }
    let mut phones: Vec<Phone> = people
        .iter()
        .map(|x| Phone::new(servers[x.home].follower_config()))
        .collect();

    // Days of contacts: everyone present in a region meets `contacts_per_day` others there,
    // six sightings five minutes apart at -60 dBm (enough to notify if the other is a case).
    let mut exposed = BTreeSet::new();
    let meta = Metadata {
        version: 0x40,
        tx_power: -10,
    };
    for day in 0..p.days {
        let midnight = start.0 + day * DAY_SECONDS;
        for (i, phone) in phones.iter_mut().enumerate() {
            phone.handle_timeout(UnixTime(midnight), &mut rng);
            let here = people[i].region_on(day, p.trip_days);
            if condition.follows_visited() && here != people[i].home {
                phone.visit_region(servers[here].follower_config(), UnixTime(midnight))?;
            }
        }
        for region in 0..2 {
            let present: Vec<usize> = (0..n)
                .filter(|&i| people[i].region_on(day, p.trip_days) == region)
                .collect();
            for &a in &present {
                for _ in 0..p.contacts_per_day {
                    let &b = present.choose(&mut rng).expect("a is present");
                    if a == b {
                        continue;
                    }
                    let at = midnight + 8 * 3600 + rng.gen_range(0..10 * 3600);
                    for k in 0..6 {
                        let t = UnixTime(at + 300 * k);
                        let (x, y) = if a < b { (a, b) } else { (b, a) };
                        let (px, py) = phones.split_at_mut(y);
                        let (pa, pb) = (&mut px[x], &mut py[0]);
                        let ba = pa.broadcast(t, meta, &mut rng);
                        let bb = pb.broadcast(t, meta, &mut rng);
                        for (phone, heard) in [(&mut *pa, bb), (&mut *pb, ba)] {
                            phone.record_scan(Scan {
                                rpi: heard.rpi,
                                aem: heard.aem,
                                time: t,
                                rssi: -60,
                                seconds: 300,
                            })?;
                        }
                    }
                    for (me, other) in [(a, b), (b, a)] {
                        if cases.contains(&other) && !cases.contains(&me) {
                            exposed.insert(me);
                        }
                    }
                }
            }
        }
    }

    // The day after: cases upload their keys to their home region's server, naming the
    // region they visited; each server closes a window (federated: its federation chain
    // too), imports the other's chain (federated), and closes one more window, in which
    // imported keys are published; then every phone syncs what it follows.
    let end = UnixTime(start.0 + p.days * DAY_SECONDS + 3600);
    for s in servers.iter_mut() {
        s.set_time(end)?;
    }
    let regions: Vec<en_protocol::wire::Region> = REGIONS
        .iter()
        .map(|r| en_protocol::wire::Region::new(r).expect("a region code"))
        .collect();
    for &c in &cases {
        let keys = phones[c].upload_keys(end);
        let onset = Some(IntervalNumber((start.0 / DAY_SECONDS * 144) as u32));
        let home = people[c].home;
        let visited = if people[c].trip_start.is_some() {
            &regions[1 - home..2 - home]
        } else {
            &[]
        };
        servers[home]
            .upload_visiting(keys, onset, end, visited, &mut rng)
            .await?;
    }
    let boundary = UnixTime(end.0 + 3600);
    for s in servers.iter_mut() {
        s.set_time(boundary)?;
        s.close_window(boundary).await?;
    }
    if condition.federated() {
        servers[0].import_from(&servers[1]).await?;
        servers[1].import_from(&servers[0]).await?;
    }
    let boundary = UnixTime(boundary.0 + 3600);
    for s in servers.iter_mut() {
        s.set_time(boundary)?;
        s.close_window(boundary).await?;
    }
    let sources: Vec<RegionSource> = servers
        .iter()
        .zip(REGIONS)
        .map(|(s, r)| RegionSource {
            region: en_protocol::wire::Region::new(r).expect("a region code"),
            client: s.client.clone(),
            trusted: s.export.clone(),
        })
        .collect();
    let (mut notified, mut false_notified) = (0, 0);
    for (i, phone) in phones.iter_mut().enumerate() {
        sync_regions(phone, &sources, boundary, false).await?;
        if cases.contains(&i) || phone.notify_days().is_empty() {
            continue;
        }
        if exposed.contains(&i) {
            notified += 1;
        } else {
            false_notified += 1;
        }
    }
    for s in servers {
        s.stop().await?;
    }
    Ok(TravelOutcome {
        condition,
        exposed: exposed.len(),
        notified,
        false_notified,
    })
}

/// Runs `seeds` worlds (seeds `p.seed`, `p.seed + 1`, …) under each condition in
/// `conditions` and summarises recall with 95 % intervals.
pub async fn run_seeds(
    p: &TravelParams,
    conditions: &[Condition],
    seeds: u64,
) -> Result<Vec<ConditionSummary>, SimError> {
    let mut out = Vec::new();
    for &condition in conditions {
        let mut runs = Vec::new();
        for s in 0..seeds {
            let q = TravelParams {
                seed: p.seed + s,
                ..p.clone()
            };
            runs.push(run(&q, condition).await?);
        }
        let recalls: Vec<f64> = runs.iter().map(TravelOutcome::recall).collect();
        out.push(ConditionSummary {
            condition,
            recall: mean_ci(&recalls),
            runs,
        });
    }
    Ok(out)
}
