//! The population: people, households, workplaces and schools, phones and their calibration.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha20Rng;

/// Phone models: (advertised transmit power dBm, receiver RSSI offset dB). The offsets are what
/// makes attenuation differ between models; `--calibration-db` scales them (0 = perfect).
pub const MODELS: [(i8, f64); 5] = [(-8, -4.0), (-4, -2.0), (0, 0.0), (4, 2.0), (8, 5.0)];

/// No group (retired, unemployed, infants).
pub const NO_GROUP: u32 = u32::MAX;

/// One person.
#[derive(Debug, Clone)]
pub struct Person {
    /// Workplace or school index, or [`NO_GROUP`].
    pub group: u32,
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
}

impl Population {
    /// Builds `n` people: households of 1–7 (mean about 3.5, as in Vietnam's census), 70% in a
    /// workplace (10–40 people) or school (25–45 pupils), app adoption `adoption`.
    pub fn new(n: usize, adoption: f64, rng: &mut ChaCha20Rng) -> Self {
        let mut people = Vec::with_capacity(n);
        let mut households = Vec::new();
        while people.len() < n {
            let size =
                [1, 2, 3, 3, 4, 4, 4, 5, 5, 6, 7][rng.gen_range(0..11)].min(n - people.len());
            let mut members = Vec::with_capacity(size);
            for _ in 0..size {
                members.push(people.len() as u32);
                people.push(Person {
                    group: NO_GROUP,
                    app: rng.gen_bool(adoption.clamp(0.0, 1.0)),
                    model: rng.gen_range(0..MODELS.len() as u8),
                    skew: rng.gen_range(-300..=300),
                });
            }
            households.push(members);
        }
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.shuffle(rng);
        let mut groups = Vec::new();
        let mut i = 0;
        let grouped = n * 7 / 10;
        while i < grouped {
            let school = rng.gen_bool(0.35);
            let size = if school {
                rng.gen_range(25..=45)
            } else {
                rng.gen_range(10..=40)
            }
            .min(grouped - i);
            let g = groups.len() as u32;
            let members: Vec<u32> = order[i..i + size].to_vec();
            for &p in &members {
                people[p as usize].group = g;
            }
            groups.push(members);
            i += size;
        }
        Population {
            people,
            households,
            groups,
        }
    }
}
