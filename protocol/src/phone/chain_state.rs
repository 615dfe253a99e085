//! What a [`super::ChainFollower`] is configured with, what it remembers across restarts,
//! and what it reports: plain values, no logic beyond construction.

use std::fmt;

use crate::time::UnixTime;
use crate::verify::ExportKeys;
use crate::wire::batch::{BatchHash, BatchHeader};
use crate::wire::Region;

/// Default largest age of a signed index or risk configuration: 6 hours. The server re-signs
/// both every hour, so an honest server stays well inside it.
pub const DEFAULT_MAX_AGE_SECONDS: u64 = 6 * 3600;
/// Default allowance for a signed time ahead of the phone's clock: 2 hours (as GAEN's skew).
pub const DEFAULT_MAX_FUTURE_SECONDS: u64 = 2 * 3600;

/// What a follower trusts and how strict it is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FollowerConfig {
    /// The export keys whose signatures are accepted (several during a rotation).
    pub trusted: ExportKeys,
    /// The region followed.
    pub region: Region,
    /// Largest accepted age of an index or risk configuration, seconds.
    pub max_age_seconds: u64,
    /// Largest accepted lead of a signed time over `now`, seconds.
    pub max_future_seconds: u64,
}

impl FollowerConfig {
    /// Follows `region` with `trusted` keys and the default limits.
    pub fn new(trusted: ExportKeys, region: Region) -> Self {
        FollowerConfig {
            trusted,
            region,
            max_age_seconds: DEFAULT_MAX_AGE_SECONDS,
            max_future_seconds: DEFAULT_MAX_FUTURE_SECONDS,
        }
    }
}

/// The last verified batch of a chain: what the next batch must continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainHead {
    /// Its sequence number.
    pub sequence: u64,
    /// Its SHA-256: the next batch's `prev_hash`.
    pub hash: BatchHash,
    /// Its window end: the next batch's window start.
    pub window_end: UnixTime,
}

impl ChainHead {
    /// A head from its parts (as a phone stored it).
    pub fn new(sequence: u64, hash: BatchHash, window_end: UnixTime) -> Self {
        ChainHead {
            sequence,
            hash,
            window_end,
        }
    }

    /// The head a verified batch with this header makes.
    pub fn of(header: &BatchHeader) -> Self {
        ChainHead {
            sequence: header.sequence,
            hash: header.hash,
            window_end: header.window_end,
        }
    }
}

/// What a follower remembers across restarts (the phone's state persists it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FollowerState {
    /// The last verified batch, if any.
    pub head: Option<ChainHead>,
    /// `generated_at` of the newest accepted index.
    pub index_generated_at: Option<UnixTime>,
    /// `issued_at` of the newest accepted risk configuration.
    pub config_issued_at: Option<UnixTime>,
}

/// What an accepted index changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexUpdate {
    /// When the index was signed.
    pub generated_at: UnixTime,
    /// Batches to fetch now ([`super::ChainFollower::poll_fetch`] gives them in order).
    pub pending: usize,
    /// The newest batch the index lists.
    pub newest_listed: Option<u64>,
}

/// A batch that verified and continues the chain (or starts it, on trust).
#[derive(Debug, Clone)]
pub struct ChainedBatch<B> {
    batch: B,
    on_trust: bool,
}

impl<B> ChainedBatch<B> {
    /// Only the follower makes one, after its checks.
    pub(super) fn new(batch: B, on_trust: bool) -> Self {
        ChainedBatch { batch, on_trust }
    }
    /// The verified batch.
    pub fn batch(&self) -> &B {
        &self.batch
    }
    /// The verified batch, by value.
    pub fn into_batch(self) -> B {
        self.batch
    }
    /// True if there was no head to chain it to: it was accepted on first use.
    pub fn on_trust(&self) -> bool {
        self.on_trust
    }
}

/// What [`super::ChainFollower::resync_from_index`] gave up, for a loud warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resync {
    /// The head that was dropped (`None` for a follower that had none).
    pub dropped_head: Option<u64>,
    /// The first batch that will never be verified.
    pub skipped_from: u64,
    /// The batch the chain is trusted again from (on first use).
    pub resume_at: u64,
}

impl Resync {
    /// How many batches will never be verified (listed or not).
    pub fn skipped(&self) -> u64 {
        self.resume_at - self.skipped_from
    }
}

impl fmt::Display for Resync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RESYNC: batches {}..={} ({} batch(es)) will never be verified; the chain is trusted \
             again, on first use, from batch {}",
            self.skipped_from,
            self.resume_at - 1,
            self.skipped(),
            self.resume_at
        )?;
        match self.dropped_head {
            Some(h) => write!(f, " (last verified batch was {h})"),
            None => Ok(()),
        }
    }
}
