//! What a run reports: each day's numbers ([`DayStats`]), the epidemic a counterfactual is
//! compared on ([`EpidemicSummary`]), the totals with precision, recall, costs and delays
//! against ground truth ([`Outcome`]), and distribution summaries ([`Summary`]).

use serde::Serialize;

use super::config::SimConfig;
use super::server::SimServer;
use super::sniffer::SnifferReport;
use super::timing::DAY;
use super::world::World;

/// One day's numbers (a row of daily.csv).
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
#[non_exhaustive]
pub struct DayStats {
    /// Day number.
    pub day: u32,
    /// Infections that day.
    pub new_infections: u64,
    /// Expected hospitalisations of those infections.
    pub new_hospitalisations: f64,
    /// People infectious that day.
    pub infectious: u64,
    /// Positive results that day.
    pub confirmed: u64,
    /// App users who uploaded.
    pub uploads: u64,
    /// Keys uploaded.
    pub keys_uploaded: u64,
    /// Batches published.
    pub batches: u64,
    /// Keys in the batches published (padding included).
    pub keys_published: u64,
    /// Phones that fetched batches someone of theirs was in (all fetches in exhaustive mode).
    pub phone_fetches: u64,
    /// Notifications shown (a phone may notify more than once).
    pub notifications: u64,
    /// Phones notified for the first time.
    pub notified: u64,
    /// Notifications to people not infected.
    pub notifications_uninfected: u64,
    /// Days of quarantine notifications imposed (beyond isolation already under way).
    pub quarantine_days: f64,
    /// Of those, days imposed on people not infected.
    pub quarantine_days_uninfected: f64,
    /// People isolating at some time of the day.
    pub isolating: u64,
    /// Bytes the reference phone downloaded (index + new batches at every batch).
    pub bytes_per_phone: u64,
    /// Contact sessions that took place.
    pub sessions: u64,
    /// Fake uploads app users sent and the server answered.
    pub fake_uploads: u64,
    /// Fake uploads the server refused (should be 0).
    pub fake_upload_refusals: u64,
}

/// Running totals that are not per day.
#[derive(Debug, Clone, Default)]
pub(super) struct Tally {
    /// Expected hospitalisations of every infection so far (initial ones included).
    pub hospitalisations: f64,
}

/// The epidemic, as a run and its counterfactual are compared on: equal, byte for byte,
/// when the app changes nothing (no app users).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct EpidemicSummary {
    /// Infections (initial included).
    pub infections: u64,
    /// Expected hospitalisations (Σ over infections of the hospitalisation rate of the
    /// person's age band).
    pub hospitalisations: f64,
    /// Confirmed cases.
    pub confirmed: u64,
    /// New infections by day.
    pub daily_infections: Vec<u64>,
    /// Positive results by day.
    pub daily_confirmed: Vec<u64>,
    /// People isolating by day.
    pub daily_isolating: Vec<u64>,
}

/// Distribution summary.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// Count.
    pub n: u64,
    /// Mean.
    pub mean: f64,
    /// 10th percentile.
    pub p10: f64,
    /// Median.
    pub median: f64,
    /// 90th percentile.
    pub p90: f64,
}

impl Summary {
    /// The summary of `v` (all zero if empty).
    pub fn of(mut v: Vec<f64>) -> Self {
        if v.is_empty() {
            return Summary::default();
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        Summary {
            n: v.len() as u64,
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p10: q(0.1),
            median: q(0.5),
            p90: q(0.9),
        }
    }
}

/// Hours between the steps from a case's test to its contacts' notifications, over notified
/// (contact, case) pairs.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
#[non_exhaustive]
pub struct Delays {
    /// From the case's sample to the contact's first notification.
    pub test_to_notification: Summary,
    /// Sample → result.
    pub test_to_result: Summary,
    /// Result → upload.
    pub result_to_upload: Summary,
    /// Upload → first batch with the case's keys.
    pub upload_to_publication: Summary,
    /// That batch → the notification (the phone's fetch schedule; later keys, such as the
    /// upload day's, wait for the embargo).
    pub publication_to_notification: Summary,
    /// Test → notification, pairs by whole hours (index = hours, the last bin 240 h and more).
    pub test_to_notification_hours: Vec<u64>,
}

/// A run compared with its counterfactual (the same seed with the app switched off).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct Counterfactual {
    /// The counterfactual's epidemic.
    pub epidemic: EpidemicSummary,
    /// Its infections minus the run's.
    pub infections_averted: i64,
    /// Its expected hospitalisations minus the run's.
    pub hospitalisations_averted: f64,
    /// Quarantine days imposed on people not infected, per infection averted (absent when
    /// none was averted).
    pub quarantine_days_uninfected_per_infection_averted: Option<f64>,
}

/// The results of a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct Outcome {
    /// Parameters.
    pub config: SimConfig,
    /// The epidemic.
    pub epidemic: EpidemicSummary,
    /// The same seed with the app off, when it was run.
    pub counterfactual: Option<Counterfactual>,
    /// App users.
    pub app_users: u64,
    /// Confirmed cases who uploaded.
    pub uploads: u64,
    /// Notifications shown.
    pub notifications: u64,
    /// Phones notified at least once.
    pub notified_phones: u64,
    /// Notifications to people not infected.
    pub notifications_uninfected: u64,
    /// Days of quarantine notifications imposed.
    pub quarantine_days: f64,
    /// Of those, days imposed on people not infected.
    pub quarantine_days_uninfected: f64,
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
    /// Close-contact pairs whose case's keys were published early enough that every phone
    /// fetched them before the run ended (by one fetch interval plus the jitter).
    pub close_contact_pairs_published: u64,
    /// true positives / those pairs: how well matching and scoring find the contacts the
    /// phones could know about, without the end-of-run cut.
    pub recall_published: f64,
    /// adoption², the fraction of pairs the app can cover at best.
    pub expected_coverage: f64,
    /// How long each step from a case's test to a contact's notification took.
    pub delays: Delays,
    /// What a Bluetooth sniffer adversary could link.
    pub sniffer: SnifferReport,
    /// Mean bytes the reference phone downloaded per day.
    pub bytes_per_phone_per_day: f64,
    /// HTTP requests to the server (uploads, the reference phone's and the fetchers'
    /// downloads); fake uploads are counted apart, in `fake_uploads`.
    pub server_requests: u64,
    /// Requests made by the reference phone and the fetchers.
    pub fetch_requests: u64,
    /// Uploads refused by the server (should be 0).
    pub upload_refusals: u64,
    /// Fake uploads sent by app users on their chaff schedules and answered by the server
    /// (they store nothing, so they never enter precision or recall).
    pub fake_uploads: u64,
    /// Fake uploads the server refused (should be 0).
    pub fake_upload_refusals: u64,
    /// Per-day numbers.
    pub daily: Vec<DayStats>,
    /// Venue check-in beside Bluetooth, and the two together (when venues have QR codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub venues: Option<super::venues::VenueOutcome>,
}

impl World {
    /// The epidemic so far (what a counterfactual is compared on).
    pub fn epidemic(&self) -> EpidemicSummary {
        let col = |f: fn(&super::DayStats) -> u64| self.daily.iter().map(f).collect::<Vec<_>>();
        EpidemicSummary {
            infections: self.health.iter().filter(|h| h.infected.is_some()).count() as u64,
            hospitalisations: self.tally.hospitalisations,
            confirmed: self.confirmed_day.iter().filter(|c| c.is_some()).count() as u64,
            daily_infections: col(|d| d.new_infections),
            daily_confirmed: col(|d| d.confirmed),
            daily_isolating: col(|d| d.isolating),
        }
    }

    /// The report on the days simulated so far (`server` for its request counts).
    /// `None` for a counterfactual world, which has only an [`EpidemicSummary`].
    pub fn outcome(&self, server: &SimServer) -> Option<Outcome> {
        let app = self.app.as_ref()?;
        let people = &self.pop.people;
        let tp = app
            .notified_pairs
            .keys()
            .filter(|k| app.close_pairs.contains(k))
            .count() as u64;
        let both_app = app
            .close_pairs
            .iter()
            .filter(|(a, b)| people[*a as usize].app && people[*b as usize].app)
            .count() as u64;
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let t = &self.cfg.timing;
        let fetched_by = i64::from(self.day()) * DAY
            - i64::from(t.fetch_interval_seconds)
            - i64::from(t.fetch_jitter_seconds);
        let published: Vec<&(u32, u32)> = app
            .close_pairs
            .iter()
            .filter(|(_, case)| {
                app.case_times
                    .get(case)
                    .and_then(|c| c.published)
                    .is_some_and(|p| p <= fetched_by)
            })
            .collect();
        let tp_published = published
            .iter()
            .filter(|k| app.notified_pairs.contains_key(k))
            .count() as u64;
        let daily = &self.daily;
        let days = daily.len().max(1) as f64;
        let sum = |f: fn(&DayStats) -> u64| daily.iter().map(f).sum::<u64>();
        let fsum = |f: fn(&DayStats) -> f64| daily.iter().map(f).sum::<f64>();
        let app_flags: Vec<bool> = people.iter().map(|p| p.app).collect();
        Some(Outcome {
            epidemic: self.epidemic(),
            counterfactual: None,
            app_users: app_flags.iter().filter(|a| **a).count() as u64,
            uploads: sum(|s| s.uploads),
            notifications: sum(|s| s.notifications),
            notified_phones: app.notified.iter().filter(|x| **x).count() as u64,
            notifications_uninfected: sum(|s| s.notifications_uninfected),
            quarantine_days: fsum(|s| s.quarantine_days),
            quarantine_days_uninfected: fsum(|s| s.quarantine_days_uninfected),
            close_contact_pairs: app.close_pairs.len() as u64,
            close_contact_pairs_both_app: both_app,
            notified_pairs: app.notified_pairs.len() as u64,
            true_positive_pairs: tp,
            precision: ratio(tp, app.notified_pairs.len() as u64),
            recall: ratio(tp, app.close_pairs.len() as u64),
            recall_among_app_pairs: ratio(tp, both_app),
            close_contact_pairs_published: published.len() as u64,
            recall_published: ratio(tp_published, published.len() as u64),
            expected_coverage: self.cfg.adoption * self.cfg.adoption,
            delays: self.delays(),
            sniffer: app.sniffer.report(&app_flags),
            bytes_per_phone_per_day: sum(|s| s.bytes_per_phone) as f64 / days,
            server_requests: server.upload_requests + app.fetch_requests + 1,
            fetch_requests: app.fetch_requests,
            upload_refusals: server.upload_refusals,
            fake_uploads: sum(|s| s.fake_uploads),
            fake_upload_refusals: sum(|s| s.fake_upload_refusals),
            daily: daily.clone(),
            venues: self.venue_outcome(fetched_by),
            config: self.cfg.clone(),
        })
    }

    fn delays(&self) -> Delays {
        let Some(app) = &self.app else {
            return Delays::default();
        };
        let h = |a: i64, b: i64| (b - a) as f64 / 3600.0;
        let mut d: [Vec<f64>; 5] = Default::default();
        let mut hours = vec![0u64; 241];
        for (&(_, case), &notified) in &app.notified_pairs {
            let Some(c) = app.case_times.get(&case) else {
                continue;
            };
            let total = h(c.test, notified);
            d[0].push(total);
            hours[(total.max(0.0) as usize).min(240)] += 1;
            d[4].push(h(c.published.unwrap_or(notified), notified));
        }
        for c in app.case_times.values() {
            d[1].push(h(c.test, c.result));
            d[2].push(h(c.result, c.upload));
            if let Some(p) = c.published {
                d[3].push(h(c.upload, p));
            }
        }
        let [a, b, c, e, f] = d.map(Summary::of);
        Delays {
            test_to_notification: a,
            test_to_result: b,
            result_to_upload: c,
            upload_to_publication: e,
            publication_to_notification: f,
            test_to_notification_hours: hours,
        }
    }
}
