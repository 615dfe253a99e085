//! Venue check-in in the simulated world (presence tracing, issue #11), with the real
//! protocol code end to end: every venue has a QR code made by `en_protocol::venue::setup`
//! with the health authority's sealing key; app users who visit scan it with probability
//! `checkin_rate` on the phone's own [`VenuePhone`] (check-in, check-out, or, when they forget
//! with probability `forget_checkout`, the automatic check-out after `auto_checkout_seconds`);
//! every confirmed case, app or not, is interviewed `interview_delay_seconds` after the
//! result, and the venues it recalls (each visit with probability `recall_venues`) are traced
//! for the hours of its infectious visits: the owner's trace request, the authority's
//! pairing-checked, signed report, `POST /v1/traces`. The reference phone follows the trace
//! chain; each trace batch is handed to the phones with a record in one of its hours (the
//! only ones whose records can match: the hour label is part of the identity) and matched
//! at their next fetch with the phone's own code.
//!
//! Ground truth, by the simulator's knowledge of stays (never used by a phone): a presence
//! contact of a case is a visitor whose stay overlapped one of the case's infectious stays
//! at the same venue; a same-hour contact one whose stay shared a clock hour with it (what a
//! trace by the hour can find at best). Notifications are counted against both, and beside
//! Bluetooth's and together with them ([`Union`]).
//!
//! Cost: every check-in hour is an identity-based encryption on the phone, and every
//! candidate record of a published entry (same hour, same 4-bit tag) a BLS12-381 pairing
//! (about 1 ms); trace batches are padded to the server's minimum with fake traces, whose
//! candidates cost pairings too. Keep populations to a few thousand people.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use en_client::venue::VenuePhone;
use en_protocol::phone::TraceFollower;
use en_protocol::venue::{
    EntryPayload, Hour, SealingSecretKey, TracingSecret, VerifiedTraceBatch, HOUR_SECONDS,
};
use serde::{Deserialize, Serialize};

use super::config::SimConfig;
use super::day::unix;
use super::error::SimError;
use super::events::Kind;
use super::outcome::DayStats;
use super::places::Visit;
use super::population::Population;
use super::server::SimServer;
use super::streams::{rng, unit, Stream};
use super::timing::DAY;
use super::truth::infectious_by_config;
use super::world::World;

/// The authority's message to visitors of a traced venue-hour.
const MESSAGE: &str =
    "Bạn đã đến nơi có ca bệnh. Hãy theo dõi sức khỏe 14 ngày và gọi 1900 9095 nếu có triệu chứng.";
/// What a draw of the venue stream decides (its second key is the tag | a day, a visit's
/// start or a venue, all below 2⁶⁰).
const CHECK_IN: u64 = 1 << 60;
const FORGET: u64 = 2 << 60;
const PHONE_CRYPTO: u64 = 3 << 60;
const RECALL: u64 = 4 << 60;
const TRACE_CRYPTO: u64 = 5 << 60;
/// Days of stays kept: the 14 days an interview reaches back, the trace's day and slack.
const STAY_DAYS: usize = 16;

/// Venue check-in and presence tracing (`[sim.venues]`). The defaults are assumptions, not
/// measurements: change them to explore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct VenueParams {
    /// Probability that an app user checks in at a venue they visit.
    pub checkin_rate: f64,
    /// Probability that a visitor who checked in forgets to check out (the phone then
    /// checks out by itself after `auto_checkout_seconds`).
    pub forget_checkout: f64,
    /// Probability that an interviewed case recalls a venue visit.
    pub recall_venues: f64,
    /// The phone's automatic check-out, seconds after check-in (1 s to 24 h).
    pub auto_checkout_seconds: u32,
    /// Seconds from a positive result to the interview and the traces (the interview is
    /// never before the end of the result's day, whose visits it asks about).
    pub interview_delay_seconds: u32,
}

impl Default for VenueParams {
    fn default() -> Self {
        VenueParams {
            checkin_rate: 0.5,
            forget_checkout: 0.2,
            recall_venues: 0.8,
            auto_checkout_seconds: 2 * 3600,
            interview_delay_seconds: 12 * 3600,
        }
    }
}

impl VenueParams {
    /// Rejects values the model cannot use.
    pub(super) fn check(&self) -> Result<(), SimError> {
        let p = [self.checkin_rate, self.forget_checkout, self.recall_venues];
        if !p.iter().all(|x| (0.0..=1.0).contains(x)) {
            return Err(SimError::Config(
                "venues: checkin_rate, forget_checkout and recall_venues must be between 0 and 1"
                    .into(),
            ));
        }
        if !(1..=86_400).contains(&self.auto_checkout_seconds) {
            return Err(SimError::Config(
                "venues: auto_checkout_seconds must be between 1 and 86400".into(),
            ));
        }
        if self.interview_delay_seconds > 7 * 86_400 {
            return Err(SimError::Config(
                "venues: interview_delay_seconds must be at most 7 days".into(),
            ));
        }
        Ok(())
    }
}

/// One person's stay at a venue that took place (seconds since the simulation epoch).
#[derive(Debug, Clone, Copy)]
struct Stay {
    person: u32,
    /// Venue index (0-based; the place id minus the stations).
    venue: u32,
    start: u32,
    end: u32,
}

impl Stay {
    fn hours(&self) -> std::ops::RangeInclusive<u32> {
        let h = |t: u32| Hour::containing(unix(i64::from(t))).0;
        h(self.start)..=h(self.end - 1)
    }
}

/// A published trace batch waiting for the phones it was handed to.
struct Held {
    batch: VerifiedTraceBatch,
    waiting: usize,
}

/// Counts kept as the run goes.
#[derive(Debug, Clone, Default)]
struct Counts {
    check_ins: u64,
    forgotten_checkouts: u64,
    records: u64,
    interviews: u64,
    recalled_visits: u64,
    infectious_visits: u64,
    trace_reports: u64,
    traced_hours: u64,
    trace_refusals: u64,
    trace_batches: u64,
    trace_entries_published: u64,
    phone_fetches: u64,
    notifications: u64,
    unexplained: u64,
}

/// The venue side of a world with the app.
pub(super) struct Venues {
    params: VenueParams,
    stations: u32,
    sealing: SealingSecretKey,
    codes: Vec<EntryPayload>,
    secrets: Vec<TracingSecret>,
    phones: HashMap<u32, VenuePhone>,
    stays: BTreeMap<u32, Vec<Stay>>,
    /// (person, hour) → the venue its phone holds a record of (ground truth bookkeeping).
    checked_in: HashMap<(u32, Hour), u32>,
    /// Hour → phones holding a record of it.
    by_hour: BTreeMap<Hour, BTreeSet<u32>>,
    /// Identity of a traced venue-hour → (venue, cases whose traces published it).
    traced: HashMap<[u8; 32], (u32, BTreeSet<u32>)>,
    follower: TraceFollower,
    held: BTreeMap<u32, Held>,
    next_batch: u32,
    pending: HashMap<u32, Vec<u32>>,
    /// Case → when a batch first published one of its traces.
    published: HashMap<u32, i64>,
    presence: BTreeSet<(u32, u32)>,
    same_hour: BTreeSet<(u32, u32)>,
    notified: BTreeMap<(u32, u32), i64>,
    notified_phones: BTreeSet<u32>,
    counts: Counts,
}

impl Venues {
    /// QR codes for every venue of `pop` when `cfg` asks for venue check-in.
    pub(super) fn new(
        cfg: &SimConfig,
        pop: &Population,
        server: &SimServer,
    ) -> Result<Option<Self>, SimError> {
        let Some(params) = cfg.venues.clone() else {
            return Ok(None);
        };
        let mut r = rng(cfg.seed, Stream::Venue, u64::MAX, 0);
        let sealing = SealingSecretKey::generate(&mut r);
        let (mut codes, mut secrets) = (Vec::new(), Vec::new());
        for v in 0..pop.venues {
            let (code, secret) = en_protocol::venue::setup(
                &mut r,
                &format!("Venue {v}"),
                "",
                &sealing.public_key(),
            )?;
            codes.push(code);
            secrets.push(secret);
        }
        Ok(Some(Venues {
            params,
            stations: pop.stations,
            sealing,
            codes,
            secrets,
            phones: HashMap::new(),
            stays: BTreeMap::new(),
            checked_in: HashMap::new(),
            by_hour: BTreeMap::new(),
            traced: HashMap::new(),
            follower: TraceFollower::new(server.follower_config()),
            held: BTreeMap::new(),
            next_batch: 0,
            pending: HashMap::new(),
            published: HashMap::new(),
            presence: BTreeSet::new(),
            same_hour: BTreeSet::new(),
            notified: BTreeMap::new(),
            notified_phones: BTreeSet::new(),
            counts: Counts::default(),
        }))
    }
}

/// Venue notifications against ground truth, and Bluetooth's and venues' together.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct VenueOutcome {
    /// Venues with a QR code.
    pub venues: u64,
    /// Visits checked in.
    pub check_ins: u64,
    /// Of those, visits whose visitor forgot to check out.
    pub forgotten_checkouts: u64,
    /// Hourly check-in records written on phones.
    pub records: u64,
    /// Confirmed cases interviewed.
    pub interviews: u64,
    /// Their infectious venue visits in the 14 days before the interview.
    pub infectious_visits: u64,
    /// Of those, the visits they recalled (traced).
    pub recalled_visits: u64,
    /// Trace reports the server stored (one per case and venue).
    pub trace_reports: u64,
    /// Venue-hours in them.
    pub traced_hours: u64,
    /// Trace reports the server refused (should be 0).
    pub trace_refusals: u64,
    /// Trace batches the reference phone downloaded.
    pub trace_batches: u64,
    /// Entries in them (fake traces included).
    pub trace_entries_published: u64,
    /// Phones' matching runs against trace batches.
    pub phone_fetches: u64,
    /// Matching runs that notified.
    pub notifications: u64,
    /// Phones notified by a venue at least once.
    pub notified_phones: u64,
    /// Notifications no traced venue-hour of the batch explains (should be 0: a key for
    /// another venue or hour never decrypts).
    pub unexplained_notifications: u64,
    /// Presence contacts (visitor, case): overlapping stays at a venue while the case was
    /// infectious, of cases interviewed during the run.
    pub presence_pairs: u64,
    /// Of those, where the visitor runs the app.
    pub presence_pairs_app: u64,
    /// Same-hour contacts: stays that shared a clock hour at the venue (⊇ presence pairs).
    pub same_hour_pairs: u64,
    /// Notified (visitor, case) pairs.
    pub notified_pairs: u64,
    /// Notified pairs that are presence contacts.
    pub true_positive_pairs: u64,
    /// Of those, pairs whose case does not run the app (Bluetooth cannot reach them).
    pub true_positive_pairs_case_without_app: u64,
    /// true positives / notified pairs.
    pub precision: f64,
    /// Notified pairs that are same-hour contacts / notified pairs (1 when nobody forgets
    /// to check out: a trace by the hour reaches exactly that hour's visitors).
    pub precision_same_hour: f64,
    /// true positives / presence pairs.
    pub recall: f64,
    /// true positives / presence pairs where the visitor runs the app.
    pub recall_among_app_visitors: f64,
    /// App visitors' presence pairs whose case's trace was published a fetch interval (plus
    /// jitter) before the end of the run.
    pub presence_pairs_app_published: u64,
    /// true positives / those pairs (without the end-of-run cut).
    pub recall_app_published: f64,
    /// Bluetooth and venues together.
    pub union: Union,
}

/// Bluetooth and venue notifications together, against close ∪ presence contacts.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct Union {
    /// Close-contact ∪ presence-contact pairs.
    pub contact_pairs: u64,
    /// Pairs notified by either.
    pub notified_pairs: u64,
    /// Of those, contact pairs.
    pub true_positive_pairs: u64,
    /// true positives / notified pairs.
    pub precision: f64,
    /// true positives / contact pairs.
    pub recall: f64,
    /// Contact pairs Bluetooth notified / contact pairs.
    pub recall_bluetooth: f64,
    /// Contact pairs venues notified / contact pairs.
    pub recall_venues: f64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

impl World {
    fn venues_mut(&mut self) -> Option<&mut Venues> {
        self.app.as_mut()?.venues.as_deref_mut()
    }

    /// The day's venue visits take place (those of people isolating at arrival do not);
    /// app users check in and out with the phone's own code.
    pub(super) fn venue_visits(&mut self, day: u32, visits: &[Visit]) {
        let seed = self.cfg.seed;
        let stays: Vec<Stay> = {
            let Some(v) = self.app.as_ref().and_then(|a| a.venues.as_deref()) else {
                return;
            };
            visits
                .iter()
                .filter(|x| {
                    x.place >= v.stations
                        && !self.health[x.person as usize].isolating_at(i64::from(x.start))
                })
                .map(|x| Stay {
                    person: x.person,
                    venue: x.place - v.stations,
                    start: x.start,
                    end: x.end,
                })
                .collect()
        };
        let app_users: Vec<bool> = stays
            .iter()
            .map(|s| self.pop.people[s.person as usize].app)
            .collect();
        let v = self.venues_mut().expect("checked above");
        for (s, app) in stays.iter().zip(app_users) {
            let (person, day) = (u64::from(s.person), u64::from(day));
            if !app || unit(seed, Stream::Venue, person, CHECK_IN | day) >= v.params.checkin_rate {
                continue;
            }
            let forgets =
                unit(seed, Stream::Venue, person, FORGET | day) < v.params.forget_checkout;
            let auto = u64::from(v.params.auto_checkout_seconds);
            let mut r = rng(seed, Stream::Venue, person, PHONE_CRYPTO | day);
            let phone = v.phones.entry(s.person).or_default();
            let (start, end) = (unix(i64::from(s.start)), unix(i64::from(s.end)));
            phone
                .scan(v.codes[s.venue as usize].clone(), start, auto, &mut r)
                .expect("a valid code and duration");
            let recorded_end = if forgets {
                v.counts.forgotten_checkouts += 1;
                phone.tick(start.plus(auto), &mut r);
                start.plus(auto)
            } else {
                phone.check_out(end, &mut r);
                end.min(start.plus(auto))
            };
            v.counts.check_ins += 1;
            let recorded = Stay {
                end: (recorded_end.0 - super::EPOCH) as u32,
                ..*s
            };
            for h in recorded.hours() {
                v.counts.records += 1;
                v.checked_in.insert((s.person, Hour(h)), s.venue);
                v.by_hour.entry(Hour(h)).or_default().insert(s.person);
            }
        }
        v.stays.insert(day, stays);
        while v.stays.len() > STAY_DAYS {
            v.stays.pop_first();
        }
    }

    /// Case `p`, confirmed at `now`, will be interviewed.
    pub(super) fn schedule_interview(&mut self, p: u32, now: i64) {
        let Some(v) = self.venues_mut() else {
            return;
        };
        let at = (now + i64::from(v.params.interview_delay_seconds))
            .max((now.div_euclid(DAY) + 1) * DAY);
        self.agenda.push(at, Kind::Interview, p);
    }

    /// The interview of case `case` at `t`: its presence contacts (ground truth), then one
    /// trace per recalled venue for the hours of its recalled infectious visits.
    pub(super) async fn interview(
        &mut self,
        server: &mut SimServer,
        case: u32,
        t: i64,
        st: &mut DayStats,
    ) -> Result<(), SimError> {
        self.send_fakes(server, t, st).await?;
        let started = std::time::Instant::now();
        let seed = self.cfg.seed;
        let health = self.health[case as usize].clone();
        let app = self.app.as_mut().expect("interviews happen with the app");
        let rc = &app.rc;
        let Some(v) = app.venues.as_deref_mut() else {
            return Ok(());
        };
        v.counts.interviews += 1;
        // Whole visits inside the 14 days a trace may reach back.
        let oldest = t - 14 * DAY + HOUR_SECONDS as i64;
        let mut hours: BTreeMap<u32, BTreeSet<Hour>> = BTreeMap::new();
        for (&day, stays) in &v.stays {
            if !infectious_by_config(&health, day as i32, rc) {
                continue;
            }
            for s in stays.iter().filter(|s| s.person == case) {
                if i64::from(s.start) < oldest || i64::from(s.end) > t {
                    continue;
                }
                v.counts.infectious_visits += 1;
                for o in stays
                    .iter()
                    .filter(|o| o.venue == s.venue && o.person != case)
                {
                    if o.start < s.end && s.start < o.end {
                        v.presence.insert((o.person, case));
                    }
                    let (a, b) = (s.hours(), o.hours());
                    if a.start() <= b.end() && b.start() <= a.end() {
                        v.same_hour.insert((o.person, case));
                    }
                }
                let coin = unit(
                    seed,
                    Stream::Venue,
                    u64::from(case),
                    RECALL | u64::from(s.start),
                );
                if coin < v.params.recall_venues {
                    v.counts.recalled_visits += 1;
                    hours
                        .entry(s.venue)
                        .or_default()
                        .extend(s.hours().map(Hour));
                }
            }
        }
        if !hours.is_empty() {
            server.set_time(unix(t).max(server.now()))?;
        }
        for (venue, hours) in hours {
            let hours: Vec<Hour> = hours.into_iter().collect();
            let request = v.secrets[venue as usize].trace_request(&hours)?;
            let mut r = rng(
                seed,
                Stream::Venue,
                u64::from(case),
                TRACE_CRYPTO | u64::from(venue),
            );
            match server
                .upload_trace(&request, &v.sealing, MESSAGE, server.now(), &mut r)
                .await
            {
                Ok((checked, stored)) => {
                    v.counts.trace_reports += 1;
                    v.counts.traced_hours += stored as u64;
                    for (_, id, _) in checked.identity_keys() {
                        v.traced
                            .entry(id)
                            .or_insert_with(|| (venue, BTreeSet::new()))
                            .1
                            .insert(case);
                    }
                }
                Err(e) => {
                    v.counts.trace_refusals += 1;
                    eprintln!("warning: trace refused: {e}");
                }
            }
        }
        self.phases.add(started, |p| &mut p.uploads);
        Ok(())
    }

    /// After the server closed its windows at `t`: the reference phone follows the trace
    /// chain; each new batch goes to the phones with a record in one of its hours, which
    /// match it at their next fetch.
    pub(super) async fn publish_traces(
        &mut self,
        server: &mut SimServer,
        t: i64,
    ) -> Result<(), SimError> {
        let seed = self.cfg.seed;
        let timing = self.cfg.timing.clone();
        let Some(v) = self.app.as_mut().and_then(|a| a.venues.as_deref_mut()) else {
            return Ok(());
        };
        let synced = en_client::fetch::sync_traces(&server.client, &mut v.follower, unix(t), false)
            .await
            .map_err(|e| SimError::Chain {
                phone: "reference".into(),
                what: "the trace chain".into(),
                source: match e {
                    en_client::Error::Protocol { source, .. } => source,
                    other => return SimError::Client(other),
                },
            })?;
        for (batch, _) in synced.batches {
            v.counts.trace_batches += 1;
            v.counts.trace_entries_published += batch.entries().len() as u64;
            let mut phones: BTreeSet<u32> = BTreeSet::new();
            for e in batch.entries() {
                if let Some(ps) = v.by_hour.get(&e.hour()) {
                    phones.extend(ps);
                }
                if let Some((_, cases)) = v.traced.get(e.id()) {
                    for c in cases {
                        v.published.entry(*c).or_insert(t);
                    }
                }
            }
            if phones.is_empty() {
                continue;
            }
            let id = v.next_batch;
            v.next_batch += 1;
            for &p in &phones {
                let list = v.pending.entry(p).or_default();
                if list.is_empty() {
                    let at = timing.next_fetch(seed, p, t - 1);
                    self.agenda.push(at, Kind::VenueFetch, p);
                }
                list.push(id);
            }
            v.held.insert(
                id,
                Held {
                    batch,
                    waiting: phones.len(),
                },
            );
        }
        Ok(())
    }

    /// Phone `p` matches the trace batches handed to it, at `t`, and may notify its user.
    pub(super) fn venue_fetch(&mut self, p: u32, t: i64, st: &mut DayStats) {
        let Some(v) = self.venues_mut() else {
            return;
        };
        let ids = v.pending.remove(&p).unwrap_or_default();
        let batches: Vec<VerifiedTraceBatch> =
            ids.iter().map(|i| v.held[i].batch.clone()).collect();
        for i in &ids {
            let h = v.held.get_mut(i).expect("pending batches are held");
            h.waiting -= 1;
            if h.waiting == 0 {
                v.held.remove(i);
            }
        }
        v.counts.phone_fetches += 1;
        let found = match v.phones.get(&p) {
            Some(phone) => phone.match_batches(&batches),
            None => return,
        };
        if found.is_empty() {
            return;
        }
        // Which cases' traces explain each notification (ground truth bookkeeping only).
        for n in &found {
            let venue = v.checked_in.get(&(p, n.hour)).copied();
            let mut explained = false;
            for e in batches.iter().flat_map(|b| b.entries()) {
                if e.hour() != n.hour {
                    continue;
                }
                if let Some((tv, cases)) = v.traced.get(e.id()) {
                    if Some(*tv) == venue {
                        explained = true;
                        // A case's phone that checked in matches its own trace: not a
                        // contact of itself.
                        for &c in cases.iter().filter(|&&c| c != p) {
                            v.notified.entry((p, c)).or_insert(t);
                        }
                    }
                }
            }
            if !explained {
                v.counts.unexplained += 1;
            }
        }
        v.counts.notifications += 1;
        v.notified_phones.insert(p);
        self.notified(p, t, &[], st);
    }

    /// The venue part of the report; `fetched_by` is when a batch must have been published
    /// for every phone to have fetched it before the end.
    pub(super) fn venue_outcome(&self, fetched_by: i64) -> Option<VenueOutcome> {
        let app = self.app.as_ref()?;
        let v = app.venues.as_deref()?;
        let people = &self.pop.people;
        let c = &v.counts;
        let notified = v.notified.len() as u64;
        let tp = v.notified.keys().filter(|k| v.presence.contains(k)).count() as u64;
        let tp_hour = v
            .notified
            .keys()
            .filter(|k| v.same_hour.contains(k))
            .count() as u64;
        let app_pairs: Vec<&(u32, u32)> = v
            .presence
            .iter()
            .filter(|(visitor, _)| people[*visitor as usize].app)
            .collect();
        let tp_app = app_pairs
            .iter()
            .filter(|k| v.notified.contains_key(k))
            .count() as u64;
        let app_published: Vec<&&(u32, u32)> = app_pairs
            .iter()
            .filter(|(_, case)| v.published.get(case).is_some_and(|&p| p <= fetched_by))
            .collect();
        let tp_app_published = app_published
            .iter()
            .filter(|k| v.notified.contains_key(k))
            .count() as u64;
        let truth: BTreeSet<&(u32, u32)> = app.close_pairs.iter().chain(&v.presence).collect();
        let either: BTreeSet<&(u32, u32)> =
            app.notified_pairs.keys().chain(v.notified.keys()).collect();
        let u_tp = either.iter().filter(|k| truth.contains(*k)).count() as u64;
        let by = |f: &dyn Fn(&(u32, u32)) -> bool| truth.iter().filter(|k| f(k)).count() as u64;
        let u_bt = by(&|k| app.notified_pairs.contains_key(k));
        let u_v = by(&|k| v.notified.contains_key(k));
        let contacts = truth.len() as u64;
        Some(VenueOutcome {
            venues: v.codes.len() as u64,
            check_ins: c.check_ins,
            forgotten_checkouts: c.forgotten_checkouts,
            records: c.records,
            interviews: c.interviews,
            infectious_visits: c.infectious_visits,
            recalled_visits: c.recalled_visits,
            trace_reports: c.trace_reports,
            traced_hours: c.traced_hours,
            trace_refusals: c.trace_refusals,
            trace_batches: c.trace_batches,
            trace_entries_published: c.trace_entries_published,
            phone_fetches: c.phone_fetches,
            notifications: c.notifications,
            notified_phones: v.notified_phones.len() as u64,
            unexplained_notifications: c.unexplained,
            presence_pairs: v.presence.len() as u64,
            presence_pairs_app: app_pairs.len() as u64,
            same_hour_pairs: v.same_hour.len() as u64,
            notified_pairs: notified,
            true_positive_pairs: tp,
            true_positive_pairs_case_without_app: v
                .notified
                .keys()
                .filter(|k| v.presence.contains(k) && !people[k.1 as usize].app)
                .count() as u64,
            precision: ratio(tp, notified),
            precision_same_hour: ratio(tp_hour, notified),
            recall: ratio(tp, v.presence.len() as u64),
            recall_among_app_visitors: ratio(tp_app, app_pairs.len() as u64),
            presence_pairs_app_published: app_published.len() as u64,
            recall_app_published: ratio(tp_app_published, app_published.len() as u64),
            union: Union {
                contact_pairs: contacts,
                notified_pairs: either.len() as u64,
                true_positive_pairs: u_tp,
                precision: ratio(u_tp, either.len() as u64),
                recall: ratio(u_tp, contacts),
                recall_bluetooth: ratio(u_bt, contacts),
                recall_venues: ratio(u_v, contacts),
            },
        })
    }
}
