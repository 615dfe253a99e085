//! The upload path's write: the checks against the in-memory indexes (replayed tokens, keys
//! stored before, quotas), then one sled transaction over `uploads`, `replay` and `quota`.
//! Durability is the group commit's job ([`super::commit`]).

use en_protocol::accept::AcceptedUpload;
use sled::transaction::{ConflictableTransactionError, Transactional};

use super::ledger::{HashMap, HashSet, Replay, TokenHash};
use super::record::Record;
use super::{abort, be, quota_key, SledStore};
use crate::store::{destinations_of, StoreError};
use en_protocol::wire::Region;

impl SledStore {
    /// End of the publication window of a key released at `release`: the first window end
    /// strictly after it.
    pub(super) fn slot_end(&self, release: u64) -> u64 {
        (release / self.period + 1) * self.period
    }

    /// Checks and writes `uploads` (not yet durable). `Ok(false)`: a retry of uploads stored
    /// before, nothing written.
    pub(super) fn write(
        &self,
        uploads: &[AcceptedUpload],
        destinations: &[Vec<Region>],
        quota: u64,
    ) -> Result<bool, StoreError> {
        let replays: Vec<(TokenHash, [u8; 32])> =
            uploads.iter().map(|u| self.hasher.replay_of(u)).collect();
        let cut = self.cut.read().expect("cut lock");
        let mut l = self.ledger();
        // A retry: every token was stored before with exactly these keys.
        if replays
            .iter()
            .all(|(h, d)| l.replay.get(h).is_some_and(|r| &r.digest == d))
        {
            return Ok(false);
        }
        let mut tokens = HashSet::default();
        let mut teks = HashSet::default();
        let mut used: HashMap<(u64, &str), u64> = HashMap::default();
        for (i, (u, (h, _))) in uploads.iter().zip(&replays).enumerate() {
            if l.replay.contains_key(h) || !tokens.insert(*h) {
                return Err(StoreError::Replayed(i));
            }
            for k in u.keys() {
                let b = k.key.key.as_bytes();
                if l.teks.contains_key(b) || !teks.insert(*b) {
                    return Err(StoreError::KeyExists(i));
                }
            }
            let day = u.accepted_at().day();
            let authority = u.authority().as_str();
            let q = used.entry((day, authority)).or_insert_with(|| {
                l.quota
                    .get(&(day, authority.to_string()))
                    .copied()
                    .unwrap_or(0)
            });
            if *q >= quota {
                return Err(StoreError::QuotaExceeded(i));
            }
            *q += 1;
        }
        let record = Record {
            key_expiry: uploads
                .iter()
                .map(|u| u.keys_expire_at().0)
                .max()
                .unwrap_or(0),
            keys: uploads
                .iter()
                .flat_map(|u| u.keys())
                .map(|k| (k.key.clone(), self.slot_end(k.release_at.0.max(*cut))))
                .collect(),
            destinations: Record::per_key(
                uploads
                    .iter()
                    .enumerate()
                    .map(|(i, u)| (u.keys().len(), destinations_of(destinations, i))),
            ),
        };
        let seq = l.next;
        let replay_rows: Vec<(TokenHash, Replay)> = uploads
            .iter()
            .zip(&replays)
            .map(|(u, (h, d))| {
                (
                    *h,
                    Replay {
                        expiry: u.token_expires_at().0,
                        digest: *d,
                    },
                )
            })
            .collect();
        let encoded = record.encode();
        (&self.uploads, &self.replay, &self.quota)
            .transaction(|(up, rp, qt)| {
                up.insert(&be(seq), encoded.as_slice())?;
                for (h, r) in &replay_rows {
                    rp.insert(h.as_slice(), r.encode().as_slice())?;
                }
                for ((day, authority), n) in &used {
                    qt.insert(quota_key(*day, authority), &be(*n))?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(abort)?;
        l.add_record(seq, &record);
        for (h, r) in replay_rows {
            l.add_replay(h, r);
        }
        for ((day, authority), n) in used {
            l.quota.insert((day, authority.to_string()), n);
        }
        Ok(true)
    }
}
