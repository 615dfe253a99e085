//! Persistence: one sled record per accepted upload, published batches, and a group committer
//! that makes writes durable without one fsync per request.
//!
//! Layout (all integers big-endian, so sled's byte order is numeric order):
//!
//! | tree | key | value |
//! |---|---|---|
//! | `uploads` | sequence u64 | one accepted request: its case reports or certified upload, each with authority, UTC day, replay record and expiry, and keys (TEK, metadata, release window) — see [`record`] |
//! | `batches` | sequence u64 | batch bytes |
//! | `batch_meta` | sequence u64 | index entry (window, hash, size) |
//! | `meta` | `head`, `index` | chain head; signed index bytes |
//!
//! An upload is written as **one** sled insert, which sled applies atomically: after a crash it
//! is either wholly there or not at all. Everything the upload path must check (replayed nonces
//! and certificates, keys already stored, daily quotas) and the batcher's list of pending keys
//! are indexes in memory, derived from these records when the store opens and updated under
//! one lock as records are written. A key is pending while its release window ends after the
//! chain head's cut; publishing a batch moves the cut, so nothing has to be deleted then.
//! Records are deleted by retention once their keys and replay records have expired.
//!
//! No record holds anything about who uploaded (beyond the authority) or from where.

pub mod commit;
pub mod record;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use en_protocol::keys::TEK_LEN;
use en_protocol::wire::batch::BatchHash;
use en_protocol::wire::index::IndexEntry;
use en_protocol::wire::key::DiagnosisKey;
use en_protocol::wire::AuthorityId;
use en_protocol::UnixTime;
use sled::transaction::{TransactionError, Transactional};
use sled::Tree;

use record::{Entry, Record};

// Keyed with a per-process random seed: keys and nonces come from clients.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

/// Why a write was refused (nothing was written in each case). Refusals carry the index of
/// the refused upload among those written together.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The nonce or certificate was used before (or twice in these uploads).
    #[error("upload {0}: already used")]
    Replayed(usize),
    /// A key in the upload is already stored (or appears twice in these uploads).
    #[error("upload {0}: a key was already uploaded")]
    KeyExists(usize),
    /// The authority's daily quota is used up.
    #[error("upload {0}: daily upload quota exhausted")]
    QuotaExceeded(usize),
    /// Storage failure.
    #[error("storage error: {0}")]
    Io(#[from] sled::Error),
    /// A stored record cannot be decoded.
    #[error("corrupt upload record {0}")]
    Corrupt(u64),
    /// The database was written with the store layout of an earlier version.
    #[error(
        "this database uses the store layout of an earlier en-server (trees `teks`, \
         `pending/…`); publish its pending keys with that version, then start a new data directory"
    )]
    OldLayout,
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

/// One accepted upload (a case report or a certified phone upload), ready to persist.
#[derive(Debug)]
pub struct NewUpload {
    /// Uploading authority (for the quota).
    pub authority: AuthorityId,
    /// Replay-protection record: its key and expiry.
    pub replay: (Vec<u8>, UnixTime),
    /// Keys with their release times.
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

/// What the upload path checks and the batcher reads, derived from the `uploads` records.
#[derive(Default)]
struct Ledger {
    /// Sequence of the next record.
    next: u64,
    /// Keys published before this release-window end are published.
    cut: u64,
    /// Every stored TEK (duplicate detection across uploads).
    teks: HashSet<[u8; TEK_LEN]>,
    /// Replay records: key → expiry.
    replay: HashMap<Vec<u8>, u64>,
    /// Uploads per (authority, UTC day).
    quota: HashMap<(String, u64), u64>,
    /// Release-window end → records with keys pending in that window, and their key count.
    pending: BTreeMap<u64, (Vec<u64>, usize)>,
    /// Record expiry → records (for retention).
    expiry: BTreeMap<u64, Vec<u64>>,
}

impl Ledger {
    fn add(&mut self, seq: u64, r: &Record) {
        for e in &r.entries {
            self.teks
                .extend(e.keys.iter().map(|(k, _)| *k.key.as_bytes()));
            self.replay.insert(e.replay.clone(), e.replay_expiry);
            *self.quota.entry((e.authority.clone(), e.day)).or_default() += 1;
            for (_, slot) in &e.keys {
                if *slot > self.cut {
                    let p = self.pending.entry(*slot).or_default();
                    if p.0.last() != Some(&seq) {
                        p.0.push(seq);
                    }
                    p.1 += 1;
                }
            }
        }
        self.expiry.entry(r.expiry()).or_default().push(seq);
        self.next = self.next.max(seq + 1);
    }

    fn remove(&mut self, r: &Record) {
        for e in &r.entries {
            for (k, _) in &e.keys {
                self.teks.remove(k.key.as_bytes());
            }
            self.replay.remove(&e.replay);
        }
    }
}

/// The sled-backed store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    period: u64,
    uploads: Tree,
    batches: Tree,
    batch_meta: Tree,
    meta: Tree,
    ledger: Arc<Mutex<Ledger>>,
}

fn be(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}
fn u64_of(b: &[u8]) -> u64 {
    u64::from_be_bytes(b.try_into().unwrap_or([0; 8]))
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

impl StoreError {
    /// For a refusal, the index of the refused upload.
    pub fn upload_index(&self) -> Option<usize> {
        match self {
            StoreError::Replayed(i) | StoreError::KeyExists(i) | StoreError::QuotaExceeded(i) => {
                Some(*i)
            }
            StoreError::Io(_) | StoreError::Corrupt(_) | StoreError::OldLayout => None,
        }
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`; `period` is the batch period, which
    /// decides the publication window a pending key belongs to. Reads every upload record
    /// to rebuild the in-memory indexes.
    pub fn open(path: &std::path::Path, period: u64) -> Result<Self, StoreError> {
        Self::from_db(
            sled::Config::new()
                .path(path)
                .mode(sled::Mode::HighThroughput)
                .open()?,
            period,
        )
    }

    /// A store in a temporary directory that is deleted on drop (tests, fuzzing).
    pub fn temporary() -> Result<Self, StoreError> {
        Self::from_db(sled::Config::new().temporary(true).open()?, 86_400)
    }

    fn from_db(db: sled::Db, period: u64) -> Result<Self, StoreError> {
        // Refuse rather than silently ignore keys stored in the earlier layout.
        if db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == b"teks" || n.starts_with(b"pending/"))
        {
            return Err(StoreError::OldLayout);
        }
        let s = Store {
            period: period.max(1),
            uploads: db.open_tree("uploads")?,
            batches: db.open_tree("batches")?,
            batch_meta: db.open_tree("batch_meta")?,
            meta: db.open_tree("meta")?,
            db,
            ledger: Arc::default(),
        };
        let mut l = Ledger {
            cut: s.head()?.map_or(0, |h| h.cut.0),
            ..Ledger::default()
        };
        for kv in s.uploads.iter() {
            let (k, v) = kv?;
            let seq = u64_of(&k);
            l.add(seq, &Record::decode(&v).ok_or(StoreError::Corrupt(seq))?);
        }
        *s.ledger() = l;
        Ok(s)
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("store ledger lock")
    }

    /// Writes everything to disk (fsync). Prefer [`commit::Committer`], which groups callers.
    pub fn flush(&self) -> Result<(), sled::Error> {
        self.db.flush().map(|_| ())
    }

    /// Records one upload atomically; see [`Store::insert_uploads`].
    pub fn insert_upload(&self, u: &NewUpload) -> Result<(), StoreError> {
        self.insert_uploads(std::slice::from_ref(u))
    }

    /// Records uploads atomically, as one record: all of them or, on any refusal, none.
    /// Each is checked in order for a replayed nonce or certificate, a key stored before (or
    /// twice in these uploads), and its authority's daily quota.
    pub fn insert_uploads(&self, uploads: &[NewUpload]) -> Result<(), StoreError> {
        let mut l = self.ledger();
        let mut replays = HashSet::default();
        let mut teks = HashSet::default();
        let mut used: HashMap<(&str, u64), u64> = HashMap::default();
        for (i, u) in uploads.iter().enumerate() {
            if l.replay.contains_key(&u.replay.0) || !replays.insert(&u.replay.0) {
                return Err(StoreError::Replayed(i));
            }
            for (k, _) in &u.keys {
                let b = k.key.as_bytes();
                if l.teks.contains(b) || !teks.insert(b) {
                    return Err(StoreError::KeyExists(i));
                }
            }
            let q = used
                .entry((u.authority.as_str(), u.day))
                .or_insert_with(|| {
                    l.quota
                        .get(&(u.authority.as_str().to_string(), u.day))
                        .copied()
                        .unwrap_or(0)
                });
            if *q >= u.quota {
                return Err(StoreError::QuotaExceeded(i));
            }
            *q += 1;
        }
        let record = Record {
            entries: uploads
                .iter()
                .map(|u| Entry {
                    authority: u.authority.as_str().to_string(),
                    day: u.day,
                    replay: u.replay.0.clone(),
                    replay_expiry: u.replay.1 .0,
                    key_expiry: u.key_expiry.0,
                    keys: u
                        .keys
                        .iter()
                        .map(|(k, release)| (k.clone(), self.slot_end(*release)))
                        .collect(),
                })
                .collect(),
        };
        let seq = l.next;
        self.uploads.insert(be(seq), record.encode())?;
        l.add(seq, &record);
        Ok(())
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

    fn record(&self, seq: u64) -> Result<Option<Record>, StoreError> {
        match self.uploads.get(be(seq))? {
            None => Ok(None),
            Some(v) => Record::decode(&v).map(Some).ok_or(StoreError::Corrupt(seq)),
        }
    }

    /// Pending keys released before `cut` (and not yet published).
    pub fn released_before(&self, cut: UnixTime) -> Result<Vec<DiagnosisKey>, StoreError> {
        let (mut seqs, n, published) = {
            let l = self.ledger();
            let mut seqs = Vec::new();
            let mut n = 0;
            for (s, c) in l.pending.range(..=cut.0).map(|(_, v)| v) {
                seqs.extend_from_slice(s);
                n += c;
            }
            (seqs, n, l.cut)
        };
        seqs.sort_unstable();
        seqs.dedup();
        let mut out = Vec::with_capacity(n);
        for seq in seqs {
            let r = self.record(seq)?.ok_or(StoreError::Corrupt(seq))?;
            for e in r.entries {
                out.extend(
                    e.keys
                        .into_iter()
                        .filter(|(_, slot)| *slot > published && *slot <= cut.0)
                        .map(|(k, _)| k),
                );
            }
        }
        Ok(out)
    }

    /// Number of keys waiting for publication.
    pub fn pending_count(&self) -> usize {
        self.ledger().pending.values().map(|(_, n)| n).sum()
    }

    /// Atomically stores a published batch, its index entry, the new chain head (whose cut
    /// marks the keys it published) and the new index.
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
        let mut l = self.ledger();
        l.cut = head.cut.0;
        l.pending = l.pending.split_off(&head.cut.0.saturating_add(1));
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

    /// Deletes batches whose window ended before `oldest`, and upload records whose keys and
    /// replay records have expired. Returns the number of batches removed.
    pub fn prune(&self, now: UnixTime, oldest: UnixTime) -> Result<usize, StoreError> {
        let mut removed = 0;
        for e in self.index_entries()? {
            if e.window_end < oldest {
                self.batches.remove(be(e.sequence))?;
                self.batch_meta.remove(be(e.sequence))?;
                removed += 1;
            }
        }
        let expired: Vec<(u64, u64)> = {
            let l = self.ledger();
            l.expiry
                .range(..now.0)
                .flat_map(|(t, v)| v.iter().map(move |s| (*t, *s)))
                .collect()
        };
        for (t, seq) in expired {
            let Some(r) = self.record(seq)? else { continue };
            let mut l = self.ledger();
            if r.entries
                .iter()
                .flat_map(|e| &e.keys)
                .any(|(_, slot)| *slot > l.cut)
            {
                continue; // not published yet: keep until it is
            }
            self.uploads.remove(be(seq))?;
            l.remove(&r);
            if let Some(v) = l.expiry.get_mut(&t) {
                v.retain(|s| *s != seq);
                if v.is_empty() {
                    l.expiry.remove(&t);
                }
            }
        }
        let today = now.day();
        self.ledger().quota.retain(|(_, day), _| day + 1 >= today);
        Ok(removed)
    }

    /// A digest of every tree's contents, for tests that assert "nothing was stored".
    pub fn fingerprint(&self) -> Result<[u8; 32], sled::Error> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for t in [&self.uploads, &self.batches, &self.batch_meta, &self.meta] {
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
