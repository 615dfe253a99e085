//! The phone, sans IO: everything a phone decides, as state machines that take bytes, `now`
//! and a random number generator, and never do IO themselves.
//!
//! - [`Phone`] (`device`): one phone: its keys, scans, chain follower, risk configuration and
//!   exposure results; matches and scores each newly verified batch.
//! - [`ChainFollower`] (`follower`, `plan`, `chain_state`): follows a hash chain of
//!   export-signed batches from its signed index, refusing stale, rolled-back, forked and
//!   gapped chains.
//! - [`KeyRing`] (`keyring`): one temporary exposure key per UTC day, what to broadcast, what
//!   to upload.
//! - [`ExposureDay`] (`exposure`): per-day exposure results.
//! - `state`: the phone's stored state, a strict, canonical byte format
//!   (spec/wire-format.md §9) that holds its secret keys.

mod chain_state;
mod device;
mod exposure;
mod follower;
mod keyring;
mod plan;
mod state;

pub use chain_state::{
    ChainHead, ChainedBatch, FollowerConfig, FollowerState, IndexUpdate, Resync,
    DEFAULT_MAX_AGE_SECONDS, DEFAULT_MAX_FUTURE_SECONDS,
};
pub use device::{BatchMatch, Phone, MAX_SCANS};
pub use exposure::{ExposureDay, EXPOSURE_RETENTION_DAYS, MAX_EXPOSURE_DAYS};
pub use follower::{ChainFollower, KeyFollower};
pub use keyring::{Broadcast, KeyRing, KEY_RETENTION_DAYS, MAX_RING_KEYS};
pub use state::MAGIC as STATE_MAGIC;
