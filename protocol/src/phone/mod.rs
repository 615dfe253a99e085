//! The phone, sans IO: its chain follower (and, in the rest of this module, its keys, scans,
//! exposures and their persistence).
//!
//! - [`ChainFollower`] (`follower`): follows a hash chain of export-signed batches from its
//!   signed index, refusing stale, rolled-back, forked and gapped chains.

mod chain_state;
mod follower;
mod plan;

pub use chain_state::{
    ChainHead, ChainedBatch, FollowerConfig, FollowerState, IndexUpdate, Resync,
    DEFAULT_MAX_AGE_SECONDS, DEFAULT_MAX_FUTURE_SECONDS,
};
pub use follower::{ChainFollower, KeyFollower};
