//! The sled side of [`TraceStore`].
//!
//! | tree | key | value |
//! |---|---|---|
//! | `traces` | record number u64 | version 1 ‖ count u16 ‖ entries (369 bytes each, as in a trace report) |
//! | `trace_batch_meta` | sequence u64 | index entry (window, hash, size), as `batch_meta` |
//! | `meta` | `trace_head` | sequence u64 ‖ hash (32) ‖ window end u64 ‖ published up to u64 |
//!
//! A trace's single-use token goes into the `replay` tree beside the uploads' (a keyed hash
//! of a domain-separated token, so it never meets a case report's), and its quota count is
//! the `quota` tree's: one sled transaction writes the record, the replay row and the quota
//! count, then the group commit makes it durable. Records are deleted in the transaction that
//! publishes them, so the tree only ever holds pending traces.

use en_protocol::venue::report::ENTRY_LEN;
use en_protocol::venue::{AcceptedTrace, TraceEntry};
use en_protocol::wire::index::IndexEntry;
use en_protocol::UnixTime;
use sled::transaction::{ConflictableTransactionError, Transactional};

use super::ledger::Replay;
use super::{abort, be, entry_of, quota_key, u64_of, SledStore};
use crate::store::traces::{PendingTraces, TraceHead, TraceStore};
use crate::store::{Inserted, StoreError};

const RECORD_VERSION: u8 = 1;
const HEAD_KEY: &str = "trace_head";

fn encode_record(entries: &[TraceEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + entries.len() * ENTRY_LEN);
    out.push(RECORD_VERSION);
    out.extend_from_slice(&(entries.len() as u16).to_be_bytes());
    for e in entries {
        out.extend_from_slice(&e.encode());
    }
    out
}

/// Strictly decodes a trace record; `None` if it is not exactly one.
fn decode_record(b: &[u8]) -> Option<Vec<TraceEntry>> {
    let (&version, rest) = b.split_first()?;
    let (n, rest) = rest.split_at_checked(2)?;
    let n = usize::from(u16::from_be_bytes(n.try_into().ok()?));
    if version != RECORD_VERSION || rest.len() != n * ENTRY_LEN {
        return None;
    }
    rest.chunks_exact(ENTRY_LEN)
        .map(|c| TraceEntry::decode(c).ok())
        .collect()
}

impl SledStore {
    fn trace_head_sync(&self) -> Result<Option<TraceHead>, StoreError> {
        Ok(self.meta.get(HEAD_KEY)?.and_then(|v| {
            (v.len() == 8 + 32 + 8 + 8).then(|| TraceHead {
                sequence: u64_of(&v[..8]),
                hash: v[8..40].try_into().expect("32 bytes"),
                window_end: UnixTime(u64_of(&v[40..48])),
                published_upto: u64_of(&v[48..56]),
            })
        }))
    }

    /// Checks and writes a trace (not yet durable). `Ok(false)`: a retry of a trace stored
    /// before, nothing written.
    fn write_trace(&self, t: &AcceptedTrace, quota: u64) -> Result<bool, StoreError> {
        let (hash, digest) = self.hasher.trace_replay_of(t);
        // The ledger lock orders this write against other uploads (quota, replays) and
        // against the batcher reading the pending traces.
        let mut l = self.ledger();
        match l.replay.get(&hash) {
            Some(r) if r.digest == digest => return Ok(false),
            Some(_) => return Err(StoreError::Replayed(0)),
            None => {}
        }
        let day = t.accepted_at().day();
        let authority = t.authority().as_str().to_string();
        let used = l.quota.get(&(day, authority.clone())).copied().unwrap_or(0);
        if used >= quota {
            return Err(StoreError::QuotaExceeded(0));
        }
        let published = self.trace_head_sync()?.map_or(0, |h| h.published_upto);
        let last = match self.traces.last()? {
            Some((k, _)) => u64_of(&k),
            None => 0,
        };
        let seq = last.max(published) + 1;
        let record = encode_record(t.entries());
        let replay = Replay {
            expiry: t.token_expires_at().0,
            digest,
        };
        (&self.traces, &self.replay, &self.quota)
            .transaction(|(tr, rp, qt)| {
                tr.insert(&be(seq), record.as_slice())?;
                rp.insert(hash.as_slice(), replay.encode().as_slice())?;
                qt.insert(quota_key(day, &authority), &be(used + 1))?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(abort)?;
        l.add_replay(hash, replay);
        l.quota.insert((day, authority), used + 1);
        Ok(true)
    }
}

#[async_trait::async_trait]
impl TraceStore for SledStore {
    async fn insert_trace(
        &self,
        trace: &AcceptedTrace,
        quota: u64,
    ) -> Result<Inserted, StoreError> {
        let stored = self.write_trace(trace, quota)?;
        // A retry still waits for a commit: the first attempt's may have failed.
        self.durable().await?;
        Ok(if stored {
            Inserted::Stored
        } else {
            Inserted::AlreadyStored
        })
    }

    async fn trace_head(&self) -> Result<Option<TraceHead>, StoreError> {
        self.trace_head_sync()
    }

    async fn pending_traces(&self) -> Result<PendingTraces, StoreError> {
        let _l = self.ledger(); // no trace is written while we read
        let mut out = PendingTraces::default();
        for kv in self.traces.iter() {
            let (k, v) = kv?;
            let seq = u64_of(&k);
            out.entries.extend(
                decode_record(&v)
                    .ok_or_else(|| StoreError::Corrupt(format!("trace record {seq}")))?,
            );
            out.upto = seq;
            out.reports += 1;
        }
        Ok(out)
    }

    async fn publish_traces(&self, entry: &IndexEntry, head: TraceHead) -> Result<(), StoreError> {
        let mut m = Vec::with_capacity(56);
        m.extend_from_slice(&be(entry.window_start.0));
        m.extend_from_slice(&be(entry.window_end.0));
        m.extend_from_slice(&entry.hash);
        m.extend_from_slice(&be(entry.size));
        let mut h = Vec::with_capacity(56);
        h.extend_from_slice(&be(head.sequence));
        h.extend_from_slice(&head.hash);
        h.extend_from_slice(&be(head.window_end.0));
        h.extend_from_slice(&be(head.published_upto));
        let published: Vec<sled::IVec> = self
            .traces
            .range(..=be(head.published_upto))
            .keys()
            .collect::<Result<_, _>>()?;
        (&self.trace_batch_meta, &self.meta, &self.traces)
            .transaction(|(bm, mt, tr)| {
                bm.insert(&be(head.sequence), m.as_slice())?;
                mt.insert(HEAD_KEY, h.as_slice())?;
                for k in &published {
                    tr.remove(k)?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(abort)?;
        self.durable().await
    }

    async fn trace_index_entries(&self) -> Result<Vec<IndexEntry>, StoreError> {
        self.trace_batch_meta
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok(entry_of(u64_of(&k), &v))
            })
            .collect()
    }

    async fn prune_trace_batches(&self, oldest: UnixTime) -> Result<Vec<u64>, StoreError> {
        let mut removed = Vec::new();
        for e in self.trace_index_entries().await? {
            if e.window_end < oldest {
                self.trace_batch_meta.remove(be(e.sequence))?;
                removed.push(e.sequence);
            }
        }
        if !removed.is_empty() {
            self.durable().await?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use en_protocol::venue::{bench::FixtureRng, fake_trace, Hour};

    #[test]
    fn records_round_trip_strictly() {
        let mut rng = FixtureRng::new(1);
        let entries: Vec<TraceEntry> = (0..3).map(|i| fake_trace(&mut rng, Hour(i))).collect();
        let b = encode_record(&entries);
        assert_eq!(decode_record(&b), Some(entries));
        for n in 0..b.len() {
            assert_eq!(decode_record(&b[..n]), None, "prefix of {n} bytes");
        }
        assert_eq!(decode_record(&[b.as_slice(), &[0]].concat()), None);
        let mut v = b;
        v[0] = 2;
        assert_eq!(decode_record(&v), None);
    }
}
