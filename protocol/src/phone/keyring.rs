//! The phone's own keys: one temporary exposure key per UTC day, what to broadcast now, and
//! which keys to upload if its owner tests positive.

use std::fmt;

use rand_core::CryptoRngCore;

use crate::derive::{KeySchedule, Metadata, Rpi};
use crate::keys::TemporaryExposureKey;
use crate::time::{IntervalNumber, UnixTime, TEK_ROLLING_PERIOD};
use crate::wire::key::UploadKey;

/// Days a key is kept after its own: the server accepts keys that ended less than 14 days ago
/// (`validate::UploadPolicy::max_key_age_days`), so the ring holds today's key and 14 more.
pub const KEY_RETENTION_DAYS: u32 = 14;
/// Most keys a ring holds (a clock that jumps forward and back can leave keys of future
/// days; past this bound the oldest go first).
pub const MAX_RING_KEYS: usize = 32;

/// One day's key.
struct DailyKey {
    /// UTC day number; the key is valid for its 144 intervals.
    day: u32,
    key: TemporaryExposureKey,
}

/// The phone's temporary exposure keys, by day. Secret: its `Debug` shows only the days.
#[derive(Default)]
pub struct KeyRing {
    /// By strictly increasing day.
    keys: Vec<DailyKey>,
}

/// What the phone broadcasts during one interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Broadcast {
    /// The rolling proximity identifier.
    pub rpi: Rpi,
    /// The Bluetooth metadata, encrypted under the day's AEM key with the RPI as IV.
    pub aem: [u8; 4],
    /// The interval the RPI belongs to; broadcast a new one when it ends.
    pub interval: IntervalNumber,
}

/// The last UTC day whose first interval fits an ENIntervalNumber.
const LAST_DAY: u32 = u32::MAX / TEK_ROLLING_PERIOD - 1;

fn day_of(now: UnixTime) -> u32 {
    now.interval().day().min(LAST_DAY)
}

impl KeyRing {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes sure `now`'s day has a key (drawing it from `rng`) and drops the keys that are
    /// too old to upload. Returns true if it drew a new key.
    pub fn rotate(&mut self, now: UnixTime, rng: &mut impl CryptoRngCore) -> bool {
        let today = day_of(now);
        self.keys
            .retain(|k| k.day.saturating_add(KEY_RETENTION_DAYS) >= today);
        let fresh = match self.keys.binary_search_by_key(&today, |k| k.day) {
            Ok(_) => false,
            Err(at) => {
                let key = TemporaryExposureKey::generate(rng);
                self.keys.insert(at, DailyKey { day: today, key });
                true
            }
        };
        if self.keys.len() > MAX_RING_KEYS {
            self.keys.drain(..self.keys.len() - MAX_RING_KEYS);
        }
        fresh
    }

    /// The key of `now`'s day, if the ring has one.
    pub fn current(&self, now: UnixTime) -> Option<&TemporaryExposureKey> {
        let today = day_of(now);
        self.keys
            .binary_search_by_key(&today, |k| k.day)
            .ok()
            .map(|i| &self.keys[i].key)
    }

    /// What to broadcast during `now`'s interval, with Bluetooth `metadata` (version, transmit
    /// power) in the AEM; `None` if the ring has no key for today (see [`Self::rotate`]).
    pub fn broadcast(&self, now: UnixTime, metadata: Metadata) -> Option<Broadcast> {
        let ks = KeySchedule::new(self.current(now)?);
        let interval = now.interval();
        let rpi = ks.rpi(interval);
        let aem = ks
            .aem(&rpi, &metadata.to_bytes())
            .try_into()
            .expect("4 bytes of metadata");
        Some(Broadcast { rpi, aem, interval })
    }

    /// The keys to upload after a positive test: every key of the last 14 days and today's
    /// (the server holds today's back until it has expired), oldest first. Transmission risk
    /// 0 lets the server derive it from the report type.
    pub fn upload_keys(&self, now: UnixTime) -> Vec<UploadKey> {
        let today = day_of(now);
        self.keys
            .iter()
            .filter(|k| k.day <= today && k.day.saturating_add(KEY_RETENTION_DAYS) >= today)
            .map(|k| UploadKey {
                key: k.key.clone(),
                rolling_start: IntervalNumber(k.day * TEK_ROLLING_PERIOD),
                rolling_period: TEK_ROLLING_PERIOD as u8,
                transmission_risk: 0,
            })
            .collect()
    }

    /// The keys with their UTC day numbers, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &TemporaryExposureKey)> {
        self.keys.iter().map(|k| (k.day, &k.key))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True if the ring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Rebuilds a ring from stored keys; the caller checked that days strictly increase, fit
    /// an interval number, and that there are at most [`MAX_RING_KEYS`].
    pub(super) fn from_stored(keys: Vec<(u32, TemporaryExposureKey)>) -> Self {
        debug_assert!(keys.windows(2).all(|w| w[0].0 < w[1].0));
        KeyRing {
            keys: keys
                .into_iter()
                .map(|(day, key)| DailyKey { day, key })
                .collect(),
        }
    }

    /// The last day a key may have (its first interval must fit a `u32`).
    pub(super) const LAST_DAY: u32 = LAST_DAY;
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("days", &self.keys.iter().map(|k| k.day).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    const DAY: u64 = 86_400;

    #[test]
    fn one_key_a_day_fifteen_kept_none_printed() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let mut ring = KeyRing::new();
        let t0 = 20_000 * DAY;
        assert!(ring
            .broadcast(
                UnixTime(t0),
                Metadata {
                    version: 0x40,
                    tx_power: -8
                }
            )
            .is_none());
        for d in 0..40 {
            let now = UnixTime(t0 + d * DAY + 3600);
            assert!(ring.rotate(now, &mut rng));
            assert!(!ring.rotate(now.plus(600), &mut rng));
            assert_eq!(ring.len(), (d as usize + 1).min(15));
        }
        let now = UnixTime(t0 + 39 * DAY + 7200);
        let up = ring.upload_keys(now);
        assert_eq!(up.len(), 15);
        assert_eq!(up[14].rolling_start, IntervalNumber((20_000 + 39) * 144));
        assert_eq!(up[0].rolling_start, IntervalNumber((20_000 + 25) * 144));
        // The server's own age rule accepts every one of them.
        crate::validate::validate_keys(&up, now, &crate::validate::UploadPolicy::default())
            .unwrap();
        let printed = format!("{ring:?}");
        let hex = crate::hex::encode(ring.current(now).unwrap().as_bytes());
        assert!(!printed.contains(&hex[..8]), "{printed}");
    }

    #[test]
    fn broadcast_is_the_gaen_schedule_of_todays_key() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let mut ring = KeyRing::new();
        let now = UnixTime(20_000 * DAY + 5 * 600 + 17);
        ring.rotate(now, &mut rng);
        let meta = Metadata {
            version: 0x40,
            tx_power: -12,
        };
        let b = ring.broadcast(now, meta).unwrap();
        let ks = KeySchedule::new(ring.current(now).unwrap());
        assert_eq!(b.interval, IntervalNumber(20_000 * 144 + 5));
        assert_eq!(b.rpi, ks.rpi(b.interval));
        let back: [u8; 4] = ks.aem(&b.rpi, &b.aem).try_into().unwrap();
        assert_eq!(Metadata::from_bytes(back), meta);
    }

    #[test]
    fn clock_jumps_keep_the_ring_bounded() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let mut ring = KeyRing::new();
        for d in (0..100).chain(0..100) {
            ring.rotate(UnixTime((20_000 + d * 7) * DAY), &mut rng);
            assert!(ring.len() <= MAX_RING_KEYS);
        }
        ring.rotate(UnixTime(u64::MAX), &mut rng);
        assert!(ring.iter().all(|(d, _)| d <= LAST_DAY));
    }
}
