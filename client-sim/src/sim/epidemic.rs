//! Infection and testing: a SEIR course per person with infectiousness by days since symptom
//! onset, symptomatic people seeking a test with a delay, notified people testing and isolating.

use rand::Rng;
use rand_chacha::ChaCha20Rng;

/// One person's course of infection and testing. Days are simulation days (may be negative
/// for the initial cases).
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
    /// Day of a scheduled test.
    pub test_day: Option<i32>,
    /// Isolating until this day (exclusive).
    pub isolating_until: i32,
}

/// Parameters of the infection and testing model.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpidemicParams {
    /// Transmission rate per minute at ≤1 m with full infectiousness.
    pub beta: f64,
    /// Fraction of infections without symptoms.
    pub asymptomatic: f64,
    /// Probability that a symptomatic person seeks a test.
    pub p_seek_test: f64,
    /// Probability that a notified person gets tested.
    pub p_test_when_notified: f64,
    /// Days of isolation after a positive test or a notification.
    pub isolation_days: i32,
    /// Whether notified people isolate.
    pub notified_isolate: bool,
}

impl Default for EpidemicParams {
    fn default() -> Self {
        EpidemicParams {
            beta: 0.003,
            asymptomatic: 0.3,
            p_seek_test: 0.6,
            p_test_when_notified: 0.8,
            isolation_days: 10,
            notified_isolate: true,
        }
    }
}

impl Health {
    /// Infects on `day`: incubation 4–7 days; infectious from 2 days before onset to 7 after
    /// (asymptomatic: days 3–10 after infection).
    pub fn infect(&mut self, day: i32, p: &EpidemicParams, rng: &mut ChaCha20Rng) {
        self.infected = Some(day);
        if rng.gen_bool(p.asymptomatic) {
            self.onset = None;
            self.infectious_from = day + 3;
            self.infectious_to = day + 10;
        } else {
            let onset = day + rng.gen_range(4..=7);
            self.onset = Some(onset);
            self.infectious_from = onset - 2;
            self.infectious_to = onset + 7;
            if rng.gen_bool(p.p_seek_test) {
                self.test_day = Some(onset + rng.gen_range(0..=2));
            }
        }
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

    /// True if isolating on `day`.
    pub fn isolating(&self, day: i32) -> bool {
        day < self.isolating_until
    }
}

/// Probability that a session of `minutes` at `metres` transmits, at infectiousness `inf`.
pub fn transmission_probability(beta: f64, minutes: f64, metres: f64, inf: f64) -> f64 {
    let proximity = 1.0 / metres.max(1.0).powi(2);
    1.0 - (-beta * minutes * proximity * inf).exp()
}
