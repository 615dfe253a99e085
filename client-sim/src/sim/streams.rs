//! Named random streams: every random choice of the world is drawn from a stream keyed by
//! what it decides (the seed, the stream's name, and the person, day or event it is about),
//! never from a shared generator whose position depends on what happened before.
//!
//! This is what makes counterfactuals exact (common random numbers): a run with
//! notifications turned off draws the same population, the same contacts, the same
//! transmission coins and the same courses of infection as the run with them, because none
//! of those streams is keyed by anything a notification changes. A notification can only
//! remove sessions (isolation) and add tests; the draws for the sessions that remain and for
//! the people who are infected in both worlds stay the same. The same keying makes app users
//! at adoption 0.3 a subset of those at 0.6 (one uniform per person, compared with the
//! adoption), so a sweep compares like with like.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::ble::mix;

/// What a stream decides. The discriminant separates streams of the same seed.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(super) enum Stream {
    /// Households, ages, workplaces, schools, stations (once per world).
    Population = 0x706f_7075,
    /// Who uses the app: one uniform per person, compared with the adoption.
    Adoption = 0x6164_6f70,
    /// The initial infections (once per world).
    Seeding = 0x7365_6564,
    /// A person's course if infected: symptoms, incubation, seeking a test and its delays.
    Course = 0x636f_7572,
    /// A day's would-be sessions and place visits, drawn as if nobody isolated.
    Contacts = 0x636f_6e74,
    /// One coin per would-be session and direction (keyed by day and session index).
    Transmission = 0x7472_616e,
    /// A notified person's decision to get tested and its delays (keyed by person and
    /// notification time): the only stream a notification creates.
    NotifiedTest = 0x6e74_6573,
    /// A confirmed person's upload: whether, when, which channel, its key bytes.
    Upload = 0x7570_6c6f,
    /// A phone's fetch schedule (phase and per-fetch jitter).
    Fetch = 0x6665_7463,
    /// App users' fake uploads.
    Chaff = 0xc4af_f5ee,
    /// RSSI noise of regenerated scans.
    Radio = 0x7261_6469,
    /// Venue check-in: who checks in and forgets to check out (keyed by person and day), what
    /// a case recalls (keyed by case and visit), and the venue crypto's random bytes.
    Venue = 0x7665_6e75,
}

/// A 64-bit hash of (seed, stream, a, b): independent, well-mixed values for every key.
pub(super) fn hash(seed: u64, stream: Stream, a: u64, b: u64) -> u64 {
    mix(mix(mix(seed ^ (stream as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) ^ a) ^ b)
}

/// A uniform number in [0, 1) keyed by (seed, stream, a, b).
pub(super) fn unit(seed: u64, stream: Stream, a: u64, b: u64) -> f64 {
    (hash(seed, stream, a, b) >> 11) as f64 / (1u64 << 53) as f64
}

/// A ChaCha20 generator keyed by (seed, stream, a, b), for a sequence of draws about one
/// thing (a person's course, a day's contacts).
pub(super) fn rng(seed: u64, stream: Stream, a: u64, b: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(hash(seed, stream, a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_keys_are_independent() {
        let a = hash(1, Stream::Course, 5, 0);
        assert_eq!(a, hash(1, Stream::Course, 5, 0));
        assert_ne!(a, hash(1, Stream::Contacts, 5, 0));
        assert_ne!(a, hash(1, Stream::Course, 6, 0));
        assert_ne!(a, hash(1, Stream::Course, 5, 1));
        assert_ne!(a, hash(2, Stream::Course, 5, 0));
        let mean = (0..10_000)
            .map(|i| unit(3, Stream::Adoption, i, 0))
            .sum::<f64>()
            / 10_000.0;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }
}
