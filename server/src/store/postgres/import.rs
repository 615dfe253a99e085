//! Imports from peers' federation chains (spec/federation.md §2) on PostgreSQL: one
//! transaction stores the batch's new keys with their origin, counts them against the
//! origin's day limit, and records the follower state after the batch.
//!
//! ```text
//! BEGIN
//!   SELECT cut FROM publication_cut FOR SHARE
//!   SELECT tek, meta … WHERE origin = R FOR UPDATE; UPDATE … FROM UNNEST(revised)  -- revisions at R
//!   INSERT INTO diagnosis_keys … ON CONFLICT (tek) DO NOTHING RETURNING tek   -- known keys skipped
//!   INSERT INTO authority_quota ('import:R') … DO UPDATE … RETURNING uploads  -- the day limit
//!   INSERT INTO federation_imports … DO UPDATE                                -- the follower state
//! COMMIT (or ROLLBACK past the limit: nothing written)
//! ```

use std::collections::HashMap;

use en_protocol::import::{is_import_revision, AcceptedImport};
use en_protocol::phone::FollowerState;
use en_protocol::wire::key::{KeyMetadata, METADATA_LEN};
use en_protocol::wire::Region;
use en_protocol::UnixTime;

use super::pool::{after_failed_commit, db_err, retries_exhausted, retryable, ATTEMPTS};
use super::PgStore;
use crate::store::import::{day_count_name, decode_state, encode_state};
use crate::store::{window_end_after, Imported, StoreError};

pub(super) async fn state(
    s: &PgStore,
    origin: &Region,
) -> Result<Option<FollowerState>, StoreError> {
    let row =
        s.db.client()
            .await?
            .query_opt(
                "SELECT state FROM federation_imports WHERE origin = $1",
                &[&origin.as_str()],
            )
            .await
            .map_err(db_err)?;
    row.map(|r| {
        let b: &[u8] = r.get(0);
        decode_state(b).ok_or_else(|| StoreError::Corrupt(format!("import state of {origin}")))
    })
    .transpose()
}

/// What one attempt wrote, before the commit.
enum Attempt {
    Done(Imported),
    OverLimit,
}

async fn write(
    s: &PgStore,
    tx: &tokio_postgres::Transaction<'_>,
    batch: &AcceptedImport,
    now: UnixTime,
    limit: u64,
) -> Result<Attempt, tokio_postgres::Error> {
    let cut: i64 = tx
        .query_one(
            "SELECT cut FROM publication_cut WHERE id = 1 FOR SHARE",
            &[],
        )
        .await?
        .get(0);
    let slot = window_end_after(now.0.max(cut as u64), s.period) as i64;
    let expiry = (batch.keys_expire_at().0 as i64).max(slot);
    // The batch's keys are sorted and distinct (the batch decoder's rule).
    let teks: Vec<&[u8]> = batch.keys().iter().map(|k| &k.key.as_bytes()[..]).collect();
    let metas: Vec<[u8; 8]> = batch.keys().iter().map(|k| k.meta.to_bytes()).collect();
    let metas: Vec<&[u8]> = metas.iter().map(|m| &m[..]).collect();
    let n = teks.len();
    let origin = batch.origin().as_str();
    // Revisions made at the origin: keys imported before from it whose new metadata revises
    // the stored one (`is_import_revision`: only what a phone may revise there, never back)
    // get the new metadata; one already published goes into the window after the cut again
    // (as `Store::republish` does). Keys uploaded here or from another origin are left alone.
    let new_meta: HashMap<&[u8], &KeyMetadata> = batch
        .keys()
        .iter()
        .map(|k| (&k.key.as_bytes()[..], &k.meta))
        .collect();
    let mut rev_teks: Vec<Vec<u8>> = Vec::new();
    let mut rev_metas: Vec<Vec<u8>> = Vec::new();
    for row in tx
        .query(
            "SELECT tek, meta FROM diagnosis_keys WHERE tek = ANY($1) AND origin = $2 FOR UPDATE",
            &[&teks, &origin],
        )
        .await?
    {
        let (tek, meta): (&[u8], &[u8]) = (row.get(0), row.get(1));
        // A stored value that does not decode is left alone (reading it reports it).
        let old = <[u8; METADATA_LEN]>::try_from(meta)
            .ok()
            .and_then(|b| KeyMetadata::from_bytes(&b).ok());
        if let (Some(old), Some(new)) = (old, new_meta.get(tek)) {
            if is_import_revision(&old, new) {
                rev_teks.push(tek.to_vec());
                rev_metas.push(new.to_bytes().to_vec());
            }
        }
    }
    let revised = if rev_teks.is_empty() {
        0
    } else {
        let published: i64 = tx
            .query_one("SELECT published FROM chain WHERE id = 1", &[])
            .await?
            .get(0);
        let next_window =
            window_end_after(u64::try_from(cut.max(published)).unwrap_or(0), s.period) as i64;
        tx.execute(
            "UPDATE diagnosis_keys AS d
             SET meta = v.meta,
                 slot = CASE WHEN d.slot <= c.published THEN $3 ELSE d.slot END,
                 expiry = GREATEST(d.expiry, CASE WHEN d.slot <= c.published THEN $3 ELSE d.slot END)
             FROM UNNEST($1::bytea[], $2::bytea[]) AS v(tek, meta), chain AS c
             WHERE c.id = 1 AND d.tek = v.tek AND d.origin = $4",
            &[&rev_teks, &rev_metas, &next_window, &origin],
        )
        .await? as usize
    };
    let stored = tx
        .query(
            "INSERT INTO diagnosis_keys (tek, meta, slot, expiry, destinations, origin)
             SELECT t, m, $3, $4, '', $5 FROM UNNEST($1::bytea[], $2::bytea[]) AS u(t, m)
             ON CONFLICT (tek) DO NOTHING RETURNING tek",
            &[&teks, &metas, &slot, &expiry, &origin],
        )
        .await?
        .len();
    let day = now.day() as i64;
    let name = day_count_name(batch.origin());
    let after: i64 = tx
        .query_one(
            "INSERT INTO authority_quota (day, authority, uploads) VALUES ($1, $2, $3)
             ON CONFLICT (day, authority)
             DO UPDATE SET uploads = authority_quota.uploads + EXCLUDED.uploads
             RETURNING uploads",
            &[&day, &name, &((stored + revised) as i64)],
        )
        .await?
        .get(0);
    if after as u64 > limit {
        return Ok(Attempt::OverLimit);
    }
    let state = encode_state(batch.follower());
    tx.execute(
        "INSERT INTO federation_imports (origin, state) VALUES ($1, $2)
         ON CONFLICT (origin) DO UPDATE SET state = EXCLUDED.state",
        &[&origin, &&state[..]],
    )
    .await?;
    Ok(Attempt::Done(Imported {
        stored,
        revised,
        known: n - stored - revised,
    }))
}

/// [`crate::store::Store::import`] on PostgreSQL.
pub(super) async fn import(
    s: &PgStore,
    batch: &AcceptedImport,
    now: UnixTime,
    limit: u64,
) -> Result<Imported, StoreError> {
    let mut client = s.db.client().await?;
    for attempt in 1..=ATTEMPTS {
        let tx = client.transaction().await.map_err(db_err)?;
        let imported = match write(s, &tx, batch, now, limit).await {
            Ok(Attempt::Done(i)) => i,
            Ok(Attempt::OverLimit) => {
                tx.rollback().await.map_err(db_err)?;
                return Err(StoreError::QuotaExceeded(0));
            }
            Err(e) if retryable(&e) && attempt < ATTEMPTS => continue,
            Err(e) => return Err(db_err(e)),
        };
        match tx.commit().await {
            Ok(()) => return Ok(imported),
            Err(e) => match after_failed_commit(e, attempt < ATTEMPTS) {
                None => continue,
                Some(e) => return Err(e),
            },
        }
    }
    Err(retries_exhausted())
}

/// [`crate::store::Store::forget_import_head`] on PostgreSQL: one conditional UPDATE (the
/// state read is the state replaced; a batch imported meanwhile is [`StoreError::ChainMoved`]).
pub(super) async fn forget_head(s: &PgStore, origin: &Region) -> Result<Option<u64>, StoreError> {
    let Some(mut st) = state(s, origin).await? else {
        return Ok(None);
    };
    let old = encode_state(&st);
    let Some(head) = st.head.take() else {
        return Ok(None);
    };
    let new = encode_state(&st);
    let n =
        s.db.client()
            .await?
            .execute(
                "UPDATE federation_imports SET state = $2 WHERE origin = $1 AND state = $3",
                &[&origin.as_str(), &&new[..], &&old[..]],
            )
            .await
            .map_err(db_err)?;
    if n != 1 {
        return Err(StoreError::ChainMoved(format!(
            "the import from {origin} advanced meanwhile (a poll imported a batch); nothing was reset"
        )));
    }
    Ok(Some(head.sequence))
}
