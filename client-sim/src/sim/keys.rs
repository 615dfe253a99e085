//! The phones' temporary exposure keys and the RPIK ciphers derived from them: a
//! deterministic function of the seed, person and day, so keys are never stored.

use std::collections::BTreeMap;

use aes::cipher::KeyInit;
use aes::Aes128;
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::matching::RpikDeriver;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::ble::mix;
use super::population::Person;
use super::EPOCH;

/// Days of ciphers kept: 14 days of scans, the sender's clock skew either side, and today.
const CIPHER_DAYS: usize = 17;

/// Person `person`'s temporary exposure key for simulation day `day`.
pub(super) fn tek(seed: u64, person: u32, day: i64) -> TemporaryExposureKey {
    let mut r =
        ChaCha20Rng::seed_from_u64(mix(seed ^ mix((u64::from(person) << 32) ^ (day as u64))));
    TemporaryExposureKey::from_bytes(r.gen())
}

/// The simulation day of Unix time `t`.
pub(super) fn day_of(t: u64) -> i64 {
    (t / 86_400) as i64 - (EPOCH / 86_400) as i64
}

/// The RPIK ciphers of app users, by day, for the days scans may still be regenerated.
#[derive(Default)]
pub(super) struct Ciphers {
    deriver: RpikDeriver,
    by_day: BTreeMap<i64, Vec<Option<Aes128>>>,
}

impl Ciphers {
    /// Person `person`'s cipher on `day`, if they use the app and the day is kept.
    pub fn get(&self, person: u32, day: i64) -> Option<&Aes128> {
        self.by_day
            .get(&day)
            .and_then(|v| v[person as usize].as_ref())
    }

    /// Derives the ciphers of `day` if missing, and forgets the oldest beyond the window.
    pub fn ensure(&mut self, day: i64, seed: u64, people: &[Person]) {
        if self.by_day.contains_key(&day) {
            return;
        }
        let v = people
            .iter()
            .enumerate()
            .map(|(p, person)| {
                person
                    .app
                    .then(|| Aes128::new(&self.deriver.rpik(&tek(seed, p as u32, day)).into()))
            })
            .collect();
        self.by_day.insert(day, v);
        while self.by_day.len() > CIPHER_DAYS {
            self.by_day.pop_first();
        }
    }
}
