//! `en-sim run`: a deterministic world of phones, people and an epidemic, against a real server.
//!
//! Each simulated day: people meet (sessions); the infection spreads; symptomatic people and
//! notified contacts get tested; confirmed app users upload their keys to the server (half
//! through the health authority's case report, half through the phone's certified upload);
//! the server closes the day's batch on the virtual clock; phones fetch and verify the new
//! batches, match them against their 14 days of scans, score with the server's signed risk
//! configuration, and are notified. Ground truth (who really was a close contact of whom)
//! is kept beside it to measure precision and recall.
//!
//! Determinism: everything random comes from ChaCha20 streams or SplitMix hashes derived
//! from `--seed`; the server's padding keys are random but never change a result. The same
//! seed gives a byte-identical `report.json` (timings go to `timing.json`).
//!
//! Scale: phones' scans are not stored; they are a deterministic function of the day's
//! sessions and are regenerated (RPI bytes, AEM, RSSI with noise) when a phone matches. The
//! batch's RPIs are derived once per day and shared by all phones ([`DerivedKeys`]); the
//! per-phone windows and scores are computed by the phone's own code (`risk`).

pub mod ble;

pub mod contacts;
pub mod epidemic;
pub mod population;
pub mod report;
pub mod server;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use en_protocol::derive::{padded_data, KeySchedule, Metadata};
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::matching::{DerivedKeys, Hit, RpikDeriver, Scan};
use en_protocol::risk::{assess, exposure_windows};
use en_protocol::wire::config::{Infectiousness, RiskConfig};
use en_protocol::wire::key::{DiagnosisKey, UploadKey};
use en_protocol::{IntervalNumber, UnixTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use self::ble::mix;
use self::contacts::Session;
use self::epidemic::{EpidemicParams, Health};
use self::population::{Population, MODELS};
use self::server::{Downloader, SimServer};

/// 2021-05-01 00:00 UTC: the simulation's day 0 (Kiên Giang, May 2021).
pub const EPOCH: u64 = 1_619_827_200;
/// Seconds between a phone's scans.
pub const SCAN_INTERVAL: u32 = 300;

/// Every parameter of a run (all of it goes into report.json).
#[derive(Debug, Clone, Serialize)]
pub struct SimConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// People (each with a phone; `adoption` of them run the app).
    pub phones: usize,
    /// Simulated days.
    pub days: u32,
    /// Fraction of people using the app.
    pub adoption: f64,
    /// Standard deviation of RSSI noise per scan, dB.
    pub noise_db: f64,
    /// Scale of per-model calibration offsets (1 = the built-in spread, 0 = perfect).
    pub calibration_scale: f64,
    /// Ground truth: a close contact is at least this many minutes…
    pub close_minutes: u32,
    /// …within this many metres, on one day while the case was infectious.
    pub close_metres: f64,
    /// Fraction of uploads made by the health authority (case report); the rest are
    /// certified uploads from the patient's phone.
    pub case_report_share: f64,
    /// Initially infected people.
    pub initial_infections: usize,
    /// Phones that download over HTTPS independently each day (besides the reference phone).
    pub extra_fetchers: usize,
    /// Threads for matching.
    pub threads: usize,
    /// Infection and testing parameters.
    pub epidemic: EpidemicParams,
}

impl SimConfig {
    /// Defaults for `phones` people.
    pub fn new(seed: u64, phones: usize, days: u32, adoption: f64) -> Self {
        SimConfig {
            seed,
            phones,
            days,
            adoption,
            noise_db: 4.0,
            calibration_scale: 1.0,
            close_minutes: 15,
            close_metres: 2.0,
            case_report_share: 0.5,
            initial_infections: (phones / 1000).max(5),
            extra_fetchers: 3,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            epidemic: EpidemicParams::default(),
        }
    }
}

/// One day's numbers (a row of daily.csv).
#[derive(Debug, Clone, Serialize, Default)]
pub struct DayStats {
    /// Day number.
    pub day: u32,
    /// Infections that day.
    pub new_infections: u64,
    /// People infectious that day.
    pub infectious: u64,
    /// Positive results that day.
    pub confirmed: u64,
    /// Of those, app users who uploaded.
    pub uploads: u64,
    /// Keys uploaded.
    pub keys_uploaded: u64,
    /// Keys in the batches published that night (padding included).
    pub keys_published: u64,
    /// Phones newly notified.
    pub notified: u64,
    /// People isolating.
    pub isolating: u64,
    /// Bytes one phone downloaded (index + new batches).
    pub bytes_per_phone: u64,
    /// Contact sessions.
    pub sessions: u64,
}

/// The results of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Parameters.
    pub config: SimConfig,
    /// App users.
    pub app_users: u64,
    /// Total infections (initial included).
    pub infections: u64,
    /// Confirmed cases.
    pub confirmed: u64,
    /// Confirmed cases who uploaded.
    pub uploads: u64,
    /// Phones notified at least once.
    pub notified_phones: u64,
    /// Ground-truth close-contact pairs (case confirmed during the run).
    pub close_contact_pairs: u64,
    /// Of those, where both use the app.
    pub close_contact_pairs_both_app: u64,
    /// Notified (contact, case) pairs.
    pub notified_pairs: u64,
    /// Notified pairs that are true close contacts.
    pub true_positive_pairs: u64,
    /// true positives / notified pairs.
    pub precision: f64,
    /// true positives / close-contact pairs.
    pub recall: f64,
    /// true positives / close-contact pairs where both use the app.
    pub recall_among_app_pairs: f64,
    /// adoption², the fraction of pairs the app can cover at best.
    pub expected_coverage: f64,
    /// Hours from the case's positive result (14:00 on its day) to the contact's notification
    /// (phones fetch and match right after the nightly batch), over notified true pairs.
    pub hours_to_notification: Summary,
    /// Mean bytes downloaded per phone per day.
    pub bytes_per_phone_per_day: f64,
    /// HTTP requests to the server (uploads + one phone's downloads × phones that download).
    pub server_requests: u64,
    /// Requests made by the simulated fetchers themselves.
    pub fetch_requests: u64,
    /// Uploads refused by the server (should be 0).
    pub upload_refusals: u64,
    /// Per-day numbers.
    pub daily: Vec<DayStats>,
}

/// Distribution summary.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    /// Count.
    pub n: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub median: f64,
    /// 90th percentile.
    pub p90: f64,
}

impl Summary {
    fn of(mut v: Vec<f64>) -> Self {
        if v.is_empty() {
            return Summary::default();
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        Summary {
            n: v.len() as u64,
            mean: v.iter().sum::<f64>() / v.len() as f64,
            median: q(0.5),
            p90: q(0.9),
        }
    }
}

/// The world.
struct World {
    cfg: SimConfig,
    pop: Population,
    health: Vec<Health>,
    /// Sessions of the last 15 days, by day.
    sessions: BTreeMap<u32, DaySessions>,
    /// RPIK ciphers of app users, by day.
    ciphers: BTreeMap<i64, Vec<Option<Aes128>>>,
    deriver: RpikDeriver,
    /// Uploaded TEK → person (simulator's ground truth, never used by a phone).
    tek_owner: HashMap<[u8; 16], u32>,
    confirmed_day: Vec<Option<i32>>,
    notified: Vec<bool>,
    /// Notified (contact, case) pairs with the day.
    notified_pairs: BTreeMap<(u32, u32), u32>,
    /// Ground truth pairs (contact, case).
    close_pairs: BTreeSet<(u32, u32)>,
}

/// A day's sessions with a per-person index (CSR).
struct DaySessions {
    list: Vec<Session>,
    offsets: Vec<u32>,
    index: Vec<u32>,
}

impl DaySessions {
    fn new(list: Vec<Session>, n: usize) -> Self {
        let mut counts = vec![0u32; n + 1];
        for s in &list {
            counts[s.a as usize + 1] += 1;
            counts[s.b as usize + 1] += 1;
        }
        for i in 1..=n {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut index = vec![0u32; list.len() * 2];
        for (i, s) in list.iter().enumerate() {
            for p in [s.a, s.b] {
                index[fill[p as usize] as usize] = i as u32;
                fill[p as usize] += 1;
            }
        }
        DaySessions {
            list,
            offsets: counts,
            index,
        }
    }
    fn of(&self, p: u32) -> impl Iterator<Item = &Session> {
        self.index[self.offsets[p as usize] as usize..self.offsets[p as usize + 1] as usize]
            .iter()
            .map(|&i| &self.list[i as usize])
    }
}

fn tek(seed: u64, person: u32, day: i64) -> TemporaryExposureKey {
    let mut r =
        ChaCha20Rng::seed_from_u64(mix(seed ^ mix((u64::from(person) << 32) ^ (day as u64))));
    TemporaryExposureKey::from_bytes(r.gen())
}

fn day_of(t: u64) -> i64 {
    (t / 86_400) as i64 - (EPOCH / 86_400) as i64
}

impl World {
    fn cipher(&self, person: u32, day: i64) -> Option<&Aes128> {
        self.ciphers
            .get(&day)
            .and_then(|v| v[person as usize].as_ref())
    }

    fn ensure_ciphers(&mut self, day: i64) {
        if self.ciphers.contains_key(&day) {
            return;
        }
        let v = self
            .pop
            .people
            .iter()
            .enumerate()
            .map(|(p, person)| {
                person.app.then(|| {
                    Aes128::new(&self.deriver.rpik(&tek(self.cfg.seed, p as u32, day)).into())
                })
            })
            .collect();
        self.ciphers.insert(day, v);
        while self.ciphers.len() > 17 {
            let first = *self.ciphers.keys().next().expect("not empty");
            self.ciphers.remove(&first);
        }
    }

    /// Whether a case with this course was infectious on `day` by the risk configuration's
    /// days-since-onset map (ground truth and scoring use the same infectious days).
    fn infectious_by_config(&self, case: u32, day: i32, rc: &RiskConfig) -> bool {
        match self.health[case as usize].onset {
            Some(o) => {
                let d = day - o;
                d.abs() <= 14
                    && rc.infectiousness_by_dsos[(d + 14) as usize] != Infectiousness::None
            }
            None => rc.infectiousness_when_missing != Infectiousness::None,
        }
    }

    /// Ground truth at confirmation: everyone who spent ≥ close_minutes within close_metres of
    /// the case on one day of its last 14 while it was infectious.
    fn record_close_contacts(&mut self, case: u32, day: u32, rc: &RiskConfig) {
        let limit = u64::from(self.cfg.close_minutes) * 60;
        let cm = (self.cfg.close_metres * 100.0) as u16;
        for d in day.saturating_sub(13)..=day {
            if !self.infectious_by_config(case, d as i32, rc) {
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
                    self.close_pairs.insert((other, case));
                }
            }
        }
    }

    /// The scans phone `me` recorded of phone `other` during session `s` (id `sid`), each
    /// passed to `f` with its sender and day.
    fn scans_of(&self, me: u32, s: &Session, sid: u64, mut f: impl FnMut(Scan, u32, i64)) {
        let other = if s.a == me { s.b } else { s.a };
        if !self.pop.people[other as usize].app {
            return;
        }
        let distance = f64::from(s.distance_cm) / 100.0;
        if distance > ble::MAX_RANGE_M {
            return;
        }
        let (tx, _) = MODELS[self.pop.people[other as usize].model as usize];
        let rx_offset =
            MODELS[self.pop.people[me as usize].model as usize].1 * self.cfg.calibration_scale;
        let skew = i64::from(self.pop.people[other as usize].skew);
        let n = s.duration.div_ceil(SCAN_INTERVAL);
        for k in 0..n {
            let t = EPOCH + u64::from(s.start) + u64::from(k * SCAN_INTERVAL);
            let seconds = if k + 1 == n {
                s.duration - k * SCAN_INTERVAL
            } else {
                SCAN_INTERVAL
            };
            let sender_time = t.saturating_add_signed(skew);
            let day = day_of(sender_time);
            let Some(cipher) = self.cipher(other, day) else {
                continue;
            };
            let mut block = padded_data(UnixTime(sender_time).interval()).into();
            cipher.encrypt_block(&mut block);
            let rssi = ble::rssi(
                tx,
                distance,
                rx_offset,
                self.cfg.noise_db,
                mix(sid ^ (u64::from(k) << 48) ^ u64::from(me)),
            );
            f(
                Scan {
                    rpi: block.into(),
                    aem: [0; 4],
                    time: UnixTime(t),
                    rssi,
                    seconds: seconds as u16,
                },
                other,
                day,
            );
        }
    }

    /// One phone's matching and scoring against the day's new keys.
    fn phone_assessment(
        &self,
        me: u32,
        today: u32,
        derived: &DerivedKeys,
        keys: &[DiagnosisKey],
        rc: &RiskConfig,
    ) -> Vec<u32> {
        let mut scans: Vec<Scan> = Vec::new();
        let mut hits: Vec<Hit> = Vec::new();
        for d in today.saturating_sub(13)..=today {
            let Some(ds) = self.sessions.get(&d) else {
                continue;
            };
            for (i, s) in ds.of(me).enumerate() {
                let sid = mix((u64::from(d) << 40)
                    ^ (u64::from(s.a) << 20)
                    ^ u64::from(s.b)
                    ^ ((i as u64) << 56));
                self.scans_of(me, s, sid, |mut scan, sender, day| {
                    let before = hits.len();
                    derived.probe(&scan, scans.len() as u32, &mut hits);
                    if hits.len() > before {
                        // A hit: record the AEM the sender broadcast with this RPI.
                        let ks = KeySchedule::new(&tek(self.cfg.seed, sender, day));
                        let tx = MODELS[self.pop.people[sender as usize].model as usize].0;
                        scan.aem = ks
                            .aem(
                                &scan.rpi,
                                &Metadata {
                                    version: 0x40,
                                    tx_power: tx,
                                }
                                .to_bytes(),
                            )
                            .try_into()
                            .expect("4 bytes");
                        scans.push(scan);
                    }
                });
            }
        }
        if hits.is_empty() {
            return Vec::new();
        }
        let a = assess(exposure_windows(&hits, keys, &scans), rc);
        if a.notify_days.is_empty() {
            return Vec::new();
        }
        // Which cases caused it (ground truth bookkeeping only).
        let mut sources: BTreeSet<u32> = BTreeSet::new();
        for w in &a.windows {
            if a.notify_days.contains(&w.window.day) {
                if let Some(&p) = self
                    .tek_owner
                    .get(keys[w.window.key as usize].key.as_bytes())
                {
                    sources.insert(p);
                }
            }
        }
        sources.into_iter().collect()
    }
}

/// Progress callback: (day done, days).
pub type Progress<'a> = &'a (dyn Fn(u32, u32) + Sync);

/// Runs a simulation against `server`.
pub async fn run(
    cfg: SimConfig,
    mut server: SimServer,
    progress: Progress<'_>,
) -> anyhow::Result<(Outcome, SimServer)> {
    let mut rng = ChaCha20Rng::seed_from_u64(cfg.seed);
    let pop = Population::new(cfg.phones, cfg.adoption, &mut rng);
    let n = pop.people.len();
    let mut w = World {
        health: vec![Health::default(); n],
        sessions: BTreeMap::new(),
        ciphers: BTreeMap::new(),
        deriver: RpikDeriver::default(),
        tek_owner: HashMap::new(),
        confirmed_day: vec![None; n],
        notified: vec![false; n],
        notified_pairs: BTreeMap::new(),
        close_pairs: BTreeSet::new(),
        pop,
        cfg: cfg.clone(),
    };
    for _ in 0..cfg.initial_infections.min(n) {
        let p = rng.gen_range(0..n);
        let back = rng.gen_range(0..5);
        w.health[p].infect(-back, &cfg.epidemic, &mut rng);
    }
    server.set_time(UnixTime(EPOCH))?;
    let rc = server.risk_config().await?;
    let mut reference = Downloader::new(&server);
    let mut fetchers: Vec<Downloader> = (0..cfg.extra_fetchers)
        .map(|_| Downloader::new(&server))
        .collect();
    let mut daily = Vec::new();
    let mut fetch_requests = 0u64;
    let app_users = w.pop.people.iter().filter(|p| p.app).count() as u64;

    for day in 0..cfg.days {
        let d = day as i32;
        let mut st = DayStats {
            day,
            ..Default::default()
        };
        let mut drng = ChaCha20Rng::seed_from_u64(mix(cfg.seed ^ mix(u64::from(day) + 1)));
        server.set_time(UnixTime(EPOCH + u64::from(day) * 86_400 + 8 * 3600))?;
        for dd in [i64::from(day) - 1, i64::from(day), i64::from(day) + 1] {
            w.ensure_ciphers(dd);
        }

        // Contacts and transmission.
        let isolating: Vec<bool> = w.health.iter().map(|h| h.isolating(d)).collect();
        let list = contacts::day_sessions(&w.pop, day, &isolating, &mut drng);
        st.sessions = list.len() as u64;
        for (i, s) in list.iter().enumerate() {
            for (src, dst) in [(s.a, s.b), (s.b, s.a)] {
                let inf = w.health[src as usize].infectiousness(d);
                if inf > 0.0 && w.health[dst as usize].susceptible() {
                    let p = epidemic::transmission_probability(
                        cfg.epidemic.beta,
                        f64::from(s.duration) / 60.0,
                        f64::from(s.distance_cm) / 100.0,
                        inf,
                    );
                    let h =
                        mix(cfg.seed
                            ^ mix((u64::from(day) << 32) ^ i as u64 ^ (u64::from(src) << 40)));
                    if (h >> 11) as f64 / (1u64 << 53) as f64 <= p {
                        w.health[dst as usize].infect(d, &cfg.epidemic, &mut drng);
                        st.new_infections += 1;
                    }
                }
            }
        }
        w.sessions.insert(day, DaySessions::new(list, n));
        while w.sessions.len() > 15 {
            let first = *w.sessions.keys().next().expect("not empty");
            w.sessions.remove(&first);
        }

        // Tests and uploads (results arrive the day after the test).
        server.set_time(UnixTime(EPOCH + u64::from(day) * 86_400 + 14 * 3600))?;
        for p in 0..n as u32 {
            let h = &w.health[p as usize];
            if h.test_day == Some(d - 1)
                && w.confirmed_day[p as usize].is_none()
                && h.tests_positive(d - 1)
            {
                w.confirmed_day[p as usize] = Some(d);
                w.health[p as usize].isolating_until = d + cfg.epidemic.isolation_days;
                st.confirmed += 1;
                w.record_close_contacts(p, day, &rc);
                if w.pop.people[p as usize].app {
                    let keys: Vec<UploadKey> = (d - 13..=d)
                        .map(|k| UploadKey {
                            key: tek(cfg.seed, p, i64::from(k)),
                            rolling_start: IntervalNumber(
                                ((EPOCH / 86_400) as i64 + i64::from(k)) as u32 * 144,
                            ),
                            rolling_period: 144,
                            transmission_risk: 0,
                        })
                        .collect();
                    for k in &keys {
                        w.tek_owner.insert(*k.key.as_bytes(), p);
                    }
                    let onset = w.health[p as usize].onset.map(|o| {
                        IntervalNumber(((EPOCH / 86_400) as i64 + i64::from(o)) as u32 * 144 + 72)
                    });
                    let via_authority = drng.gen_bool(cfg.case_report_share);
                    st.keys_uploaded += keys.len() as u64;
                    let now = UnixTime(EPOCH + u64::from(day) * 86_400 + 14 * 3600);
                    match server
                        .upload(keys, onset, now, via_authority, &mut drng)
                        .await
                    {
                        Ok(()) => st.uploads += 1,
                        Err(e) => tracing_warn(&format!("upload refused: {e:#}")),
                    }
                }
            }
        }

        // Night: the server closes the day's batch; phones download, verify and match.
        let boundary = UnixTime(EPOCH + u64::from(day + 1) * 86_400);
        server.set_time(boundary.plus(60))?;
        server.close_window(boundary).await?;
        let (batches, bytes) = reference.sync(&server, boundary.plus(60)).await?;
        fetch_requests += 1 + batches.len() as u64;
        for f in &mut fetchers {
            let (b, _) = f.sync(&server, boundary.plus(60)).await?;
            fetch_requests += 1 + b.len() as u64;
            anyhow::ensure!(
                b.len() == batches.len(),
                "independent fetchers disagree on the new batches"
            );
        }
        st.bytes_per_phone = bytes;
        let keys: Vec<DiagnosisKey> = batches
            .iter()
            .flat_map(|b| b.keys().iter().cloned())
            .collect();
        st.keys_published = keys.len() as u64;
        if !keys.is_empty() {
            let derived = DerivedKeys::new(&keys);
            let users: Vec<u32> = (0..n as u32)
                .filter(|&p| w.pop.people[p as usize].app)
                .collect();
            let threads = cfg.threads.max(1);
            let chunk = users.len().div_ceil(threads).max(1);
            let results: Vec<(u32, Vec<u32>)> = std::thread::scope(|sc| {
                let handles: Vec<_> = users
                    .chunks(chunk)
                    .map(|part| {
                        let (w, derived, keys, rc) = (&w, &derived, &keys, &rc);
                        sc.spawn(move || {
                            part.iter()
                                .map(|&p| (p, w.phone_assessment(p, day, derived, keys, rc)))
                                .filter(|(_, s)| !s.is_empty())
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().expect("matcher thread"))
                    .collect()
            });
            for (p, sources) in results {
                if !w.notified[p as usize] {
                    st.notified += 1;
                }
                w.notified[p as usize] = true;
                for c in sources {
                    w.notified_pairs.entry((p, c)).or_insert(day);
                }
                let h = &mut w.health[p as usize];
                if cfg.epidemic.notified_isolate {
                    h.isolating_until = h.isolating_until.max(d + 1 + cfg.epidemic.isolation_days);
                }
                if h.test_day.is_none_or(|t| t < d)
                    && drng.gen_bool(cfg.epidemic.p_test_when_notified)
                {
                    h.test_day = Some(d + 1);
                }
            }
        }
        st.infectious = w
            .health
            .iter()
            .filter(|h| h.infectiousness(d) > 0.0)
            .count() as u64;
        st.isolating = w.health.iter().filter(|h| h.isolating(d)).count() as u64;
        daily.push(st);
        progress(day + 1, cfg.days);
    }

    let tp: Vec<(&(u32, u32), &u32)> = w
        .notified_pairs
        .iter()
        .filter(|(k, _)| w.close_pairs.contains(k))
        .collect();
    let both_app = w
        .close_pairs
        .iter()
        .filter(|(a, b)| w.pop.people[*a as usize].app && w.pop.people[*b as usize].app)
        .count() as u64;
    let delays: Vec<f64> = tp
        .iter()
        .map(|((_, c), &nd)| {
            f64::from((nd as i32 - w.confirmed_day[*c as usize].unwrap_or(nd as i32)) * 24 + 10)
        })
        .collect();
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let days = daily.len().max(1) as f64;
    let out = Outcome {
        app_users,
        infections: w.health.iter().filter(|h| h.infected.is_some()).count() as u64,
        confirmed: w.confirmed_day.iter().filter(|c| c.is_some()).count() as u64,
        uploads: daily.iter().map(|s| s.uploads).sum(),
        notified_phones: w.notified.iter().filter(|x| **x).count() as u64,
        close_contact_pairs: w.close_pairs.len() as u64,
        close_contact_pairs_both_app: both_app,
        notified_pairs: w.notified_pairs.len() as u64,
        true_positive_pairs: tp.len() as u64,
        precision: ratio(tp.len() as u64, w.notified_pairs.len() as u64),
        recall: ratio(tp.len() as u64, w.close_pairs.len() as u64),
        recall_among_app_pairs: ratio(tp.len() as u64, both_app),
        expected_coverage: cfg.adoption * cfg.adoption,
        hours_to_notification: Summary::of(delays),
        bytes_per_phone_per_day: daily.iter().map(|s| s.bytes_per_phone as f64).sum::<f64>() / days,
        server_requests: server.upload_requests + fetch_requests + 1,
        fetch_requests,
        upload_refusals: server.upload_refusals,
        daily,
        config: cfg,
    };
    Ok((out, server))
}

fn tracing_warn(msg: &str) {
    eprintln!("warning: {msg}");
}
