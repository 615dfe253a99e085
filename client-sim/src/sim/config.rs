//! [`SimConfig`]: every parameter of a run. All of it goes into report.json, and the same
//! fields (with these defaults) make the `[sim]` table of a scenario file, so a report's
//! `config` can be pasted back into a scenario.

use serde::{Deserialize, Serialize};

use super::epidemic::EpidemicParams;
use super::error::SimError;
use super::population::PopulationParams;
use super::sniffer::SnifferParams;
use super::timing::TimingParams;
use super::venues::VenueParams;

/// Every parameter of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// Initially infected people (default: one per thousand, at least 5).
    pub initial_infections: Option<usize>,
    /// Phones that download over HTTPS independently at each batch (besides the reference
    /// phone) and must see the same batches.
    pub extra_fetchers: usize,
    /// Infection, testing and isolation.
    pub epidemic: EpidemicParams,
    /// Probability that an app user sends a fake upload on a given day
    /// (`en_protocol::phone::ChaffSchedule`).
    pub chaff_per_day: f64,
    /// Households, ages, work, transit and venues.
    pub population: PopulationParams,
    /// Batch period, fetch schedules, test and upload delays.
    pub timing: TimingParams,
    /// The Bluetooth sniffer adversary.
    pub sniffer: SnifferParams,
    /// Every app user matches every new batch against all its scans (slow; for checking
    /// that the usual pruned matching gives the same results).
    pub exhaustive_matching: bool,
    /// Venue check-in and presence tracing (`[sim.venues]`); absent: venues have no QR code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub venues: Option<VenueParams>,
}

/// Default chaff rate: a fake upload on one day in ten per app user.
pub const DEFAULT_CHAFF_PER_DAY: f64 = 0.1;

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            phones: 10_000,
            days: 21,
            adoption: 0.6,
            noise_db: 4.0,
            calibration_scale: 1.0,
            close_minutes: 15,
            close_metres: 2.0,
            case_report_share: 0.5,
            initial_infections: None,
            extra_fetchers: 3,
            epidemic: EpidemicParams::default(),
            chaff_per_day: DEFAULT_CHAFF_PER_DAY,
            population: PopulationParams::default(),
            timing: TimingParams::default(),
            sniffer: SnifferParams::default(),
            exhaustive_matching: false,
            venues: None,
        }
    }
}

impl SimConfig {
    /// Defaults for `phones` people.
    pub fn new(seed: u64, phones: usize, days: u32, adoption: f64) -> Self {
        SimConfig {
            seed,
            phones,
            days,
            adoption,
            ..SimConfig::default()
        }
    }

    /// Initially infected people.
    pub fn initial(&self) -> usize {
        self.initial_infections
            .unwrap_or((self.phones / 1000).max(5))
            .min(self.phones)
    }

    /// Rejects values the model cannot use, with the reason.
    pub fn check(&self) -> Result<(), SimError> {
        let bad = |what: &str| Err(SimError::Config(what.to_string()));
        let finite = [
            self.adoption,
            self.noise_db,
            self.calibration_scale,
            self.close_metres,
            self.case_report_share,
            self.chaff_per_day,
        ]
        .iter()
        .all(|v| v.is_finite());
        if !finite {
            return bad("numeric parameters must be finite numbers");
        }
        if !(10..=2_000_000).contains(&self.phones) {
            return bad("phones must be between 10 and 2,000,000");
        }
        if !(1..=120).contains(&self.days) {
            return bad("days must be between 1 and 120");
        }
        if !(0.0..=1.0).contains(&self.adoption) {
            return bad("adoption must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&self.case_report_share) {
            return bad("case_report_share must be between 0 and 1");
        }
        if !(0.0..=30.0).contains(&self.noise_db) {
            return bad("noise_db must be between 0 and 30");
        }
        if !(0.0..=10.0).contains(&self.calibration_scale) {
            return bad("calibration_scale must be between 0 and 10");
        }
        if !(self.close_metres > 0.0 && self.close_metres <= 15.0) {
            return bad("close_metres must be above 0 and at most 15");
        }
        if self.close_minutes < 1 {
            return bad("close_minutes must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.chaff_per_day) {
            return bad("chaff_per_day must be between 0 and 1");
        }
        if self.extra_fetchers > 64 {
            return bad("extra_fetchers must be at most 64");
        }
        self.epidemic.check()?;
        self.population.check()?;
        self.timing.check()?;
        if let Some(v) = &self.venues {
            v.check()?;
        }
        self.sniffer.check()
    }
}
