//! What a run reports: each day's numbers ([`DayStats`]), the totals with precision and
//! recall against ground truth ([`Outcome`]), and distribution summaries ([`Summary`]).

use serde::Serialize;

use super::config::SimConfig;
use super::server::SimServer;
use super::world::World;

/// One day's numbers (a row of daily.csv).
#[derive(Debug, Clone, Serialize, Default)]
#[non_exhaustive]
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
    /// Fake uploads app users sent and the server answered.
    pub fake_uploads: u64,
    /// Fake uploads the server refused (should be 0).
    pub fake_upload_refusals: u64,
}

/// The results of a run.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
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
    /// HTTP requests to the server (uploads + one phone's downloads × phones that download);
    /// fake uploads are counted apart, in `fake_uploads`.
    pub server_requests: u64,
    /// Requests made by the simulated fetchers themselves.
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
}

/// Distribution summary.
#[derive(Debug, Clone, Serialize, Default)]
#[non_exhaustive]
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
    /// The summary of `v` (all zero if empty).
    pub(super) fn of(mut v: Vec<f64>) -> Self {
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

impl World {
    /// The report on the days simulated so far (`server` for its request counts).
    pub fn outcome(&self, server: &SimServer) -> Outcome {
        let people = &self.pop.people;
        let tp: Vec<(&(u32, u32), &u32)> = self
            .notified_pairs
            .iter()
            .filter(|(k, _)| self.close_pairs.contains(k))
            .collect();
        let both_app = self
            .close_pairs
            .iter()
            .filter(|(a, b)| people[*a as usize].app && people[*b as usize].app)
            .count() as u64;
        let delays: Vec<f64> = tp
            .iter()
            .map(|((_, c), &nd)| {
                let confirmed = self.confirmed_day[*c as usize].unwrap_or(nd as i32);
                f64::from((nd as i32 - confirmed) * 24 + 10)
            })
            .collect();
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let daily = &self.daily;
        let days = daily.len().max(1) as f64;
        let sum = |f: fn(&DayStats) -> u64| daily.iter().map(f).sum::<u64>();
        Outcome {
            app_users: people.iter().filter(|p| p.app).count() as u64,
            infections: self.health.iter().filter(|h| h.infected.is_some()).count() as u64,
            confirmed: self.confirmed_day.iter().filter(|c| c.is_some()).count() as u64,
            uploads: sum(|s| s.uploads),
            notified_phones: self.notified.iter().filter(|x| **x).count() as u64,
            close_contact_pairs: self.close_pairs.len() as u64,
            close_contact_pairs_both_app: both_app,
            notified_pairs: self.notified_pairs.len() as u64,
            true_positive_pairs: tp.len() as u64,
            precision: ratio(tp.len() as u64, self.notified_pairs.len() as u64),
            recall: ratio(tp.len() as u64, self.close_pairs.len() as u64),
            recall_among_app_pairs: ratio(tp.len() as u64, both_app),
            expected_coverage: self.cfg.adoption * self.cfg.adoption,
            hours_to_notification: Summary::of(delays),
            bytes_per_phone_per_day: daily.iter().map(|s| s.bytes_per_phone as f64).sum::<f64>()
                / days,
            server_requests: server.upload_requests + self.fetch_requests + 1,
            fetch_requests: self.fetch_requests,
            upload_refusals: server.upload_refusals,
            fake_uploads: sum(|s| s.fake_uploads),
            fake_upload_refusals: sum(|s| s.fake_upload_refusals),
            daily: daily.clone(),
            config: self.cfg.clone(),
        }
    }
}
