//! [`ChainFollower`]: the sans-IO state machine that follows one hash chain of export-signed
//! batches (key batches and venue trace batches) from its signed index.
//!
//! Quinn's shape: [`ChainFollower::handle_index`], [`ChainFollower::handle_batch`] and
//! [`ChainFollower::handle_config`] take bytes and `now`; [`ChainFollower::poll_fetch`] says
//! which batch to download next. No IO, no clock, no randomness; an error changes nothing.
//!
//! What it refuses (each with its own [`FollowError`] code), and why:
//! - an index or risk configuration older than [`FollowerConfig::max_age_seconds`], dated
//!   beyond the clock-skew allowance, or older than one already accepted: a mirror could
//!   otherwise freeze a phone on old data or roll it back;
//! - an index that contradicts the phone's last verified batch (the head): a different hash at
//!   the head's sequence (fork), nothing at or after the head (rollback), or a first batch
//!   after the head other than head + 1 (gap). The phone never forgets its head on its own: a
//!   gap is only bridged by [`ChainFollower::resync_from_index`], which the caller must call
//!   deliberately and which says what is given up;
//! - a batch other than the one asked for, bytes whose SHA-256 is not the index's, or a batch
//!   that does not continue the head (`prev_hash`, window).
//!
//! **Trust on first use.** A follower with no head (a fresh phone, or one that resynced)
//! accepts the first batch it fetches without knowing its predecessor: that batch's
//! signature is checked, but whether the chain before it was complete cannot be. From then on
//! every batch is chained to it. [`ChainedBatch::on_trust`] says which batch that was.

use std::collections::VecDeque;
use std::marker::PhantomData;

use sha2::{Digest, Sha256};

use super::chain_state::{
    ChainHead, ChainedBatch, FollowerConfig, FollowerState, IndexUpdate, Resync,
};
use super::plan::{check_continues, plan, Planned};
use crate::error::{Error, FollowError, VerifyError};
use crate::time::UnixTime;
use crate::wire::batch::{BatchHash, KeyBatches, GENESIS_HASH};
use crate::wire::chain::ChainFormat;
use crate::wire::config::{SignedRiskConfig, VerifiedRiskConfig};
use crate::wire::index::{IndexEntry, SignedIndex};
use crate::wire::Region;

/// How a signed time fares against the freshness rule.
enum Freshness {
    Fresh,
    /// Further ahead of `now` than clock skew explains.
    Future,
    /// Older than the maximum age (which it carries).
    Stale(u64),
    /// Older than the newest accepted (which it carries).
    Older(UnixTime),
}

/// A gap the caller may choose to bridge with [`ChainFollower::resync_from_index`].
#[derive(Debug, Clone)]
struct GapOffer {
    resync: Resync,
    generated_at: UnixTime,
    entries: Vec<IndexEntry>,
}

/// Follows one hash chain of kind `C` (see the module documentation).
#[derive(Debug, Clone)]
pub struct ChainFollower<C: ChainFormat> {
    config: FollowerConfig,
    state: FollowerState,
    pending: VecDeque<IndexEntry>,
    gap: Option<GapOffer>,
    chain: PhantomData<fn() -> C>,
}

/// The follower of the key chain, the one a phone matches against.
pub type KeyFollower = ChainFollower<KeyBatches>;
/// The follower of the venue trace chain (`ENTX` index, `ENTB` batches).
pub type TraceFollower = ChainFollower<crate::venue::TraceBatches>;

impl<C: ChainFormat> ChainFollower<C> {
    /// A follower with no head: its first batch is trusted on first use.
    pub fn new(config: FollowerConfig) -> Self {
        Self::resume(config, FollowerState::default())
    }

    /// A follower that continues from `state` (from [`Self::state`], persisted by the caller).
    pub fn resume(config: FollowerConfig, state: FollowerState) -> Self {
        ChainFollower {
            config,
            state,
            pending: VecDeque::new(),
            gap: None,
            chain: PhantomData,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FollowerConfig {
        &self.config
    }

    /// What to persist.
    pub fn state(&self) -> &FollowerState {
        &self.state
    }

    /// The last verified batch.
    pub fn head(&self) -> Option<&ChainHead> {
        self.state.head.as_ref()
    }

    /// Verifies a signed index and plans the batches to fetch (see the module documentation
    /// for what it refuses). On success the plan replaces any earlier one.
    pub fn handle_index(&mut self, bytes: &[u8], now: UnixTime) -> Result<IndexUpdate, Error> {
        let verified = SignedIndex::decode_as(bytes, &C::INDEX)?.verify(&self.config.trusted)?;
        let index = verified.index();
        self.check_region(&index.region)?;
        let at = index.generated_at;
        match self.freshness(at, now, self.state.index_generated_at) {
            Freshness::Fresh => {}
            Freshness::Future => {
                return Err(FollowError::FutureIndex {
                    generated_at: at,
                    now,
                }
                .into())
            }
            Freshness::Stale(max_age) => {
                return Err(FollowError::StaleIndex {
                    generated_at: at,
                    now,
                    max_age,
                }
                .into())
            }
            Freshness::Older(newest_accepted) => {
                return Err(FollowError::IndexRollback {
                    generated_at: at,
                    newest_accepted,
                }
                .into())
            }
        }
        self.gap = None;
        let to_fetch = match plan(self.state.head.as_ref(), &index.entries) {
            Ok(to_fetch) => to_fetch,
            Err(Planned::Refused(e)) => return Err(e.into()),
            Err(Planned::Gap(e, resync, resume)) => {
                self.gap = Some(GapOffer {
                    resync,
                    generated_at: index.generated_at,
                    entries: index.entries[resume..].to_vec(),
                });
                return Err(e.into());
            }
        };
        self.pending = to_fetch.iter().cloned().collect();
        self.state.index_generated_at = Some(index.generated_at);
        Ok(IndexUpdate {
            generated_at: index.generated_at,
            pending: self.pending.len(),
            newest_listed: index.entries.last().map(|e| e.sequence),
        })
    }

    /// The next batch to download, as the signed index describes it (its `size` bounds the
    /// download; its `hash` is checked by [`Self::handle_batch`]).
    pub fn poll_fetch(&self) -> Option<&IndexEntry> {
        self.pending.front()
    }

    /// Accepts the batch [`Self::poll_fetch`] asked for: the bytes must be the ones the
    /// index announced, verify under a trusted key, and continue the head. Advances the head.
    pub fn handle_batch(
        &mut self,
        bytes: &[u8],
        now: UnixTime,
    ) -> Result<ChainedBatch<C::Verified>, Error> {
        let entry = self.pending.front().ok_or(Error::Usage(
            "no batch is pending: handle an index and fetch what poll_fetch names",
        ))?;
        let trusted = &self.config.trusted;
        let hash: BatchHash = Sha256::digest(bytes).into();
        if bytes.len() as u64 != entry.size || hash != entry.hash {
            // Tell another authentic batch (a mirror serving the wrong file) from bad bytes.
            if let Ok(other) = C::decode_verify(bytes, trusted) {
                let got = C::header(&other).sequence;
                if got != entry.sequence {
                    return Err(FollowError::UnexpectedBatch {
                        expected: entry.sequence,
                        got,
                    }
                    .into());
                }
            }
            return Err(FollowError::BatchHashMismatch {
                sequence: entry.sequence,
            }
            .into());
        }
        let batch = C::decode_verify(bytes, trusted)?;
        let h = C::header(&batch);
        self.check_region(&h.region)?;
        if h.sequence != entry.sequence {
            return Err(FollowError::UnexpectedBatch {
                expected: entry.sequence,
                got: h.sequence,
            }
            .into());
        }
        if h.window_end > now.plus(self.config.max_future_seconds) {
            return Err(FollowError::FutureBatch {
                sequence: h.sequence,
                window_end: h.window_end,
                now,
            }
            .into());
        }
        match &self.state.head {
            Some(head) => check_continues(head, h)?,
            None if h.sequence == 1 && h.prev_hash != GENESIS_HASH => {
                return Err(VerifyError::BrokenChain(
                    "batch 1 must start the chain (previous hash all zeros)",
                )
                .into())
            }
            None => {}
        }
        let on_trust = self.state.head.is_none();
        self.state.head = Some(ChainHead::of(h));
        self.pending.pop_front();
        Ok(ChainedBatch::new(batch, on_trust))
    }

    /// Bridges the gap the last index reported ([`FollowError::ChainGap`]): drops the head
    /// and plans the chain from the first batch after the gap, which will be trusted on first
    /// use. The only way a follower ever forgets its head; the caller decides, and should
    /// show the returned [`Resync`] to the user.
    pub fn resync_from_index(&mut self) -> Result<Resync, Error> {
        let gap = self.gap.take().ok_or(Error::Usage(
            "resync is only possible right after an index reported a chain gap",
        ))?;
        self.state.head = None;
        self.state.index_generated_at = Some(gap.generated_at);
        self.pending = gap.entries.into();
        Ok(gap.resync)
    }

    /// The one freshness rule of indexes and risk configurations: signed at most
    /// `max_future_seconds` after `now`, at most `max_age_seconds` before it, and not before
    /// the newest one accepted.
    fn freshness(&self, signed: UnixTime, now: UnixTime, newest: Option<UnixTime>) -> Freshness {
        let cfg = &self.config;
        if signed > now.plus(cfg.max_future_seconds) {
            Freshness::Future
        } else if now.0.saturating_sub(signed.0) > cfg.max_age_seconds {
            Freshness::Stale(cfg.max_age_seconds)
        } else {
            match newest {
                Some(n) if signed < n => Freshness::Older(n),
                _ => Freshness::Fresh,
            }
        }
    }

    fn check_region(&self, got: &Region) -> Result<(), FollowError> {
        if got != &self.config.region {
            return Err(FollowError::WrongRegion {
                expected: self.config.region.clone(),
                got: got.clone(),
            });
        }
        Ok(())
    }
}

impl ChainFollower<KeyBatches> {
    /// Verifies a signed risk configuration and checks it is fresh and not older than the
    /// newest one accepted (the same rules as for an index).
    pub fn handle_config(
        &mut self,
        bytes: &[u8],
        now: UnixTime,
    ) -> Result<VerifiedRiskConfig, Error> {
        let v = SignedRiskConfig::decode(bytes)?.verify(&self.config.trusted)?;
        let issued_at = v.config().issued_at;
        match self.freshness(issued_at, now, self.state.config_issued_at) {
            Freshness::Fresh => {}
            Freshness::Future => return Err(FollowError::FutureConfig { issued_at, now }.into()),
            Freshness::Stale(max_age) => {
                return Err(FollowError::StaleConfig {
                    issued_at,
                    now,
                    max_age,
                }
                .into())
            }
            Freshness::Older(newest_accepted) => {
                return Err(FollowError::ConfigRollback {
                    issued_at,
                    newest_accepted,
                }
                .into())
            }
        }
        self.state.config_issued_at = Some(issued_at);
        Ok(v)
    }
}
