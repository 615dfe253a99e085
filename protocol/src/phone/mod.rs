//! The phone, sans IO: its chain follower (and, in the rest of this module, its keys, scans,
//! exposures and their persistence).
//!
//! - [`ChainFollower`] (`follower`): follows a hash chain of export-signed batches from its
//!   signed index, refusing stale, rolled-back, forked and gapped chains.

mod follower;

pub use follower::{
    ChainFollower, ChainHead, ChainedBatch, FollowerConfig, FollowerState, IndexUpdate,
    KeyFollower, Resync, DEFAULT_MAX_AGE_SECONDS, DEFAULT_MAX_FUTURE_SECONDS,
};
