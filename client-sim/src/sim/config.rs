//! [`SimConfig`]: every parameter of a run (all of it goes into report.json).

use serde::Serialize;

use super::epidemic::EpidemicParams;

/// Every parameter of a run (all of it goes into report.json).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
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
    /// Probability that an app user sends a fake upload on a given day
    /// (`en_protocol::phone::ChaffSchedule`).
    pub chaff_per_day: f64,
}

/// Default chaff rate: a fake upload on one day in ten per app user.
pub const DEFAULT_CHAFF_PER_DAY: f64 = 0.1;

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
            chaff_per_day: DEFAULT_CHAFF_PER_DAY,
        }
    }
}
