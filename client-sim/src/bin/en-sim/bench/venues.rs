//! Venue matching on one core: a heavy user's phone (20 check-ins a day for 14 days) against
//! one day of published venue-hour traces, beside one BLS12-381 pairing (the unit of the
//! phone's cost) timed in the same run.

use std::time::{Duration, Instant};

use en_protocol::venue::bench::{heavy_user_fixture, PairingSample};
use en_protocol::venue::SignedTraceBatch;
use en_sim::sim::svg::{line_chart, Chart, Series};
use serde::Serialize;

use super::{median, percentile};

/// Traces published in the day, for each point of the curve.
pub const VENUE_TRACES: [usize; 5] = [500, 1_000, 2_000, 5_000, 10_000];

/// One day of `traces` published venue-hours against the heavy user's phone.
#[derive(Debug, Clone, Serialize)]
pub struct VenuePoint {
    /// Venue-hours in the day's trace batch.
    pub traces: usize,
    /// Size of the signed trace batch.
    pub batch_bytes: usize,
    /// Hourly check-in records on the phone.
    pub records: usize,
    /// Decode and signature check of the batch (median of the rounds).
    pub decode_verify_seconds: f64,
    /// Matching the batch against the phone's records (median of the rounds).
    pub match_seconds: f64,
    /// Decode, verify and match: what the phone spends on the day (median of the rounds).
    pub total_seconds: f64,
    /// Slowest round of decode, verify and match.
    pub total_max_seconds: f64,
    /// Decode, verify and match on-CPU time of the thread (median of the rounds; Linux's
    /// `/proc/thread-self/schedstat`, so time waiting for a shared core is not counted).
    pub total_cpu_seconds: Option<f64>,
    /// Decryptions tried (one pairing each).
    pub pairings: usize,
    /// Notifications found (checked against the fixture's expected count).
    pub notifications: usize,
    /// The target for this size (the issue's: 0.5 s for 2,000, 2 s for 10,000), if any.
    pub target_seconds: Option<f64>,
}

/// Venue matching at every size of [`VENUE_TRACES`], with the pairing reference.
#[derive(Debug, Clone, Serialize)]
pub struct VenueResult {
    /// One point per size.
    pub points: Vec<VenuePoint>,
    /// Rounds per size.
    pub rounds: usize,
    /// One pairing, median of the reference rounds, in milliseconds.
    pub pairing_ms: f64,
    /// One pairing's on-CPU time, median of the reference rounds, in milliseconds.
    pub pairing_cpu_ms: Option<f64>,
}

/// On-CPU time of the calling thread (Linux; `None` elsewhere). On a machine whose cores
/// are shared with other work, wall time also counts the waits for a core.
fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// On-CPU seconds since `start` (a [`thread_cpu_seconds`] reading).
fn cpu_since(start: Option<f64>) -> Option<f64> {
    Some(thread_cpu_seconds()? - start?)
}

/// Runs `f`, returning its wall and on-CPU seconds.
fn clocked<T>(f: impl FnOnce() -> T) -> (T, f64, Option<f64>) {
    let (c, t) = (thread_cpu_seconds(), Instant::now());
    let out = f();
    let wall = t.elapsed().as_secs_f64();
    (out, wall, cpu_since(c))
}

fn target(traces: usize) -> Option<f64> {
    match traces {
        2_000 => Some(0.5),
        10_000 => Some(2.0),
        _ => None,
    }
}

/// Measures each size for at least `min` (and at least 3 rounds), a pairing reference timed
/// between the rounds. Fails if a round finds other notifications than the fixture's.
pub fn venues(min: Duration) -> anyhow::Result<VenueResult> {
    let sample = PairingSample::new(1);
    let (mut pairing, mut pairing_cpu) = (Vec::new(), Vec::new());
    let mut pairing_round = || {
        let ((), wall, cpu) = clocked(|| (0..50).for_each(|_| sample.run()));
        pairing.push(wall / 50.0 * 1e3);
        pairing_cpu.extend(cpu.map(|c| c / 50.0 * 1e3));
    };
    let mut points = Vec::new();
    let mut rounds = usize::MAX;
    for traces in VENUE_TRACES {
        let f = heavy_user_fixture(1, traces);
        let (mut dv, mut m, mut total, mut cpu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut pairings, mut notifications) = (0, 0);
        let start = Instant::now();
        while start.elapsed() < min || total.len() < 3 {
            pairing_round();
            let c = thread_cpu_seconds();
            let t = Instant::now();
            let batch = SignedTraceBatch::decode(&f.batch)?.verify(&f.export_keys)?;
            let decoded = t.elapsed().as_secs_f64();
            let report = f.store.match_batch(&batch);
            let all = t.elapsed().as_secs_f64();
            cpu.extend(cpu_since(c));
            std::hint::black_box(&report);
            anyhow::ensure!(
                report.notifications.len() == f.expected_notifications && report.invalid_keys == 0,
                "{traces} traces: {} notifications and {} invalid keys, expected {} and 0",
                report.notifications.len(),
                report.invalid_keys,
                f.expected_notifications
            );
            (pairings, notifications) = (report.pairings, report.notifications.len());
            dv.push(decoded);
            m.push(all - decoded);
            total.push(all);
        }
        rounds = rounds.min(total.len());
        points.push(VenuePoint {
            traces,
            batch_bytes: f.batch.len(),
            records: f.store.len(),
            decode_verify_seconds: median(&mut dv),
            match_seconds: median(&mut m),
            total_seconds: median(&mut total),
            total_max_seconds: percentile(&mut total, 1.0),
            total_cpu_seconds: (!cpu.is_empty()).then(|| median(&mut cpu)),
            pairings,
            notifications,
            target_seconds: target(traces),
        });
    }
    Ok(VenueResult {
        points,
        rounds,
        pairing_ms: median(&mut pairing),
        pairing_cpu_ms: (!pairing_cpu.is_empty()).then(|| median(&mut pairing_cpu)),
    })
}

impl VenueResult {
    /// The figure: seconds against traces published in the day, with the targets.
    pub fn svg(&self) -> String {
        let pts = |f: fn(&VenuePoint) -> f64| {
            self.points
                .iter()
                .map(|p| (p.traces as f64, f(p)))
                .collect::<Vec<_>>()
        };
        let pairing_s = self.pairing_ms / 1e3;
        line_chart(&Chart {
            title: format!(
                "Venue matching, heavy user ({} records), one core",
                self.points.first().map_or(0, |p| p.records)
            ),
            x_label: "venue-hour traces published in the day".into(),
            y_label: "seconds".into(),
            series: vec![
                Series::line(
                    "decode + verify + match (median)",
                    "#1f77b4",
                    pts(|p| p.total_seconds),
                ),
                Series::line(
                    "the same, on-CPU time (median)",
                    "#ff7f0e",
                    self.points
                        .iter()
                        .filter_map(|p| Some((p.traces as f64, p.total_cpu_seconds?)))
                        .collect(),
                ),
                Series::line("slowest round", "#aec7e8", pts(|p| p.total_max_seconds)),
                Series::line(
                    "pairings tried × one pairing",
                    "#2ca02c",
                    self.points
                        .iter()
                        .map(|p| (p.traces as f64, p.pairings as f64 * pairing_s))
                        .collect(),
                ),
                Series::line(
                    "target (0.5 s at 2,000; 2 s at 10,000)",
                    "#d62728",
                    self.points
                        .iter()
                        .filter_map(|p| Some((p.traces as f64, p.target_seconds?)))
                        .collect(),
                )
                .dashed(),
            ],
            y_max: None,
            x_log: false,
            provenance: format!(
                "en-sim bench --only venues (en-sim {})",
                env!("CARGO_PKG_VERSION")
            ),
        })
    }
}
