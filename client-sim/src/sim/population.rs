//! The population: people with an age band, households, workplaces and schools, transit
//! stations, phones and their calibration, and who runs the app.

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::error::SimError;
use super::streams::{rng, unit, Stream};

/// Phone models: (advertised transmit power dBm, receiver RSSI offset dB). The offsets are what
/// makes attenuation differ between models; `--calibration-db` scales them (0 = perfect).
pub const MODELS: [(i8, f64); 5] = [(-8, -4.0), (-4, -2.0), (0, 0.0), (4, 2.0), (8, 5.0)];

/// No group (retired, unemployed, infants), or no station (does not commute by transit).
pub const NONE: u32 = u32::MAX;

/// Age bands of ten years: 0–9, 10–19, …, 80+.
pub const AGE_BANDS: usize = 9;

/// Who lives where and how (`[sim.population]` in a scenario).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PopulationParams {
    /// Relative frequency of households of 1, 2, 3, … people.
    pub household_sizes: Vec<f64>,
    /// Relative frequency of the age bands 0–9, 10–19, …, 80+.
    pub age_weights: [f64; AGE_BANDS],
    /// Fraction of people aged 20–59 in a workplace (others aged 10–19 work at half this).
    pub employment: f64,
    /// Fraction of people with a workplace or school who commute through a transit station
    /// on weekdays.
    pub transit_share: f64,
    /// Transit stations per 100,000 people.
    pub stations_per_100k: f64,
    /// Venues (shops, markets, cafés) per 1,000 people.
    pub venues_per_1000: f64,
    /// Probability that a person visits a venue on a given day.
    pub venue_visit_probability: f64,
}

impl Default for PopulationParams {
    /// Households averaging 3.5 people, the 2019 census mean of Vietnam (GSO; the shape of
    /// the distribution is ours), and ages in roughly the shape of its 2019 pyramid.
    fn default() -> Self {
        PopulationParams {
            household_sizes: vec![0.10, 0.18, 0.22, 0.27, 0.13, 0.06, 0.04],
            age_weights: [
                0.163, 0.146, 0.150, 0.165, 0.143, 0.116, 0.077, 0.027, 0.013,
            ],
            employment: 0.75,
            transit_share: 0.2,
            stations_per_100k: 50.0,
            venues_per_1000: 4.0,
            venue_visit_probability: 0.5,
        }
    }
}

impl PopulationParams {
    /// Rejects values the model cannot use.
    pub(super) fn check(&self) -> Result<(), SimError> {
        let weights_ok = |w: &[f64]| {
            !w.is_empty()
                && w.iter().all(|x| x.is_finite() && *x >= 0.0)
                && w.iter().sum::<f64>() > 0.0
        };
        let unit_ok = |x: f64| (0.0..=1.0).contains(&x);
        if !weights_ok(&self.household_sizes) || self.household_sizes.len() > 20 {
            return Err(SimError::Config(
                "population.household_sizes: 1 to 20 non-negative weights, not all zero".into(),
            ));
        }
        if !weights_ok(&self.age_weights) {
            return Err(SimError::Config(
                "population.age_weights: non-negative, not all zero".into(),
            ));
        }
        if !unit_ok(self.employment)
            || !unit_ok(self.transit_share)
            || !unit_ok(self.venue_visit_probability)
        {
            return Err(SimError::Config("population: employment, transit_share and venue_visit_probability are between 0 and 1".into()));
        }
        let dens = |x: f64| x.is_finite() && x > 0.0 && x <= 1000.0;
        if !dens(self.stations_per_100k) || !dens(self.venues_per_1000) {
            return Err(SimError::Config("population: stations_per_100k and venues_per_1000 must be above 0 and at most 1000".into()));
        }
        Ok(())
    }

    /// Mean household size (by household).
    pub fn mean_household_size(&self) -> f64 {
        let total: f64 = self.household_sizes.iter().sum();
        self.household_sizes
            .iter()
            .enumerate()
            .map(|(i, w)| (i + 1) as f64 * w)
            .sum::<f64>()
            / total
    }
}

/// One person.
#[derive(Debug, Clone)]
pub struct Person {
    /// Workplace or school index, or [`NONE`].
    pub group: u32,
    /// Transit station used to commute, or [`NONE`].
    pub station: u32,
    /// Age band (0: 0–9 … 8: 80+).
    pub age_band: u8,
    /// Uses the app.
    pub app: bool,
    /// Phone model index into [`MODELS`].
    pub model: u8,
    /// The phone's clock error, seconds.
    pub skew: i32,
}

/// Households, groups and people.
pub struct Population {
    /// People.
    pub people: Vec<Person>,
    /// Members of each household.
    pub households: Vec<Vec<u32>>,
    /// Members of each workplace or school.
    pub groups: Vec<Vec<u32>>,
    /// Transit stations.
    pub stations: u32,
    /// Venues.
    pub venues: u32,
}

fn pick(weights: &[f64], u: f64) -> usize {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w / total;
        if u < acc {
            return i;
        }
    }
    weights.len() - 1
}

impl Population {
    /// Builds `n` people from the population stream of `seed`; app users from the adoption
    /// stream (person p uses the app iff its uniform is below `adoption`).
    pub fn new(n: usize, adoption: f64, params: &PopulationParams, seed: u64) -> Self {
        let mut r = rng(seed, Stream::Population, 0, 0);
        let stations = ((n as f64 * params.stations_per_100k / 100_000.0).round() as u32).max(1);
        let venues = ((n as f64 * params.venues_per_1000 / 1000.0).round() as u32).max(1);
        let mut people = Vec::with_capacity(n);
        let mut households = Vec::new();
        while people.len() < n {
            let size = (pick(&params.household_sizes, r.gen()) + 1).min(n - people.len());
            let station = r.gen_range(0..stations);
            let mut members = Vec::with_capacity(size);
            for _ in 0..size {
                let p = people.len() as u32;
                members.push(p);
                people.push(Person {
                    group: NONE,
                    station,
                    age_band: pick(&params.age_weights, r.gen()) as u8,
                    app: unit(seed, Stream::Adoption, u64::from(p), 0) < adoption,
                    model: r.gen_range(0..MODELS.len() as u8),
                    skew: r.gen_range(-300..=300),
                });
            }
            households.push(members);
        }
        // Pupils (most of ages 5–19) and workers (ages 20–59, some teenagers and sixties).
        let (mut pupils, mut workers) = (Vec::new(), Vec::new());
        for (p, person) in people.iter().enumerate() {
            let (school, work) = match person.age_band {
                0 => (0.5, 0.0),
                1 => (0.7, params.employment / 2.0),
                2..=5 => (0.0, params.employment),
                6 => (0.0, params.employment / 3.0),
                _ => (0.0, 0.0),
            };
            let u: f64 = r.gen();
            if u < school {
                pupils.push(p as u32);
            } else if u < school + work {
                workers.push(p as u32);
            }
        }
        pupils.shuffle(&mut r);
        workers.shuffle(&mut r);
        let mut groups = Vec::new();
        for (list, lo, hi) in [(&pupils, 25, 45), (&workers, 10, 40)] {
            let mut i = 0;
            while i < list.len() {
                let size = r.gen_range(lo..=hi).min(list.len() - i);
                groups.push(list[i..i + size].to_vec());
                i += size;
            }
        }
        for (g, members) in groups.iter().enumerate() {
            for &p in members {
                people[p as usize].group = g as u32;
            }
        }
        for person in &mut people {
            if person.group == NONE || !r.gen_bool(params.transit_share) {
                person.station = NONE;
            }
        }
        Population {
            people,
            households,
            groups,
            stations,
            venues,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn households_ages_and_adoption() {
        let params = PopulationParams::default();
        assert!((params.mean_household_size() - 3.49).abs() < 0.01);
        let a = Population::new(20_000, 0.3, &params, 4);
        let b = Population::new(20_000, 0.6, &params, 4);
        let mean = 20_000.0 / a.households.len() as f64;
        assert!((mean - 3.49).abs() < 0.1, "{mean}");
        // App users at 0.3 are a subset of those at 0.6; nothing else changes.
        for (x, y) in a.people.iter().zip(&b.people) {
            assert!(!x.app || y.app);
            assert_eq!(
                (x.group, x.station, x.age_band),
                (y.group, y.station, y.age_band)
            );
        }
        let users = a.people.iter().filter(|p| p.app).count() as f64 / 20_000.0;
        assert!((users - 0.3).abs() < 0.02, "{users}");
        let commuters = a.people.iter().filter(|p| p.station != NONE).count();
        assert!(commuters > 1000 && commuters < 4000, "{commuters}");
    }
}
