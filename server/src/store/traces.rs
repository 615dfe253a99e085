//! Persistence of accepted venue traces and of the trace chain's head, behind one trait.
//!
//! A [`TraceStore`] takes only [`AcceptedTrace`]s, which only `en-protocol`'s verification
//! and acceptance rules build. Every implementation gives the guarantees of [`super::Store`]:
//!
//! - [`TraceStore::insert_trace`] is atomic and durable: `Ok` means on stable storage; a
//!   refusal writes nothing;
//! - a trace report's single-use token (authority, nonce) is refused a second time for
//!   another report, across everything stored, and is kept only as a keyed hash until it
//!   expires; a retry of the same report is recognised and answered as stored;
//! - a trace counts once against its authority's daily upload quota, the same count as its
//!   case reports;
//! - [`TraceStore::publish_traces`] records a published trace batch and moves the trace
//!   chain's head durably, and forgets the traces it published (their bytes live on in the
//!   batch object): each trace is published exactly once.
//!
//! What a trace record holds is what the trace batch will publish anyway (the venue-hours'
//! identities, keys, tags and encrypted messages), and nothing about who traced (the
//! authority is only in the quota count and, as a keyed hash, in the replay record).

use en_protocol::venue::{AcceptedTrace, TraceEntry};
use en_protocol::wire::batch::BatchHash;
use en_protocol::wire::index::IndexEntry;
use en_protocol::UnixTime;

use super::{Inserted, StoreError};

/// The head of the published trace chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceHead {
    /// Sequence of the last trace batch.
    pub sequence: u64,
    /// Its hash.
    pub hash: BatchHash,
    /// Its window end; the next trace window starts here.
    pub window_end: UnixTime,
    /// Every stored trace up to this record number is published.
    pub published_upto: u64,
}

/// The traces stored and not yet published.
#[derive(Debug, Clone, Default)]
pub struct PendingTraces {
    /// Their entries, in the order the reports were accepted (duplicates included: the
    /// batcher keeps the first of each venue-hour).
    pub entries: Vec<TraceEntry>,
    /// The record number of the newest trace read (0: none); a batch of these entries
    /// publishes every trace up to it ([`TraceHead::published_upto`]).
    pub upto: u64,
    /// How many trace reports the entries came from.
    pub reports: usize,
}

/// A store of accepted traces and of the trace chain's head (see the module docs).
#[async_trait::async_trait]
pub trait TraceStore: Send + Sync + 'static {
    /// Stores `trace` atomically and durably, unless its token was used before by another
    /// report ([`StoreError::Replayed`]) or its authority has used `quota` uploads today
    /// ([`StoreError::QuotaExceeded`]).
    async fn insert_trace(&self, trace: &AcceptedTrace, quota: u64)
        -> Result<Inserted, StoreError>;

    /// The trace chain's head, if a trace batch was published.
    async fn trace_head(&self) -> Result<Option<TraceHead>, StoreError>;

    /// Every trace stored and not yet published. A trace stored after this returns has a
    /// larger record number than [`PendingTraces::upto`].
    async fn pending_traces(&self) -> Result<PendingTraces, StoreError>;

    /// Records a published trace batch and the new head durably; the traces up to
    /// `head.published_upto` are published from now on (and forgotten).
    async fn publish_traces(&self, entry: &IndexEntry, head: TraceHead) -> Result<(), StoreError>;

    /// Index entries of the retained trace batches, oldest first.
    async fn trace_index_entries(&self) -> Result<Vec<IndexEntry>, StoreError>;

    /// Forgets trace batches whose window ended before `oldest`; returns their sequences.
    async fn prune_trace_batches(&self, oldest: UnixTime) -> Result<Vec<u64>, StoreError>;
}
