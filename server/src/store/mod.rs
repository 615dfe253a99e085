//! Persistence: sled trees for pending keys, replay records, quotas and published batches,
//! and a group committer that makes writes durable without one fsync per request.
//!
//! Layout (all integers big-endian, so sled's byte order is numeric order):
//!
//! | tree | key | value |
//! |---|---|---|
//! | `pending/<window end>` | TEK | key metadata (8 bytes, wire-format §2.1) |
//! | `teks` | TEK | expiry u64 (duplicate detection across uploads) |
//! | `replay` | `n` ‖ authority ‖ 0 ‖ nonce, or `c` ‖ certificate id | expiry u64 |
//! | `quota` | authority ‖ 0 ‖ UTC day u64 | uploads u64 |
//! | `batches` | sequence u64 | batch bytes |
//! | `batch_meta` | sequence u64 | index entry (window, hash, size) |
//! | `meta` | `head`, `index` | chain head; signed index bytes |
//!
//! Pending keys live in one tree per publication window (named by the window's end, zero-padded
//! so names sort by time): publishing a window drops its trees whole instead of deleting a
//! million keys one by one.
//!
//! No tree holds anything about who uploaded (beyond the authority) or from where.

pub mod commit;

use en_protocol::keys::TEK_LEN;
use en_protocol::wire::batch::BatchHash;
use en_protocol::wire::index::IndexEntry;
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata, METADATA_LEN};
use en_protocol::wire::AuthorityId;
use en_protocol::UnixTime;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use sled::Tree;

/// Why a write was refused (nothing was written in each case).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The nonce or certificate was used before.
    #[error("already used")]
    Replayed,
    /// A key in the upload is already stored.
    #[error("a key was already uploaded")]
    KeyExists,
    /// The authority's daily quota is used up.
    #[error("daily upload quota exhausted")]
    QuotaExceeded,
    /// Storage failure.
    #[error("storage error: {0}")]
    Io(#[from] sled::Error),
}

/// The head of the published hash chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence of the last batch.
    pub sequence: u64,
    /// Its hash.
    pub hash: BatchHash,
    /// Its window end; the next window starts here.
    pub window_end: UnixTime,
    /// Every pending key with a release time before this was published.
    pub cut: UnixTime,
}

/// One accepted upload, ready to persist atomically.
#[derive(Debug)]
pub struct NewUpload {
    /// Uploading authority (for the quota).
    pub authority: AuthorityId,
    /// Replay-protection record: its key and expiry.
    pub replay: (Vec<u8>, UnixTime),
    /// Keys with their release times and the time their dedup record may be dropped.
    pub keys: Vec<(DiagnosisKey, UnixTime)>,
    /// When dedup records for these keys expire.
    pub key_expiry: UnixTime,
    /// UTC day for the quota.
    pub day: u64,
    /// Uploads allowed per authority per day.
    pub quota: u64,
}

/// Replay record key for a case-report nonce.
pub fn nonce_key(authority: &AuthorityId, nonce: &[u8; 16]) -> Vec<u8> {
    let mut k = vec![b'n'];
    k.extend_from_slice(authority.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(nonce);
    k
}

/// Replay record key for a certificate id.
pub fn certificate_key(id: &[u8; 16]) -> Vec<u8> {
    let mut k = vec![b'c'];
    k.extend_from_slice(id);
    k
}

/// The sled-backed store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    period: u64,
    teks: Tree,
    replay: Tree,
    quota: Tree,
    batches: Tree,
    batch_meta: Tree,
    meta: Tree,
}

fn be(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}
fn u64_of(b: &[u8]) -> u64 {
    u64::from_be_bytes(b.try_into().unwrap_or([0; 8]))
}

fn encode_meta(m: &KeyMetadata) -> [u8; METADATA_LEN] {
    let dk = DiagnosisKey {
        key: en_protocol::keys::TemporaryExposureKey::from_bytes([0; 16]),
        meta: *m,
    };
    dk.encode()[5 + TEK_LEN..]
        .try_into()
        .expect("8 bytes of metadata")
}

fn decode_key(tek: &[u8], meta: &[u8]) -> Option<DiagnosisKey> {
    let mut b = Vec::with_capacity(en_protocol::wire::key::ENCODED_LEN);
    b.extend_from_slice(en_protocol::wire::key::MAGIC);
    b.push(en_protocol::wire::VERSION);
    b.extend_from_slice(tek);
    b.extend_from_slice(meta);
    DiagnosisKey::decode(&b).ok()
}

fn pending_name(window_end: u64) -> String {
    format!("pending/{window_end:020}")
}

fn entry_of(sequence: u64, v: &[u8]) -> IndexEntry {
    IndexEntry {
        sequence,
        window_start: UnixTime(u64_of(&v[..8])),
        window_end: UnixTime(u64_of(&v[8..16])),
        hash: v[16..48].try_into().expect("32 bytes"),
        size: u64_of(&v[48..56]),
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`; `period` is the batch period, which
    /// decides the publication window a pending key belongs to.
    pub fn open(path: &std::path::Path, period: u64) -> Result<Self, sled::Error> {
        Self::from_db(
            sled::Config::new()
                .path(path)
                .mode(sled::Mode::HighThroughput)
                .open()?,
            period,
        )
    }

    /// A store in a temporary directory that is deleted on drop (tests, fuzzing).
    pub fn temporary() -> Result<Self, sled::Error> {
        Self::from_db(sled::Config::new().temporary(true).open()?, 86_400)
    }

    fn from_db(db: sled::Db, period: u64) -> Result<Self, sled::Error> {
        let s = Store {
            period: period.max(1),
            teks: db.open_tree("teks")?,
            replay: db.open_tree("replay")?,
            quota: db.open_tree("quota")?,
            batches: db.open_tree("batches")?,
            batch_meta: db.open_tree("batch_meta")?,
            meta: db.open_tree("meta")?,
            db,
        };
        // Finish a cleanup that a crash may have interrupted (see `publish`).
        if let Some(head) = s.head()? {
            s.remove_pending_before(head.cut)?;
        }
        Ok(s)
    }

    /// Writes everything to disk (fsync). Prefer [`commit::Committer`], which groups callers.
    pub fn flush(&self) -> Result<(), sled::Error> {
        self.db.flush().map(|_| ())
    }

    /// Atomically records an upload: replay record, quota, dedup records and pending keys.
    /// Either all of it is written or, on any refusal, none of it.
    pub fn insert_upload(&self, u: &NewUpload) -> Result<(), StoreError> {
        let mut qk = u.authority.as_str().as_bytes().to_vec();
        qk.push(0);
        qk.extend_from_slice(&be(u.day));
        // Trees: teks, replay, quota, then one per publication window the keys fall in.
        let mut slots: Vec<u64> = u.keys.iter().map(|(_, r)| self.slot_end(*r)).collect();
        slots.sort_unstable();
        slots.dedup();
        let mut trees = vec![self.teks.clone(), self.replay.clone(), self.quota.clone()];
        for s in &slots {
            trees.push(self.db.open_tree(pending_name(*s))?);
        }
        let r = trees.as_slice().transaction(|txs| {
            let (t, r, q) = (&txs[0], &txs[1], &txs[2]);
            let abort = |e| Err(ConflictableTransactionError::Abort(e));
            if r.get(&u.replay.0)?.is_some() {
                return abort(StoreError::Replayed);
            }
            for (k, _) in &u.keys {
                if t.get(k.key.as_bytes())?.is_some() {
                    return abort(StoreError::KeyExists);
                }
            }
            let used = q.get(&qk)?.map_or(0, |v| u64_of(&v));
            if used >= u.quota {
                return abort(StoreError::QuotaExceeded);
            }
            q.insert(qk.as_slice(), &be(used + 1))?;
            r.insert(u.replay.0.as_slice(), &be(u.replay.1 .0))?;
            for (k, release) in &u.keys {
                t.insert(k.key.as_bytes(), &be(u.key_expiry.0))?;
                let slot = slots
                    .binary_search(&self.slot_end(*release))
                    .expect("slot collected above");
                txs[3 + slot].insert(k.key.as_bytes(), &encode_meta(&k.meta))?;
            }
            Ok(())
        });
        match r {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    /// The chain head, if any batch was published.
    pub fn head(&self) -> Result<Option<ChainHead>, sled::Error> {
        Ok(self.meta.get("head")?.and_then(|v| {
            (v.len() == 8 + 32 + 8 + 8).then(|| ChainHead {
                sequence: u64_of(&v[..8]),
                hash: v[8..40].try_into().expect("32 bytes"),
                window_end: UnixTime(u64_of(&v[40..48])),
                cut: UnixTime(u64_of(&v[48..56])),
            })
        }))
    }

    /// End of the publication window of a key released at `release`: the first window end
    /// strictly after it.
    fn slot_end(&self, release: UnixTime) -> u64 {
        (release.0 / self.period + 1) * self.period
    }

    /// The pending trees, by window end.
    fn pending_trees(&self) -> Result<Vec<(u64, Tree)>, sled::Error> {
        let mut v = Vec::new();
        for name in self.db.tree_names() {
            if let Some(end) = std::str::from_utf8(&name)
                .ok()
                .and_then(|n| n.strip_prefix("pending/"))
                .and_then(|e| e.parse::<u64>().ok())
            {
                v.push((end, self.db.open_tree(&name)?));
            }
        }
        v.sort_by_key(|(e, _)| *e);
        Ok(v)
    }

    /// Pending keys released before `cut` (and not yet published).
    pub fn released_before(&self, cut: UnixTime) -> Result<Vec<DiagnosisKey>, sled::Error> {
        let mut out = Vec::new();
        for (end, tree) in self.pending_trees()? {
            if end > cut.0 {
                break;
            }
            out.reserve(tree.len());
            for kv in tree.iter() {
                let (k, v) = kv?;
                if let Some(dk) = decode_key(&k, &v) {
                    out.push(dk);
                }
            }
        }
        Ok(out)
    }

    /// Number of keys waiting for publication.
    pub fn pending_count(&self) -> usize {
        self.pending_trees()
            .map_or(0, |v| v.iter().map(|(_, t)| t.len()).sum())
    }

    /// Atomically stores a published batch, its index entry, the new chain head and the new
    /// index; then removes the published pending keys (idempotent; redone at open after a crash).
    pub fn publish(
        &self,
        batch: &[u8],
        entry: &IndexEntry,
        head: ChainHead,
        index: &[u8],
    ) -> Result<(), sled::Error> {
        let mut m = Vec::with_capacity(64);
        m.extend_from_slice(&be(entry.window_start.0));
        m.extend_from_slice(&be(entry.window_end.0));
        m.extend_from_slice(&entry.hash);
        m.extend_from_slice(&be(entry.size));
        let mut h = Vec::with_capacity(56);
        h.extend_from_slice(&be(head.sequence));
        h.extend_from_slice(&head.hash);
        h.extend_from_slice(&be(head.window_end.0));
        h.extend_from_slice(&be(head.cut.0));
        let r: Result<(), TransactionError<()>> = (&self.batches, &self.batch_meta, &self.meta)
            .transaction(|(b, bm, mt)| {
                b.insert(&be(head.sequence), batch)?;
                bm.insert(&be(head.sequence), m.as_slice())?;
                mt.insert("head", h.as_slice())?;
                mt.insert("index", index)?;
                Ok(())
            });
        r.map_err(|e| match e {
            TransactionError::Storage(e) => e,
            TransactionError::Abort(()) => unreachable!("the publish transaction never aborts"),
        })?;
        self.remove_pending_before(head.cut)
    }

    fn remove_pending_before(&self, cut: UnixTime) -> Result<(), sled::Error> {
        for (end, _) in self.pending_trees()? {
            if end <= cut.0 {
                self.db.drop_tree(pending_name(end))?;
            }
        }
        Ok(())
    }

    /// Index entries of the retained batches, oldest first.
    pub fn index_entries(&self) -> Result<Vec<IndexEntry>, sled::Error> {
        self.batch_meta
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok(entry_of(u64_of(&k), &v))
            })
            .collect()
    }

    /// The index entry of one retained batch.
    pub fn batch_entry(&self, sequence: u64) -> Result<Option<IndexEntry>, sled::Error> {
        Ok(self
            .batch_meta
            .get(be(sequence))?
            .map(|v| entry_of(sequence, &v)))
    }

    /// Replaces the signed index (after retention removed batches).
    pub fn set_index(&self, index: &[u8]) -> Result<(), sled::Error> {
        self.meta.insert("index", index).map(|_| ())
    }

    /// The signed index, if any batch was published.
    pub fn index(&self) -> Result<Option<sled::IVec>, sled::Error> {
        self.meta.get("index")
    }

    /// A published batch.
    pub fn batch(&self, sequence: u64) -> Result<Option<sled::IVec>, sled::Error> {
        self.batches.get(be(sequence))
    }

    /// Deletes batches whose window ended before `oldest`, and expired dedup, replay and
    /// quota records. Returns the number of batches removed.
    pub fn prune(&self, now: UnixTime, oldest: UnixTime) -> Result<usize, sled::Error> {
        let mut removed = 0;
        for e in self.index_entries()? {
            if e.window_end < oldest {
                self.batches.remove(be(e.sequence))?;
                self.batch_meta.remove(be(e.sequence))?;
                removed += 1;
            }
        }
        for tree in [&self.teks, &self.replay] {
            let mut b = sled::Batch::default();
            for kv in tree.iter() {
                let (k, v) = kv?;
                if u64_of(&v) < now.0 {
                    b.remove(k);
                }
            }
            tree.apply_batch(b)?;
        }
        let today = now.day();
        let mut b = sled::Batch::default();
        for k in self.quota.iter().keys() {
            let k = k?;
            if k.len() >= 8 && u64_of(&k[k.len() - 8..]) + 1 < today {
                b.remove(k);
            }
        }
        self.quota.apply_batch(b)?;
        Ok(removed)
    }

    /// A digest of every tree's contents, for tests that assert "nothing was stored".
    pub fn fingerprint(&self) -> Result<[u8; 32], sled::Error> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let pending = self.pending_trees()?;
        for t in pending.iter().map(|(_, t)| t).chain([
            &self.teks,
            &self.replay,
            &self.quota,
            &self.batches,
            &self.batch_meta,
            &self.meta,
        ]) {
            h.update(t.name());
            for kv in t.iter() {
                let (k, v) = kv?;
                h.update(be(k.len() as u64));
                h.update(&k);
                h.update(be(v.len() as u64));
                h.update(&v);
            }
        }
        Ok(h.finalize().into())
    }

    /// The underlying database (for the committer).
    pub(crate) fn db(&self) -> &sled::Db {
        &self.db
    }
}
