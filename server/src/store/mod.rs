//! Persistence of accepted uploads and of the chain head, behind one trait.
//!
//! A [`Store`] takes only [`AcceptedUpload`]s — values that only `en-protocol`'s verification
//! and acceptance rules can build — so nothing unchecked can be stored. Every implementation
//! gives the same guarantees:
//!
//! - [`Store::insert`] is atomic and durable: when it returns `Ok`, every upload passed to it
//!   is on stable storage (fsync'd); on any refusal nothing was written;
//! - replayed tokens, keys stored before and daily quotas are refused across everything
//!   stored (and, for a shared database, across replicas);
//! - a retried upload (same token, same keys) is recognised and answered as stored, so an
//!   answer lost to a failure can always be retried safely;
//! - no upload record says who uploaded: the single-use token (case-report nonce or
//!   certificate id, which the authority could tie to a patient) is kept apart from the keys,
//!   only as a keyed hash, and only until it expires;
//! - [`Store::publish`] records a published batch and moves the chain head durably; keys
//!   are published exactly once, and the chain head moves only from the head the batch was
//!   built on (a replica that lost the batch lock cannot fork the chain).
//!
//! Two implementations: [`sled`] (embedded, one process, the default) and [`postgres`] (one
//! database shared by several `en-server` replicas; [`Store::batch_lock`] picks the replica
//! that closes windows). The published bytes themselves (batches, index) live in
//! [`crate::objects`]; verification codes in a [`CodeStore`] ([`codes`]).

pub mod codes;
pub mod import;
pub mod open;
pub mod postgres;
pub mod sled;
pub mod token;
pub mod traces;

use en_protocol::accept::AcceptedUpload;
use en_protocol::import::AcceptedImport;
use en_protocol::phone::FollowerState;
use en_protocol::revise::AcceptedRevision;
use en_protocol::wire::batch::BatchHash;
use en_protocol::wire::index::IndexEntry;
use en_protocol::wire::key::DiagnosisKey;
use en_protocol::wire::Region;
use en_protocol::UnixTime;

pub use self::codes::CodeStore;
pub use self::import::Imported;
pub use self::postgres::PgStore;
pub use self::sled::codes::SledCodeStore;
pub use self::sled::SledStore;
pub use self::traces::{PendingTraces, TraceHead, TraceStore};

/// The head of the published hash chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence of the last batch.
    pub sequence: u64,
    /// Its hash.
    pub hash: BatchHash,
    /// Its window end; the next window starts here.
    pub window_end: UnixTime,
    /// Every key released before this was published.
    pub cut: UnixTime,
}

/// What an insert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The uploads were stored now.
    Stored,
    /// The same uploads (same tokens, same keys) were stored before: a retry.
    AlreadyStored,
}

/// Why a write was refused or failed. Refusals (nothing was written) carry the index of the
/// refused upload among those written together.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The token (nonce or certificate) was used before for other keys, or twice here.
    #[error("upload {0}: already used")]
    Replayed(usize),
    /// A key in the upload is already stored (or appears twice in these uploads).
    #[error("upload {0}: a key was already uploaded")]
    KeyExists(usize),
    /// The authority's daily quota is used up.
    #[error("upload {0}: daily upload quota exhausted")]
    QuotaExceeded(usize),
    /// The write may or may not have reached stable storage (a failed fsync after the
    /// write): the upload may be stored. A retry of the same upload is safe.
    #[error("could not confirm that the write is durable: {0}")]
    Uncertain(String),
    /// A revised key is not stored here (never uploaded, or its retention is over), or a key
    /// appears twice in one revision; nothing was written.
    #[error("a revised key is not stored")]
    UnknownKeys,
    /// Storage failure; nothing was written.
    #[error("storage error: {0}")]
    Io(String),
    /// A stored record cannot be decoded.
    #[error("corrupt record {0}")]
    Corrupt(String),
    /// The database was written with the store layout of an earlier version.
    #[error("{0}")]
    OldLayout(&'static str),
    /// The chain head is not the one the batch was built on: another replica published.
    #[error("the chain head moved: {0}")]
    ChainMoved(String),
    /// This server's settings differ from those the shared database was started with (the
    /// replay secret, the batch period): replicas must share them.
    #[error("{0}")]
    Incompatible(String),
}

impl StoreError {
    /// For a refusal, the index of the refused upload.
    pub fn upload_index(&self) -> Option<usize> {
        match self {
            StoreError::Replayed(i) | StoreError::KeyExists(i) | StoreError::QuotaExceeded(i) => {
                Some(*i)
            }
            _ => None,
        }
    }
}

impl From<::sled::Error> for StoreError {
    fn from(e: ::sled::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

/// The destinations of `uploads[i]` in a `destinations` slice (see [`Store::insert_destined`]).
pub(crate) fn destinations_of(destinations: &[Vec<Region>], i: usize) -> &[Region] {
    destinations.get(i).map_or(&[], Vec::as_slice)
}

/// Destinations in their stored text form: sorted region codes joined by `,` (a character
/// no region code contains); empty for none.
pub(crate) fn destinations_text(d: &[Region]) -> String {
    let mut v: Vec<&str> = d.iter().map(Region::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v.join(",")
}

/// Parses [`destinations_text`] strictly: `None` unless canonical.
pub(crate) fn parse_destinations(s: &str) -> Option<Vec<Region>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    let v = s
        .split(',')
        .map(|r| Region::new(r).ok())
        .collect::<Option<Vec<_>>>()?;
    (destinations_text(&v) == s).then_some(v)
}

/// End of the publication window of a key released at `release` with batches every
/// `period` seconds: the first window end strictly after it.
pub(crate) fn window_end_after(release: u64, period: u64) -> u64 {
    (release / period + 1) * period
}

/// A store of accepted uploads and of the chain head (see the module docs for its contract),
/// and of venue traces ([`TraceStore`], their own file).
#[async_trait::async_trait]
pub trait Store: TraceStore + Send + Sync + 'static {
    /// Stores `uploads` atomically and durably: all of them, or none on a refusal. Each is
    /// checked in order for a replayed token, keys stored before (or twice here), and its
    /// authority's quota of `quota` uploads per UTC day. Keys released before the
    /// publication cut are moved to the cut (they go into the next batch, never a closed one).
    async fn insert(&self, uploads: &[AcceptedUpload], quota: u64) -> Result<Inserted, StoreError> {
        self.insert_destined(uploads, &[], quota).await
    }

    /// [`Store::insert`], with the federation chains each upload's keys also go to
    /// (spec/federation.md): `destinations[i]` for `uploads[i]`, sorted; an empty slice means
    /// none for every upload (a shorter one: none for the uploads beyond it).
    async fn insert_destined(
        &self,
        uploads: &[AcceptedUpload],
        destinations: &[Vec<Region>],
        quota: u64,
    ) -> Result<Inserted, StoreError>;

    /// Does the storage work of an upload of `keys` keys without storing one: a fake upload's
    /// write and durable flush, so that it costs what a real one costs.
    async fn chaff(&self, keys: usize) -> Result<(), StoreError>;

    /// The chain head, if a batch was published.
    async fn head(&self) -> Result<Option<ChainHead>, StoreError>;

    /// Moves the publication cut to `cut`, durably: once it returns, every upload that will
    /// be released before `cut` is stored, and later ones (on any replica) are released after
    /// it, also after a restart.
    async fn advance_cut(&self, cut: UnixTime) -> Result<(), StoreError>;

    /// Keys released before `cut` and not yet published.
    async fn released_before(&self, cut: UnixTime) -> Result<Vec<DiagnosisKey>, StoreError> {
        Ok(self
            .released_destined(cut)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    /// [`Store::released_before`], each key with its federation destinations (sorted).
    async fn released_destined(
        &self,
        cut: UnixTime,
    ) -> Result<Vec<(DiagnosisKey, Vec<Region>)>, StoreError>;

    /// Records a published batch and the new head durably; the keys released before the
    /// head's cut are published from now on.
    async fn publish(&self, entry: &IndexEntry, head: ChainHead) -> Result<(), StoreError>;

    /// Stores an accepted revision atomically and durably (spec/api.md, `POST /v1/revisions`):
    /// spends its two single-use tokens (the certificate id and the revision token's nonce),
    /// then gives every key its new metadata as [`Store::republish`] does. On any refusal
    /// nothing is written: a replayed token ([`StoreError::Replayed`]), a key this store does
    /// not hold ([`StoreError::UnknownKeys`]). A retry (both tokens spent before on exactly
    /// these keys and metadata) is answered [`Inserted::AlreadyStored`].
    async fn revise(&self, revision: &AcceptedRevision) -> Result<Inserted, StoreError>;

    /// Publishes stored keys again with new metadata, atomically and durably: a key not yet
    /// published gets the new metadata in place (it is published once, with it); a key already
    /// published is released again at the publication cut, so the next batch carries it with
    /// the new metadata. A store holds one entry per key, so a batch never carries a key twice
    /// and the latest metadata wins. Each key keeps its federation destinations. Refused with
    /// [`StoreError::UnknownKeys`], nothing written, if a key is not stored (or appears twice).
    async fn republish(&self, keys: &[DiagnosisKey]) -> Result<(), StoreError>;

    /// Index entries of the retained batches, oldest first.
    async fn index_entries(&self) -> Result<Vec<IndexEntry>, StoreError>;

    /// Index entries of the retained batches of the federation chain for `region`, oldest
    /// first; the last is the chain's head (spec/federation.md §2).
    async fn federation_entries(&self, region: &Region) -> Result<Vec<IndexEntry>, StoreError>;

    /// Records a published batch of the federation chain for `region`, durably. Refused
    /// ([`StoreError::ChainMoved`]) unless it is the batch after the chain's last one (or the
    /// first), so two writers cannot fork the chain.
    async fn federation_publish(
        &self,
        region: &Region,
        entry: &IndexEntry,
    ) -> Result<(), StoreError>;

    /// Forgets federation batches whose window ended before `oldest`; returns them.
    async fn federation_prune(&self, oldest: UnixTime) -> Result<Vec<(Region, u64)>, StoreError>;

    /// The follower state of the import from `origin`'s federation chain for this region
    /// (spec/federation.md §2), if anything was imported from it.
    async fn import_state(&self, origin: &Region) -> Result<Option<FollowerState>, StoreError>;

    /// Imports a verified batch of a peer's federation chain, atomically and durably, with
    /// the follower's state after it: its keys not stored before are released in the next
    /// window, with their origin recorded and no destinations (never forwarded); a key
    /// imported before from the same origin whose new metadata revises the stored one
    /// ([`en_protocol::import::is_import_revision`]: clinical or self-report to confirmed or
    /// revoked, never back) is a revision made there and gets the new metadata as
    /// [`Store::republish`] gives it; other keys stored before are skipped. Refused ([`StoreError::QuotaExceeded`], nothing written) if it
    /// would take the keys imported or revised from the origin on UTC day `now.day()` beyond
    /// `limit`.
    async fn import(
        &self,
        batch: &AcceptedImport,
        now: UnixTime,
        limit: u64,
    ) -> Result<Imported, StoreError>;

    /// Forgets the last batch imported from `origin`'s federation chain, durably, keeping the
    /// time of the newest index accepted from it (so an older index is still refused): the
    /// operator's resynchronisation after the peer's chain broke (a gap, a fork, a rebuilt
    /// server; spec/federation.md §5). The next poll trusts the first batch of the last
    /// unbroken run the peer lists and follows the chain from there; keys stored before are
    /// skipped as known and an older batch cannot undo a revision, so nothing is published
    /// twice. Returns the sequence number of the batch forgotten, `None` if there
    /// was none.
    async fn forget_import_head(&self, origin: &Region) -> Result<Option<u64>, StoreError>;

    /// Forgets batches whose window ended before `oldest` and everything whose retention is
    /// over at `now` (published records, expired replay records, old quota counts). Returns
    /// the sequences of the batches forgotten.
    async fn prune(&self, now: UnixTime, oldest: UnixTime) -> Result<Vec<u64>, StoreError>;

    /// Keys waiting for publication.
    async fn pending_count(&self) -> Result<usize, StoreError>;

    /// A digest of everything stored, for tests that assert "nothing was stored".
    async fn fingerprint(&self) -> Result<[u8; 32], StoreError>;

    /// Makes everything written so far durable (at shutdown).
    async fn flush(&self) -> Result<(), StoreError>;

    /// Takes the batch lock, or checks that this process still holds it: `true` if this
    /// process is the one that closes windows and writes the published objects. A replica
    /// that dies loses it, and another takes it on its next try. A store only one process
    /// opens (sled) always holds it.
    async fn batch_lock(&self) -> Result<bool, StoreError> {
        Ok(true)
    }
}
