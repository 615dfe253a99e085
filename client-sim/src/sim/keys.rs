//! The phones' temporary exposure keys and the RPIK ciphers derived from them: a
//! deterministic function of the seed, person and day, so keys are never stored.

use std::collections::HashMap;

use aes::cipher::KeyInit;
use aes::Aes128;
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::matching::RpikDeriver;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::ble::mix;
use super::EPOCH;

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

/// RPIK ciphers derived when first needed, for one phone's matching (a phone regenerates
/// the scans of a few senders; deriving their ciphers there costs less than keeping every
/// app user's ciphers for 17 days).
pub(super) struct Ciphers {
    seed: u64,
    deriver: RpikDeriver,
    cache: HashMap<(u32, i64), Aes128>,
}

impl Ciphers {
    /// An empty cache for the world of `seed`.
    pub fn new(seed: u64) -> Self {
        Ciphers {
            seed,
            deriver: RpikDeriver::default(),
            cache: HashMap::new(),
        }
    }

    /// Person `person`'s RPIK cipher on `day`.
    pub fn get(&mut self, person: u32, day: i64) -> &Aes128 {
        let (seed, deriver) = (self.seed, &self.deriver);
        self.cache
            .entry((person, day))
            .or_insert_with(|| Aes128::new(&deriver.rpik(&tek(seed, person, day)).into()))
    }
}
