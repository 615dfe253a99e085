//! The phone, sans IO: everything a phone decides, as state machines that take bytes, `now`
//! and a random number generator, and never do IO themselves.
//!
//! - [`Phone`] (`device`): one phone: its keys, scans, chain followers (home region and
//!   visited regions, `regions`), risk configuration and exposure results; matches and scores
//!   each newly verified batch of every followed region.
//! - [`ChainFollower`] (`follower`, `plan`, `chain_state`): follows a hash chain of
//!   export-signed batches from its signed index, refusing stale, rolled-back, forked and
//!   gapped chains.
//! - [`KeyRing`] (`keyring`): one temporary exposure key per UTC day, what to broadcast, what
//!   to upload.
//! - [`ExposureDay`] (`exposure`): per-day exposure results.
//! - `state`: the phone's stored state, a strict, canonical byte format
//!   (spec/wire-format.md §9) that holds its secret keys.
//!
//! The IO around it only moves bytes and reads the clock:
//!
//! ```
//! use en_protocol::derive::Metadata;
//! use en_protocol::keys::SigningKey;
//! use en_protocol::phone::{FollowerConfig, Phone};
//! use en_protocol::wire::{index::Index, Region};
//! use en_protocol::UnixTime;
//! use rand_chacha::rand_core::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1); // a CSPRNG on a real phone
//! let export = SigningKey::generate(&mut rng); // the server's export key
//! let region = Region::new("VN").unwrap();
//! let config = FollowerConfig::new(export.public_key().into(), region.clone());
//! let mut phone = Phone::new(config.clone());
//!
//! let now = UnixTime(1_700_000_000);
//! phone.handle_timeout(now, &mut rng); // today's key; old keys, scans, exposures go
//! let ble = phone.broadcast(now, Metadata { version: 0x40, tx_power: -10 }, &mut rng);
//! assert_eq!(ble.interval, now.interval());
//!
//! // The IO layer downloads the index and hands it over, then fetches what poll_fetch names.
//! let index = Index { region, generated_at: now, entries: vec![] }.sign(&export).unwrap();
//! phone.handle_index(&index, now).unwrap();
//! assert!(phone.poll_fetch().is_none()); // nothing published yet
//!
//! let stored = phone.encode(); // secret: it holds the phone's keys
//! let again = Phone::decode(&stored, config).unwrap();
//! assert_eq!(again.encode(), stored);
//! ```

mod chaff;
mod chain_state;
mod device;
mod exposure;
mod follower;
mod keyring;
mod plan;
mod regions;
mod state;

pub use chaff::ChaffSchedule;
pub use chain_state::{
    ChainHead, ChainedBatch, FollowerConfig, FollowerState, IndexUpdate, Resync,
    DEFAULT_MAX_AGE_SECONDS, DEFAULT_MAX_FUTURE_SECONDS,
};
pub use device::{BatchMatch, Phone, MAX_SCANS};
pub use exposure::{
    ExposureDay, KeyContribution, MatchedKey, EXPOSURE_RETENTION_DAYS, MAX_EXPOSURE_DAYS,
    MAX_KEY_DAYS, MAX_MATCHED_KEYS,
};
pub use follower::{ChainFollower, KeyFollower, TraceFollower};
pub use keyring::{Broadcast, KeyRing, KEY_RETENTION_DAYS, MAX_RING_KEYS};
pub use regions::{MAX_VISITED_REGIONS, VISITED_REGION_RETENTION_DAYS};
pub use state::{MAGIC as STATE_MAGIC, VERSION as STATE_VERSION};
