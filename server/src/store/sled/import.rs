//! Imports from peers' federation chains (spec/federation.md §2): revisions of keys imported
//! before from the same origin (their records rewritten), then one sled transaction over
//! `uploads` (the new keys, as an ordinary record without destinations), `origins` (that
//! record's origin region), `quota` (the origin's day count) and `imports` (the follower
//! state after the batch), then the group commit. After a crash the batch is wholly imported
//! with the state that says so, or not at all (and is fetched again).

use en_protocol::import::{is_import_revision, AcceptedImport};
use en_protocol::phone::FollowerState;
use en_protocol::wire::key::DiagnosisKey;
use en_protocol::wire::Region;
use en_protocol::UnixTime;
use sled::transaction::{ConflictableTransactionError, Transactional};

use super::ledger::HashSet;
use super::record::Record;
use super::{abort, be, quota_key, SledStore};
use crate::store::import::{day_count_name, decode_state, encode_state};
use crate::store::{Imported, StoreError};

impl SledStore {
    pub(super) fn import_state_sync(
        &self,
        origin: &Region,
    ) -> Result<Option<FollowerState>, StoreError> {
        self.imports
            .get(origin.as_str().as_bytes())?
            .map(|v| {
                decode_state(&v).ok_or_else(|| {
                    StoreError::Corrupt(format!("import state of {}", origin.as_str()))
                })
            })
            .transpose()
    }

    /// Drops the head of `origin`'s follower state (not yet durable); see
    /// [`crate::store::Store::forget_import_head`]. A compare-and-swap: if a poll stored a
    /// batch meanwhile, nothing is changed and the answer is [`StoreError::ChainMoved`].
    pub(super) fn write_forget_import_head(
        &self,
        origin: &Region,
    ) -> Result<Option<u64>, StoreError> {
        let key = origin.as_str().as_bytes();
        let Some(old) = self.imports.get(key)? else {
            return Ok(None);
        };
        let mut state = decode_state(&old)
            .ok_or_else(|| StoreError::Corrupt(format!("import state of {}", origin.as_str())))?;
        let Some(head) = state.head.take() else {
            return Ok(None);
        };
        self.imports
            .compare_and_swap(key, Some(old), Some(&encode_state(&state)[..]))?
            .map_err(|_| {
                StoreError::ChainMoved(format!(
                    "the import from {} advanced meanwhile (a poll imported a batch); nothing was reset",
                    origin.as_str()
                ))
            })?;
        Ok(Some(head.sequence))
    }

    /// The keys of `batch` stored before from the same origin whose new metadata revises the
    /// stored one ([`is_import_revision`]): revisions made at the origin (spec/federation.md
    /// §2). A key uploaded here, or imported from another origin, is never revised by a peer.
    fn revisions_in(&self, batch: &AcceptedImport) -> Result<Vec<DiagnosisKey>, StoreError> {
        let candidates: Vec<(u64, &DiagnosisKey)> = {
            let l = self.ledger();
            batch
                .keys()
                .iter()
                .filter_map(|k| l.teks.get(k.key.as_bytes()).map(|seq| (*seq, k)))
                .collect()
        };
        let origin = batch.origin().as_str().as_bytes();
        let mut revised = Vec::new();
        for (seq, k) in candidates {
            if self.origins.get(be(seq))?.as_deref() != Some(origin) {
                continue;
            }
            let Some(record) = self.record(seq)? else {
                continue;
            };
            if record
                .keys
                .iter()
                .any(|(stored, _)| stored.key == k.key && is_import_revision(&stored.meta, &k.meta))
            {
                revised.push(k.clone());
            }
        }
        Ok(revised)
    }

    /// Checks and writes an import (not yet durable): revisions of keys imported before from
    /// the same origin first (the key's record rewritten, as [`Store::republish`] does), then
    /// the new keys, the day count and the follower state in one transaction. Both are made
    /// durable by the same commit; if the second fails, the batch is fetched again and its
    /// revisions, already applied, are no longer revisions.
    ///
    /// [`Store::republish`]: crate::store::Store::republish
    pub(super) fn write_import(
        &self,
        batch: &AcceptedImport,
        now: UnixTime,
        limit: u64,
    ) -> Result<Imported, StoreError> {
        let revised = self.revisions_in(batch)?;
        {
            let l = self.ledger();
            let new = batch
                .keys()
                .iter()
                .filter(|k| !l.teks.contains_key(k.key.as_bytes()))
                .count();
            let name = day_count_name(batch.origin());
            let before = l.quota.get(&(now.day(), name)).copied().unwrap_or(0);
            if before + (new + revised.len()) as u64 > limit {
                return Err(StoreError::QuotaExceeded(0));
            }
        }
        if !revised.is_empty() {
            self.write_revision(&[], &revised)?;
        }
        let cut = self.cut.read().expect("cut lock");
        let mut l = self.ledger();
        let mut seen = HashSet::default();
        let new: Vec<_> = batch
            .keys()
            .iter()
            .filter(|k| !l.teks.contains_key(k.key.as_bytes()) && seen.insert(*k.key.as_bytes()))
            .cloned()
            .collect();
        let day = now.day();
        let name = day_count_name(batch.origin());
        let before = l.quota.get(&(day, name.clone())).copied().unwrap_or(0);
        let after = before + (new.len() + revised.len()) as u64;
        if after > limit {
            return Err(StoreError::QuotaExceeded(0));
        }
        let imported = Imported {
            stored: new.len(),
            revised: revised.len(),
            known: batch.keys().len() - new.len() - revised.len(),
        };
        let slot = self.slot_end(now.0.max(*cut));
        let record = (!new.is_empty()).then(|| Record {
            key_expiry: batch.keys_expire_at().0,
            keys: new.into_iter().map(|k| (k, slot)).collect(),
            destinations: Vec::new(),
        });
        let seq = l.next;
        let encoded = record.as_ref().map(Record::encode);
        let state = encode_state(batch.follower());
        let origin = batch.origin().as_str().as_bytes();
        (&self.uploads, &self.origins, &self.quota, &self.imports)
            .transaction(|(up, or, qt, im)| {
                if let Some(r) = &encoded {
                    up.insert(&be(seq), r.as_slice())?;
                    or.insert(&be(seq), origin)?;
                }
                if after != before {
                    qt.insert(quota_key(day, &name), &be(after))?;
                }
                im.insert(origin, &state[..])?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(abort)?;
        if let Some(r) = &record {
            l.add_record(seq, r);
        }
        l.quota.insert((day, name), after);
        Ok(imported)
    }
}
