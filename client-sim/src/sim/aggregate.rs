//! Results over seeds: each metric's mean with a 95 % confidence interval (Student's t over
//! the seeds), daily curves and the delay distribution as bands, and the sniffer's rows.
//! Every number is computed per seed first (averted infections from each seed's own pair
//! of runs), then summarised, in seed order: the summary is deterministic.

use std::collections::BTreeMap;

use serde::Serialize;

use super::outcome::Outcome;
use crate::stats::{mean_ci, Interval};

/// A metric: its name in summary.json, what it is, and how to read it from a paired run.
pub struct Metric {
    /// Name.
    pub name: &'static str,
    /// What it measures.
    pub doc: &'static str,
    /// Its value in one run.
    pub value: fn(&Outcome) -> f64,
}

fn cf(o: &Outcome) -> (f64, f64, f64) {
    o.counterfactual.as_ref().map_or((0.0, 0.0, 0.0), |c| {
        (
            c.epidemic.infections as f64,
            c.infections_averted as f64,
            c.hospitalisations_averted,
        )
    })
}

fn per(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// Every metric summarised over seeds.
pub const METRICS: &[Metric] = &[
    Metric { name: "infections", doc: "infections with the app (initial included)", value: |o| o.epidemic.infections as f64 },
    Metric { name: "infections_without_app", doc: "infections in the counterfactual (same seed, app off)", value: |o| cf(o).0 },
    Metric { name: "infections_averted", doc: "counterfactual infections − infections", value: |o| cf(o).1 },
    Metric { name: "infections_averted_percent", doc: "averted / counterfactual infections × 100", value: |o| 100.0 * per(cf(o).1, cf(o).0) },
    Metric { name: "hospitalisations", doc: "expected hospitalisations with the app", value: |o| o.epidemic.hospitalisations },
    Metric { name: "hospitalisations_averted", doc: "expected hospitalisations averted", value: |o| cf(o).2 },
    Metric { name: "confirmed", doc: "confirmed cases", value: |o| o.epidemic.confirmed as f64 },
    Metric { name: "uploads", doc: "confirmed app users who uploaded", value: |o| o.uploads as f64 },
    Metric { name: "notifications", doc: "notifications shown", value: |o| o.notifications as f64 },
    Metric { name: "notifications_uninfected", doc: "notifications to people not infected", value: |o| o.notifications_uninfected as f64 },
    Metric { name: "quarantine_days", doc: "quarantine days notifications imposed", value: |o| o.quarantine_days },
    Metric { name: "quarantine_days_uninfected", doc: "of those, days imposed on people not infected", value: |o| o.quarantine_days_uninfected },
    Metric { name: "quarantine_days_uninfected_per_notification", doc: "quarantine days on the uninfected per notification", value: |o| per(o.quarantine_days_uninfected, o.notifications as f64) },
    Metric { name: "precision", doc: "notified pairs that are true close contacts", value: |o| o.precision },
    Metric { name: "recall", doc: "close-contact pairs notified", value: |o| o.recall },
    Metric { name: "recall_among_app_pairs", doc: "close-contact pairs with the app on both phones notified", value: |o| o.recall_among_app_pairs },
    Metric { name: "recall_published", doc: "close-contact pairs notified, of those whose case was published a fetch interval before the end", value: |o| o.recall_published },
    Metric { name: "hours_test_to_notification_median", doc: "median hours from a case's test to a contact's notification", value: |o| o.delays.test_to_notification.median },
    Metric { name: "hours_test_to_notification_p90", doc: "90th percentile of the same", value: |o| o.delays.test_to_notification.p90 },
    Metric { name: "hours_test_to_result", doc: "mean hours from test to result", value: |o| o.delays.test_to_result.mean },
    Metric { name: "hours_result_to_upload", doc: "mean hours from result to upload", value: |o| o.delays.result_to_upload.mean },
    Metric { name: "hours_upload_to_publication", doc: "mean hours from upload to the first batch with the keys", value: |o| o.delays.upload_to_publication.mean },
    Metric { name: "hours_publication_to_notification", doc: "mean hours from that batch to the notification", value: |o| o.delays.publication_to_notification.mean },
    Metric { name: "bytes_per_phone_per_day", doc: "bytes a phone downloads per day", value: |o| o.bytes_per_phone_per_day },
];

fn venue(o: &Outcome, f: fn(&super::VenueOutcome) -> f64) -> f64 {
    o.venues.as_ref().map_or(0.0, f)
}

/// Venue check-in's metrics, summarised when every run of a variant had venue check-in.
pub const VENUE_METRICS: &[Metric] = &[
    Metric {
        name: "venue_precision",
        doc: "venue-notified pairs that are presence contacts (overlapping stays)",
        value: |o| venue(o, |v| v.precision),
    },
    Metric {
        name: "venue_precision_same_hour",
        doc: "venue-notified pairs that shared a venue-hour",
        value: |o| venue(o, |v| v.precision_same_hour),
    },
    Metric {
        name: "venue_recall",
        doc: "presence-contact pairs notified by a venue",
        value: |o| venue(o, |v| v.recall),
    },
    Metric {
        name: "venue_recall_among_app_visitors",
        doc: "presence-contact pairs notified by a venue, of those whose visitor runs the app",
        value: |o| venue(o, |v| v.recall_among_app_visitors),
    },
    Metric {
        name: "union_precision",
        doc: "pairs notified by Bluetooth or a venue that are close or presence contacts",
        value: |o| venue(o, |v| v.union.precision),
    },
    Metric {
        name: "union_recall",
        doc: "close ∪ presence contact pairs notified by either",
        value: |o| venue(o, |v| v.union.recall),
    },
    Metric {
        name: "union_recall_bluetooth",
        doc: "close ∪ presence contact pairs notified by Bluetooth",
        value: |o| venue(o, |v| v.union.recall_bluetooth),
    },
    Metric {
        name: "union_recall_venues",
        doc: "close ∪ presence contact pairs notified by a venue",
        value: |o| venue(o, |v| v.union.recall_venues),
    },
];

/// One K of the sniffer, over seeds.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SnifferBand {
    /// Places sniffed.
    pub sniffers: u32,
    /// A case's day in one linked track.
    pub case_day: Interval,
    /// A case's 14 days, GAEN.
    pub gaen_case_fortnight: Interval,
    /// A case's 14 days, Bluezone-like.
    pub bluezone_case_fortnight: Interval,
    /// A non-case's day.
    pub non_case_day: Interval,
    /// A non-case's 14 days.
    pub non_case_fortnight: Interval,
    /// A case's public time heard at all.
    pub case_heard: Interval,
    /// The longest track of a non-case in any seed, RPI intervals.
    pub non_case_longest_track: u32,
}

/// One variant of a scenario over its seeds.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct VariantSummary {
    /// The variant's label.
    pub label: String,
    /// Its value on the scenario's x axis.
    pub x: Option<f64>,
    /// Seeds run.
    pub seeds: Vec<u64>,
    /// Every metric of [`METRICS`], by name.
    pub metrics: BTreeMap<String, Interval>,
    /// Costs per infection averted, as ratios of the means over seeds (absent when the
    /// mean infections averted is not positive).
    pub per_infection_averted: Option<Costs>,
    /// New infections per day, with the app.
    pub daily_infections: Vec<Interval>,
    /// New infections per day, without.
    pub daily_infections_without_app: Vec<Interval>,
    /// Notifications per day.
    pub daily_notifications: Vec<Interval>,
    /// Fraction of notified pairs notified within h hours of the case's test, h = 0..=240.
    pub delay_cdf: Vec<Interval>,
    /// Sniffer rows by K.
    pub sniffer: Vec<SnifferBand>,
    /// Public places (stations + venues) in the first seed's world.
    pub places: u32,
}

/// What each infection averted cost, on average.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Costs {
    /// Notifications shown.
    pub notifications: f64,
    /// Notifications to people not infected.
    pub notifications_uninfected: f64,
    /// Quarantine days imposed on people not infected.
    pub quarantine_days_uninfected: f64,
}

fn columns(outs: &[Outcome], f: impl Fn(&Outcome) -> Vec<f64>) -> Vec<Interval> {
    let cols: Vec<Vec<f64>> = outs.iter().map(f).collect();
    let len = cols.iter().map(Vec::len).min().unwrap_or(0);
    (0..len)
        .map(|i| mean_ci(&cols.iter().map(|c| c[i]).collect::<Vec<_>>()))
        .collect()
}

/// Summarises the paired runs `outs` (one per seed, in seed order) of a variant.
pub fn summarise(label: &str, x: Option<f64>, outs: &[Outcome]) -> VariantSummary {
    let venues = !outs.is_empty() && outs.iter().all(|o| o.venues.is_some());
    let metrics: BTreeMap<String, Interval> = METRICS
        .iter()
        .chain(if venues { VENUE_METRICS } else { &[] })
        .map(|m| {
            let v: Vec<f64> = outs.iter().map(m.value).collect();
            (m.name.to_string(), mean_ci(&v))
        })
        .collect();
    let mean = |k: &str| metrics[k].mean;
    let averted = mean("infections_averted");
    let per_infection_averted = (averted > 0.0).then(|| Costs {
        notifications: mean("notifications") / averted,
        notifications_uninfected: mean("notifications_uninfected") / averted,
        quarantine_days_uninfected: mean("quarantine_days_uninfected") / averted,
    });
    let u = |v: &[u64]| v.iter().map(|x| *x as f64).collect::<Vec<_>>();
    let cdf = |o: &Outcome| {
        let h = &o.delays.test_to_notification_hours;
        let total = h.iter().sum::<u64>().max(1) as f64;
        let mut acc = 0;
        h.iter()
            .map(|c| {
                acc += c;
                acc as f64 / total
            })
            .collect::<Vec<_>>()
    };
    let with_delays: Vec<Outcome> = outs
        .iter()
        .filter(|o| o.delays.test_to_notification.n > 0)
        .cloned()
        .collect();
    let rows = outs.first().map_or(0, |o| o.sniffer.rows.len());
    let sniffer = (0..rows)
        .map(|i| {
            let col = |f: fn(&super::SnifferRow) -> f64| {
                mean_ci(
                    &outs
                        .iter()
                        .map(|o| f(&o.sniffer.rows[i]))
                        .collect::<Vec<_>>(),
                )
            };
            SnifferBand {
                sniffers: outs[0].sniffer.rows[i].sniffers,
                case_day: col(|r| r.case_day),
                gaen_case_fortnight: col(|r| r.gaen_case_fortnight),
                bluezone_case_fortnight: col(|r| r.bluezone_case_fortnight),
                non_case_day: col(|r| r.non_case_day),
                non_case_fortnight: col(|r| r.non_case_fortnight),
                case_heard: col(|r| r.case_heard),
                non_case_longest_track: outs
                    .iter()
                    .map(|o| o.sniffer.rows[i].non_case_longest_track)
                    .max()
                    .unwrap_or(0),
            }
        })
        .collect();
    VariantSummary {
        label: label.to_string(),
        x,
        seeds: outs.iter().map(|o| o.config.seed).collect(),
        metrics,
        per_infection_averted,
        daily_infections: columns(outs, |o| u(&o.epidemic.daily_infections)),
        daily_infections_without_app: columns(outs, |o| {
            o.counterfactual
                .as_ref()
                .map_or_else(Vec::new, |c| u(&c.epidemic.daily_infections))
        }),
        daily_notifications: columns(outs, |o| {
            o.daily.iter().map(|d| d.notifications as f64).collect()
        }),
        delay_cdf: columns(&with_delays, cdf),
        sniffer,
        places: outs.first().map_or(0, |o| o.sniffer.places),
    }
}
