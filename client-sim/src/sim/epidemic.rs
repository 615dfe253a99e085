//! Infection and its course: infectiousness by days since symptom onset, who seeks a test,
//! isolation as a time span, and the expected hospitalisations of an infection by age.
//!
//! A person's course is drawn from their own stream (`Stream::Course`), keyed by the person
//! and not by the day or the order of infection: a person infected in both a run and its
//! counterfactual has the same course, shifted to the day they were infected.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::error::SimError;
use super::population::AGE_BANDS;
use super::streams::{rng, Stream};
use super::timing::{TimingParams, DAY};

/// One person's course of infection and isolation. Days are simulation days (negative for
/// the initial cases' past); times are seconds since the simulation's epoch.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Day of infection.
    pub infected: Option<i32>,
    /// Day symptoms begin (None: asymptomatic or not infected).
    pub onset: Option<i32>,
    /// First infectious day.
    pub infectious_from: i32,
    /// Last infectious day.
    pub infectious_to: i32,
    /// Isolating from this time…
    pub isolating_from: i64,
    /// …until this time (exclusive).
    pub isolating_until: i64,
}

/// Parameters of the infection, testing and isolation model (`[sim.epidemic]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct EpidemicParams {
    /// Transmission rate per minute at ≤1 m with full infectiousness.
    pub beta: f64,
    /// Fraction of infections without symptoms.
    pub asymptomatic: f64,
    /// Probability that a symptomatic person seeks a test.
    pub p_seek_test: f64,
    /// Probability that a notified person gets tested.
    pub p_test_when_notified: f64,
    /// Probability that a confirmed app user uploads their keys.
    pub p_upload: f64,
    /// Days a confirmed case isolates from the result.
    pub isolation_days: f64,
    /// Days a notified person quarantines from the notification.
    pub quarantine_days: f64,
    /// Whether notified people quarantine.
    pub notified_isolate: bool,
    /// Probability that an infection leads to hospital, by age band (0–9 … 80+).
    pub hospitalisation_by_age: [f64; AGE_BANDS],
}

impl Default for EpidemicParams {
    /// Hospitalisation by age: the proportion of infections hospitalised in China's first
    /// wave (Verity et al., Lancet Infect Dis 2020, table 3).
    fn default() -> Self {
        EpidemicParams {
            beta: 0.003,
            asymptomatic: 0.3,
            p_seek_test: 0.6,
            p_test_when_notified: 0.8,
            p_upload: 1.0,
            isolation_days: 10.0,
            quarantine_days: 10.0,
            notified_isolate: true,
            hospitalisation_by_age: [
                0.0, 0.000408, 0.0104, 0.0343, 0.0425, 0.0816, 0.118, 0.166, 0.184,
            ],
        }
    }
}

impl EpidemicParams {
    /// Rejects values the model cannot use.
    pub(super) fn check(&self) -> Result<(), SimError> {
        let p = [
            self.beta,
            self.asymptomatic,
            self.p_seek_test,
            self.p_test_when_notified,
            self.p_upload,
        ];
        let probs_ok = p
            .iter()
            .chain(&self.hospitalisation_by_age)
            .all(|x| (0.0..=1.0).contains(x));
        let days_ok = [self.isolation_days, self.quarantine_days]
            .iter()
            .all(|d| d.is_finite() && (0.0..=60.0).contains(d));
        if probs_ok && days_ok {
            Ok(())
        } else {
            Err(SimError::Config(
                "epidemic: beta and probabilities must be between 0 and 1, isolation and quarantine 0–60 days".into(),
            ))
        }
    }
}

/// What the course of an infection brings besides infectiousness: the time of a test
/// sought for symptoms and the time of its result.
pub(super) struct SoughtTest {
    /// When the sample is taken.
    pub test: i64,
    /// When the result arrives.
    pub result: i64,
}

impl Health {
    /// Infects person `p` on `day` with their course: incubation 4–7 days; infectious from
    /// 2 days before onset to 7 after (asymptomatic: days 3–10 after infection). Returns the
    /// test they seek for symptoms, if they do.
    pub(super) fn infect(
        &mut self,
        p: u32,
        day: i32,
        ep: &EpidemicParams,
        timing: &TimingParams,
        seed: u64,
    ) -> Option<SoughtTest> {
        let mut r = rng(seed, Stream::Course, u64::from(p), 0);
        let (asymptomatic, incubation, seeks, h1, h2) = (
            r.gen_bool(ep.asymptomatic),
            r.gen_range(4..=7),
            r.gen_bool(ep.p_seek_test),
            r.gen::<u64>(),
            r.gen::<u64>(),
        );
        self.infected = Some(day);
        if asymptomatic {
            self.onset = None;
            self.infectious_from = day + 3;
            self.infectious_to = day + 10;
            return None;
        }
        let onset = day + incubation;
        self.onset = Some(onset);
        self.infectious_from = onset - 2;
        self.infectious_to = onset + 7;
        seeks.then(|| {
            let test = i64::from(onset) * DAY + 8 * 3600 + timing.seek_test_delay.seconds(h1);
            SoughtTest {
                test,
                result: test + timing.test_result_delay.seconds(h2),
            }
        })
    }

    /// Relative infectiousness on `day` (0 when not infectious; highest around onset).
    pub fn infectiousness(&self, day: i32) -> f64 {
        if self.infected.is_none() || day < self.infectious_from || day > self.infectious_to {
            return 0.0;
        }
        match self.onset {
            Some(o) if (day - o).abs() <= 2 => 1.0,
            Some(_) => 0.5,
            None => 0.4,
        }
    }

    /// True if infectable.
    pub fn susceptible(&self) -> bool {
        self.infected.is_none()
    }

    /// Whether a test taken on `day` is positive (infected and not long recovered).
    pub fn tests_positive(&self, day: i32) -> bool {
        self.infected
            .is_some_and(|i| day >= i + 2 && day <= self.infectious_to + 7)
    }

    /// True if isolating at time `t`.
    pub fn isolating_at(&self, t: i64) -> bool {
        self.isolating_from <= t && t < self.isolating_until
    }

    /// True if isolating at any time of `day`.
    pub fn isolating_on(&self, day: i32) -> bool {
        let start = i64::from(day) * DAY;
        self.isolating_from < start + DAY && start < self.isolating_until
    }

    /// Isolates from `t` for `seconds` (extending a current isolation); returns the seconds
    /// of isolation added.
    pub fn isolate(&mut self, t: i64, seconds: i64) -> i64 {
        let end = t + seconds;
        if self.isolating_at(t) {
            let added = (end - self.isolating_until).max(0);
            self.isolating_until = self.isolating_until.max(end);
            added
        } else {
            self.isolating_from = t;
            self.isolating_until = end;
            seconds
        }
    }
}

/// Probability that a session of `minutes` at `metres` transmits, at infectiousness `inf`.
pub fn transmission_probability(beta: f64, minutes: f64, metres: f64, inf: f64) -> f64 {
    let proximity = 1.0 / metres.max(1.0).powi(2);
    1.0 - (-beta * minutes * proximity * inf).exp()
}
