//! The embedded store: sled, one process, one machine (the default).
//!
//! Layout (integers big-endian, so sled's byte order is numeric order):
//!
//! | tree | key | value |
//! |---|---|---|
//! | `uploads` | sequence u64 | the keys one accepted request stored (see [`record`]); a revision rewrites the record ([`revise`]) |
//! | `replay` | keyed hash of a single-use token (32) | expiry u64 ‖ keyed digest of the keys (32) |
//! | `quota` | UTC day u64 ‖ authority | uploads that day u64 |
//! | `batch_meta` | sequence u64 | index entry (window, hash, size) |
//! | `meta` | `head` | chain head (sequence, hash, window end, cut) |
//! | `meta` | `cut` | the publication cut u64 (see [`Store::advance_cut`]) |
//! | `chaff` | `r`, `p`, `q` | what the last fake upload wrote (overwritten each time) |
//! | `traces`, `trace_batch_meta`, `meta`/`trace_head` | | venue traces and their chain ([`traces`]) |
//! | `federation` | region ‖ 0 ‖ sequence u64 | index entry of a federation chain's batch |
//! | `origins` | sequence u64 | the region an imported `uploads` record came from ([`import`]) |
//! | `imports` | region | follower state of the import from that peer's chain ([`import`]) |
//!
//! An upload is one sled transaction over `uploads`, `replay` and `quota` ([`write`]), then a
//! group commit ([`commit`]) that fsyncs; after a crash it is wholly there or not at all. The checks
//! of the upload path (replays, keys stored before, quotas) and the batcher's pending keys are
//! in-memory indexes ([`ledger`]) rebuilt from the trees when the store opens ([`open`]).
//!
//! Privacy: a record holds keys only; the token that could tie them to a patient is kept
//! apart, as HMAC-SHA256 under a server secret (`replay.key` in the data directory, not in
//! the database), and deleted when the token expires (at most the certificate lifetime plus
//! the clock skew, or the report age for case reports).

mod code_records;
pub mod codes;
pub mod commit;
mod import;
mod ledger;
mod open;
pub mod record;
mod revise;
mod traces;
mod write;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use en_protocol::accept::AcceptedUpload;
use en_protocol::import::AcceptedImport;
use en_protocol::phone::FollowerState;
use en_protocol::revise::AcceptedRevision;
use en_protocol::wire::index::IndexEntry;
use en_protocol::wire::key::DiagnosisKey;
use en_protocol::wire::Region;
use en_protocol::UnixTime;
use sha2::Sha256;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use sled::Tree;

use self::commit::Committer;
use self::ledger::{Ledger, TokenHash};
use self::record::Record;
use super::{ChainHead, Imported, Inserted, Store, StoreError};

/// The sled-backed store.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    period: u64,
    uploads: Tree,
    replay: Tree,
    quota: Tree,
    batch_meta: Tree,
    meta: Tree,
    chaff: Tree,
    traces: Tree,
    trace_batch_meta: Tree,
    /// Federation chains' index entries: region ‖ 0 ‖ sequence u64 → entry (56 bytes).
    federation: Tree,
    /// Origin region of each imported `uploads` record.
    origins: Tree,
    /// Follower state of each peer's imported chain.
    imports: Tree,
    ledger: Arc<Mutex<Ledger>>,
    /// The publication cut (see [`Store::advance_cut`]); uploads hold the read side while
    /// they insert, the batcher takes the write side to move it.
    cut: Arc<RwLock<u64>>,
    /// Keyed hashes of tokens and key sets, as every store makes them.
    hasher: crate::store::token::TokenHasher,
    committer: Committer,
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

fn entry_bytes(entry: &IndexEntry) -> Vec<u8> {
    let mut m = Vec::with_capacity(56);
    m.extend_from_slice(&be(entry.window_start.0));
    m.extend_from_slice(&be(entry.window_end.0));
    m.extend_from_slice(&entry.hash);
    m.extend_from_slice(&be(entry.size));
    m
}

/// Key prefix of a federation chain's entries: the region, then a 0 byte (no region code
/// contains one), then the sequence.
fn federation_prefix(region: &Region) -> Vec<u8> {
    let mut k = region.as_str().as_bytes().to_vec();
    k.push(0);
    k
}

fn quota_key(day: u64, authority: &str) -> Vec<u8> {
    let mut k = be(day).to_vec();
    k.extend_from_slice(authority.as_bytes());
    k
}

fn abort<T>(e: TransactionError<T>) -> StoreError {
    match e {
        TransactionError::Storage(e) => e.into(),
        TransactionError::Abort(_) => StoreError::Io("transaction aborted".into()),
    }
}

impl SledStore {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("store ledger lock")
    }

    fn record(&self, seq: u64) -> Result<Option<Record>, StoreError> {
        match self.uploads.get(be(seq))? {
            None => Ok(None),
            Some(v) => Record::decode(&v)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("upload record {seq}"))),
        }
    }

    fn head_sync(&self) -> Result<Option<ChainHead>, StoreError> {
        Ok(self.meta.get("head")?.and_then(|v| {
            (v.len() == 8 + 32 + 8 + 8).then(|| ChainHead {
                sequence: u64_of(&v[..8]),
                hash: v[8..40].try_into().expect("32 bytes"),
                window_end: UnixTime(u64_of(&v[40..48])),
                cut: UnixTime(u64_of(&v[48..56])),
            })
        }))
    }

    async fn durable(&self) -> Result<(), StoreError> {
        self.committer
            .durable()
            .await
            .map_err(StoreError::Uncertain)
    }

    /// Keys pending, by release window (for the batcher's metrics).
    fn pending(&self) -> usize {
        self.ledger().pending_count()
    }
}

#[async_trait::async_trait]
impl Store for SledStore {
    async fn insert_destined(
        &self,
        uploads: &[AcceptedUpload],
        destinations: &[Vec<Region>],
        quota: u64,
    ) -> Result<Inserted, StoreError> {
        let stored = self.write(uploads, destinations, quota)?;
        // A retry still waits for a commit: the first attempt's may have failed.
        self.durable().await?;
        Ok(if stored {
            Inserted::Stored
        } else {
            Inserted::AlreadyStored
        })
    }

    async fn chaff(&self, keys: usize) -> Result<(), StoreError> {
        let mut filler = vec![0u8; Record::encoded_len(keys) + 40 + 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut filler);
        {
            // The same shape of work as a real upload: the cut and the ledger taken, one
            // transaction writing as many bytes.
            let _cut = self.cut.read().expect("cut lock");
            let _l = self.ledger();
            let (r, rest) = filler.split_at(Record::encoded_len(keys));
            let (p, q) = rest.split_at(40);
            (&self.chaff, &self.chaff, &self.chaff)
                .transaction(|(a, b, c)| {
                    a.insert("r", r)?;
                    b.insert("p", p)?;
                    c.insert("q", q)?;
                    Ok::<_, ConflictableTransactionError<()>>(())
                })
                .map_err(abort)?;
        }
        self.durable().await
    }

    async fn head(&self) -> Result<Option<ChainHead>, StoreError> {
        self.head_sync()
    }

    async fn advance_cut(&self, cut: UnixTime) -> Result<(), StoreError> {
        {
            let mut c = self.cut.write().expect("cut lock");
            *c = (*c).max(cut.0);
            self.meta.insert("cut", &be(*c))?;
        }
        // Durable before the batch is built: after a crash the cut is where it was, so the
        // window is rebuilt from the same keys (see `batcher::close_window`). The commit also
        // covers every upload written under the old cut.
        self.durable().await
    }

    async fn released_destined(
        &self,
        cut: UnixTime,
    ) -> Result<Vec<(DiagnosisKey, Vec<Region>)>, StoreError> {
        let (mut seqs, n, published) = {
            let l = self.ledger();
            let mut seqs = Vec::new();
            let mut n = 0;
            for (s, c) in l.pending.range(..=cut.0).map(|(_, v)| v) {
                seqs.extend_from_slice(s);
                n += c;
            }
            (seqs, n, l.published)
        };
        seqs.sort_unstable();
        seqs.dedup();
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::with_capacity(n);
            for seq in seqs {
                let r = this.record(seq)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("upload record {seq} is missing"))
                })?;
                let destinations = r.destinations;
                out.extend(
                    r.keys
                        .into_iter()
                        .enumerate()
                        .filter(|(_, (_, slot))| *slot > published && *slot <= cut.0)
                        .map(|(i, (k, _))| (k, destinations.get(i).cloned().unwrap_or_default())),
                );
            }
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Io(e.to_string()))?
    }

    async fn publish(&self, entry: &IndexEntry, head: ChainHead) -> Result<(), StoreError> {
        let m = entry_bytes(entry);
        let mut h = Vec::with_capacity(56);
        h.extend_from_slice(&be(head.sequence));
        h.extend_from_slice(&head.hash);
        h.extend_from_slice(&be(head.window_end.0));
        h.extend_from_slice(&be(head.cut.0));
        (&self.batch_meta, &self.meta)
            .transaction(|(bm, mt)| {
                bm.insert(&be(head.sequence), m.as_slice())?;
                mt.insert("head", h.as_slice())?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(abort)?;
        self.durable().await?;
        self.ledger().publish(head.cut.0);
        Ok(())
    }

    async fn revise(&self, revision: &AcceptedRevision) -> Result<Inserted, StoreError> {
        let tokens: Vec<(TokenHash, ledger::Replay)> = self
            .hasher
            .revision_replays_of(revision)
            .into_iter()
            .zip(revision.tokens())
            .map(|((h, digest), (_, expiry))| {
                (
                    h,
                    ledger::Replay {
                        expiry: expiry.0,
                        digest,
                    },
                )
            })
            .collect();
        let stored = self.write_revision(&tokens, revision.keys())?;
        // A retry still waits for a commit: the first attempt's may have failed.
        self.durable().await?;
        Ok(if stored {
            Inserted::Stored
        } else {
            Inserted::AlreadyStored
        })
    }

    async fn republish(&self, keys: &[DiagnosisKey]) -> Result<(), StoreError> {
        self.write_revision(&[], keys)?;
        self.durable().await
    }

    async fn federation_entries(&self, region: &Region) -> Result<Vec<IndexEntry>, StoreError> {
        let prefix = federation_prefix(region);
        self.federation
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv?;
                if v.len() != 56 {
                    return Err(StoreError::Corrupt("federation batch entry".into()));
                }
                Ok(entry_of(u64_of(&k[prefix.len()..]), &v))
            })
            .collect()
    }

    async fn federation_publish(
        &self,
        region: &Region,
        entry: &IndexEntry,
    ) -> Result<(), StoreError> {
        let last = self
            .federation_entries(region)
            .await?
            .last()
            .map(|e| e.sequence);
        if entry.sequence != last.map_or(1, |s| s + 1) {
            return Err(StoreError::ChainMoved(format!(
                "federation chain {region}: batch {} does not follow {last:?}",
                entry.sequence
            )));
        }
        let mut k = federation_prefix(region);
        k.extend_from_slice(&be(entry.sequence));
        self.federation.insert(k, entry_bytes(entry).as_slice())?;
        self.durable().await
    }

    async fn federation_prune(&self, oldest: UnixTime) -> Result<Vec<(Region, u64)>, StoreError> {
        let mut removed = Vec::new();
        for kv in self.federation.iter() {
            let (k, v) = kv?;
            let Some(at) = k.iter().position(|b| *b == 0) else {
                continue;
            };
            let region = std::str::from_utf8(&k[..at])
                .ok()
                .and_then(|r| Region::new(r).ok())
                .ok_or_else(|| StoreError::Corrupt("federation batch key".into()))?;
            if v.len() == 56 && entry_of(u64_of(&k[at + 1..]), &v).window_end < oldest {
                self.federation.remove(&k)?;
                removed.push((region, u64_of(&k[at + 1..])));
            }
        }
        if !removed.is_empty() {
            self.durable().await?;
        }
        Ok(removed)
    }

    async fn import_state(&self, origin: &Region) -> Result<Option<FollowerState>, StoreError> {
        self.import_state_sync(origin)
    }

    async fn import(
        &self,
        batch: &AcceptedImport,
        now: UnixTime,
        limit: u64,
    ) -> Result<Imported, StoreError> {
        let imported = self.write_import(batch, now, limit)?;
        self.durable().await?;
        Ok(imported)
    }

    async fn forget_import_head(&self, origin: &Region) -> Result<Option<u64>, StoreError> {
        let forgotten = self.write_forget_import_head(origin)?;
        self.durable().await?;
        Ok(forgotten)
    }

    async fn index_entries(&self) -> Result<Vec<IndexEntry>, StoreError> {
        self.batch_meta
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok(entry_of(u64_of(&k), &v))
            })
            .collect()
    }

    async fn prune(&self, now: UnixTime, oldest: UnixTime) -> Result<Vec<u64>, StoreError> {
        let mut removed = Vec::new();
        for e in self.index_entries().await? {
            if e.window_end < oldest {
                self.batch_meta.remove(be(e.sequence))?;
                removed.push(e.sequence);
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
            if r.keys.iter().any(|(_, slot)| *slot > l.published) {
                continue; // not published yet: keep until it is
            }
            self.uploads.remove(be(seq))?;
            self.origins.remove(be(seq))?;
            l.remove_record(&r);
            if let Some(v) = l.expiry.get_mut(&t) {
                v.retain(|s| *s != seq);
                if v.is_empty() {
                    l.expiry.remove(&t);
                }
            }
        }
        let tokens: Vec<(u64, Vec<TokenHash>)> = {
            let mut l = self.ledger();
            let later = l.replay_expiry.split_off(&now.0);
            let gone = std::mem::replace(&mut l.replay_expiry, later);
            for h in gone.values().flatten() {
                l.replay.remove(h);
            }
            gone.into_iter().collect()
        };
        for h in tokens.iter().flat_map(|(_, v)| v) {
            self.replay.remove(h.as_slice())?;
        }
        let yesterday = now.day().saturating_sub(1);
        self.ledger().quota.retain(|(day, _), _| *day >= yesterday);
        for kv in self.quota.range(..be(yesterday).to_vec()) {
            let (k, _) = kv?;
            self.quota.remove(k)?;
        }
        self.durable().await?;
        Ok(removed)
    }

    async fn pending_count(&self) -> Result<usize, StoreError> {
        Ok(self.pending())
    }

    async fn fingerprint(&self) -> Result<[u8; 32], StoreError> {
        use sha2::Digest;
        let mut h = Sha256::new();
        for t in [
            &self.uploads,
            &self.replay,
            &self.quota,
            &self.batch_meta,
            &self.meta,
            &self.traces,
            &self.trace_batch_meta,
            &self.federation,
            &self.origins,
            &self.imports,
        ] {
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

    async fn flush(&self) -> Result<(), StoreError> {
        let c = self.committer.clone();
        tokio::task::spawn_blocking(move || c.commit_blocking())
            .await
            .map_err(|e| StoreError::Io(e.to_string()))?
            .map_err(StoreError::Uncertain)
    }
}

impl SledStore {
    /// Makes everything durable and closes this handle and the committer's; the database is
    /// closed once no other handle remains (so it can be opened again, e.g. in a test).
    pub async fn close(self) -> Result<(), StoreError> {
        self.flush().await?;
        self.committer.stop().await;
        Ok(())
    }

    /// The verification-code store on the same database, sharing the group commit.
    pub fn code_store(&self) -> Result<codes::SledCodeStore, super::codes::CodeStoreError> {
        codes::SledCodeStore::open(&self.db, self.committer.clone())
    }

    /// The underlying database (tests that inspect trees).
    pub fn db(&self) -> &sled::Db {
        &self.db
    }
}
