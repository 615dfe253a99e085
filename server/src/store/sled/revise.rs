//! Revisions on sled ([`Store::revise`](crate::store::Store::revise),
//! [`Store::republish`](crate::store::Store::republish)): the record that holds each key is
//! rewritten with the key's new metadata, and a key already published is moved to the window
//! after the publication cut, so the next batch carries it again. One sled transaction over
//! `uploads` and `replay`; the group commit makes it durable.
//!
//! A key lives in exactly one record (the upload path refuses stored keys), so rewriting that
//! record in place means the batcher can never see a key twice: the latest metadata wins.

use std::collections::BTreeMap;

use en_protocol::wire::key::DiagnosisKey;
use sled::transaction::{ConflictableTransactionError, Transactional};

use super::ledger::{HashSet, Replay, TokenHash};
use super::record::Record;
use super::{abort, be, SledStore};
use crate::store::StoreError;

impl SledStore {
    /// Spends `tokens` (none for a plain republish) and gives `keys` their new metadata (not
    /// yet durable). `Ok(false)`: a retry of a revision stored before, nothing written.
    pub(super) fn write_revision(
        &self,
        tokens: &[(TokenHash, Replay)],
        keys: &[DiagnosisKey],
    ) -> Result<bool, StoreError> {
        let cut = self.cut.read().expect("cut lock");
        let mut l = self.ledger();
        if !tokens.is_empty()
            && tokens
                .iter()
                .all(|(h, r)| l.replay.get(h).is_some_and(|s| s.digest == r.digest))
        {
            return Ok(false);
        }
        if tokens.iter().any(|(h, _)| l.replay.contains_key(h)) {
            return Err(StoreError::Replayed(0));
        }
        // The records to rewrite, each with its revised keys.
        let mut by_record: BTreeMap<u64, Vec<&DiagnosisKey>> = BTreeMap::new();
        let mut seen = HashSet::default();
        for k in keys {
            let b = k.key.as_bytes();
            let seq = l.teks.get(b).copied().ok_or(StoreError::UnknownKeys)?;
            if !seen.insert(*b) {
                return Err(StoreError::UnknownKeys);
            }
            by_record.entry(seq).or_default().push(k);
        }
        // The window after the cut (the batcher moves the cut before it publishes, so the
        // published mark is never past it; the max only guards a store used otherwise).
        let next_window = self.slot_end((*cut).max(l.published));
        let mut rewritten: Vec<(u64, Record, Vec<u64>)> = Vec::with_capacity(by_record.len());
        for (seq, revised) in by_record {
            let mut record = self
                .record(seq)?
                .ok_or_else(|| StoreError::Corrupt(format!("upload record {seq} is missing")))?;
            let mut moved = Vec::new();
            for k in revised {
                let (stored, slot) = record
                    .keys
                    .iter_mut()
                    .find(|(s, _)| s.key == k.key)
                    .ok_or_else(|| StoreError::Corrupt(format!("upload record {seq}")))?;
                stored.meta = k.meta;
                if *slot <= l.published {
                    *slot = next_window;
                    moved.push(next_window);
                }
            }
            rewritten.push((seq, record, moved));
        }
        let encoded: Vec<(u64, Vec<u8>)> = rewritten
            .iter()
            .map(|(seq, r, _)| (*seq, r.encode()))
            .collect();
        (&self.uploads, &self.replay)
            .transaction(|(up, rp)| {
                for (seq, bytes) in &encoded {
                    up.insert(&be(*seq), bytes.as_slice())?;
                }
                for (h, r) in tokens {
                    rp.insert(h.as_slice(), r.encode().as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(abort)?;
        for (seq, record, moved) in rewritten {
            for slot in moved {
                l.add_pending(seq, slot);
            }
            // A moved key may outlive the record's earlier expiry: prune keeps a record with
            // an unpublished key, and this entry brings it back once the key is published.
            let e = l.expiry.entry(record.expiry()).or_default();
            if !e.contains(&seq) {
                e.push(seq);
            }
        }
        for (h, r) in tokens {
            l.add_replay(*h, *r);
        }
        Ok(true)
    }
}
