//! The upload path: one transaction per insert, its checks enforced by the database, so they
//! hold across replicas.
//!
//! ```text
//! BEGIN
//!   SELECT cut FROM publication_cut FOR SHARE       -- the batcher's UPDATE waits for us
//!   INSERT INTO replay_tokens … ON CONFLICT DO NOTHING RETURNING token   -- replays
//!   INSERT INTO diagnosis_keys … ON CONFLICT DO NOTHING RETURNING tek   -- keys stored before
//!   INSERT INTO authority_quota … ON CONFLICT DO UPDATE … RETURNING uploads  -- quota, last
//! COMMIT (or ROLLBACK on any refusal: nothing written)
//! ```
//!
//! `ON CONFLICT DO NOTHING` waits for a concurrent transaction that inserted the same token or
//! key and sees its outcome, so two replicas cannot both accept a token or a key. Rows are
//! inserted in sorted order (no deadlock between two uploads that share keys), and the quota
//! row, which every upload of an authority updates, is taken last, so it is held only for the
//! commit. A refusal whose tokens were all stored before with the same keys is a retry,
//! answered as stored.

use std::collections::{BTreeMap, HashSet};

use en_protocol::accept::AcceptedUpload;
use en_protocol::wire::Region;
use tokio_postgres::Transaction;

use super::pool::{after_failed_commit, db_err, describe, retries_exhausted, retryable, ATTEMPTS};
use super::PgStore;
use crate::store::token::TokenHash;
use crate::store::{destinations_of, destinations_text, window_end_after, Inserted, StoreError};

/// What the database said about one attempt's rows.
struct Outcome {
    new_tokens: HashSet<Vec<u8>>,
    new_keys: HashSet<Vec<u8>>,
    /// Uploads per (day, authority) after this transaction's increment.
    quota_after: BTreeMap<(i64, String), i64>,
}

/// The first refused upload, in the order and with the precedence of the sled store.
fn first_refusal(
    uploads: &[AcceptedUpload],
    replays: &[(TokenHash, [u8; 32])],
    o: &Outcome,
    quota: u64,
) -> Option<StoreError> {
    let mut tokens = HashSet::new();
    let mut keys = HashSet::new();
    let mut counts: BTreeMap<(i64, String), i64> = BTreeMap::new();
    let groups = group_counts(uploads);
    for (i, (u, (h, _))) in uploads.iter().zip(replays).enumerate() {
        if !tokens.insert(*h) || !o.new_tokens.contains(h.as_slice()) {
            return Some(StoreError::Replayed(i));
        }
        for k in u.keys() {
            let b = k.key.key.as_bytes();
            if !keys.insert(*b) || !o.new_keys.contains(b.as_slice()) {
                return Some(StoreError::KeyExists(i));
            }
        }
        let g = group_of(u);
        let before = o.quota_after.get(&g).copied().unwrap_or(0) - groups[&g];
        let n = counts.entry(g).or_default();
        *n += 1;
        if (before + *n) as u64 > quota {
            return Some(StoreError::QuotaExceeded(i));
        }
    }
    None
}

fn group_of(u: &AcceptedUpload) -> (i64, String) {
    (
        u.accepted_at().day() as i64,
        u.authority().as_str().to_string(),
    )
}

fn group_counts(uploads: &[AcceptedUpload]) -> BTreeMap<(i64, String), i64> {
    let mut m = BTreeMap::new();
    for u in uploads {
        *m.entry(group_of(u)).or_default() += 1;
    }
    m
}

/// One `diagnosis_keys` row: TEK, metadata, slot, expiry, destinations.
type KeyRow = ([u8; 16], [u8; 8], i64, i64, String);

/// Writes the rows of `uploads` in `tx` (not committed) and reports what the database took.
async fn write(
    s: &PgStore,
    tx: &Transaction<'_>,
    uploads: &[AcceptedUpload],
    destinations: &[Vec<Region>],
    replays: &[(TokenHash, [u8; 32])],
) -> Result<Outcome, tokio_postgres::Error> {
    let cut: i64 = tx
        .query_one(
            "SELECT cut FROM publication_cut WHERE id = 1 FOR SHARE",
            &[],
        )
        .await?
        .get(0);
    let mut token_rows: Vec<(&[u8], &[u8], i64)> = uploads
        .iter()
        .zip(replays)
        .map(|(u, (h, d))| (&h[..], &d[..], u.token_expires_at().0 as i64))
        .collect();
    token_rows.sort_unstable();
    let mut key_rows: Vec<KeyRow> = uploads
        .iter()
        .enumerate()
        .flat_map(|(i, u)| {
            let d = destinations_text(destinations_of(destinations, i));
            u.keys().iter().map(move |k| {
                let slot = window_end_after(k.release_at.0.max(cut as u64), s.period) as i64;
                let expiry = (u.keys_expire_at().0 as i64).max(slot);
                (
                    *k.key.key.as_bytes(),
                    k.key.meta.to_bytes(),
                    slot,
                    expiry,
                    d.clone(),
                )
            })
        })
        .collect();
    key_rows.sort_unstable();
    let tokens: Vec<&[u8]> = token_rows.iter().map(|r| r.0).collect();
    let digests: Vec<&[u8]> = token_rows.iter().map(|r| r.1).collect();
    let token_expiry: Vec<i64> = token_rows.iter().map(|r| r.2).collect();
    let teks: Vec<&[u8]> = key_rows.iter().map(|r| &r.0[..]).collect();
    let metas: Vec<&[u8]> = key_rows.iter().map(|r| &r.1[..]).collect();
    let slots: Vec<i64> = key_rows.iter().map(|r| r.2).collect();
    let key_expiry: Vec<i64> = key_rows.iter().map(|r| r.3).collect();
    let key_destinations: Vec<&str> = key_rows.iter().map(|r| r.4.as_str()).collect();
    let token_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&tokens, &digests, &token_expiry];
    let key_params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
        [&teks, &metas, &slots, &key_expiry, &key_destinations];
    let (new_tokens, new_keys) = tokio::try_join!(
        tx.query(
            "INSERT INTO replay_tokens (token, digest, expiry)
             SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::int8[])
             ON CONFLICT (token) DO NOTHING RETURNING token",
            &token_params,
        ),
        tx.query(
            "INSERT INTO diagnosis_keys (tek, meta, slot, expiry, destinations)
             SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::int8[], $4::int8[], $5::text[])
             ON CONFLICT (tek) DO NOTHING RETURNING tek",
            &key_params,
        ),
    )?;
    // Sorted: two uploads lock quota rows in the same order.
    let groups = group_counts(uploads);
    let days: Vec<i64> = groups.keys().map(|g| g.0).collect();
    let authorities: Vec<&str> = groups.keys().map(|g| g.1.as_str()).collect();
    let counts: Vec<i64> = groups.values().copied().collect();
    let quota_after = tx
        .query(
            "INSERT INTO authority_quota (day, authority, uploads)
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[])
             ON CONFLICT (day, authority)
             DO UPDATE SET uploads = authority_quota.uploads + EXCLUDED.uploads
             RETURNING day, authority, uploads",
            &[&days, &authorities, &counts],
        )
        .await?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    Ok(Outcome {
        new_tokens: new_tokens.iter().map(|r| r.get(0)).collect(),
        new_keys: new_keys.iter().map(|r| r.get(0)).collect(),
        quota_after,
    })
}

/// Whether every token of `replays` was stored before with exactly these keys (on the
/// connection the insert used: taking a second one could wait for a pool that this insert
/// and its like exhaust).
pub(super) async fn is_retry(
    client: &tokio_postgres::Client,
    replays: &[(TokenHash, [u8; 32])],
) -> Result<bool, StoreError> {
    let tokens: Vec<&[u8]> = replays.iter().map(|(h, _)| &h[..]).collect();
    let stored: BTreeMap<Vec<u8>, Vec<u8>> = client
        .query(
            "SELECT token, digest FROM replay_tokens WHERE token = ANY($1)",
            &[&tokens],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(replays
        .iter()
        .all(|(h, d)| stored.get(&h[..]).is_some_and(|v| v[..] == d[..])))
}

/// [`crate::store::Store::insert`] on PostgreSQL.
pub(super) async fn insert(
    s: &PgStore,
    uploads: &[AcceptedUpload],
    destinations: &[Vec<Region>],
    quota: u64,
) -> Result<Inserted, StoreError> {
    let replays: Vec<(TokenHash, [u8; 32])> =
        uploads.iter().map(|u| s.hasher.replay_of(u)).collect();
    let mut client = s.db.client().await?;
    for attempt in 1..=ATTEMPTS {
        let tx = client.transaction().await.map_err(db_err)?;
        let outcome = match write(s, &tx, uploads, destinations, &replays).await {
            Ok(o) => o,
            Err(e) if retryable(&e) && attempt < ATTEMPTS => continue,
            Err(e) => return Err(db_err(e)),
        };
        if let Some(refusal) = first_refusal(uploads, &replays, &outcome, quota) {
            tx.rollback().await.map_err(db_err)?;
            let all_seen = replays
                .iter()
                .all(|(h, _)| !outcome.new_tokens.contains(&h[..]));
            if all_seen && is_retry(&client, &replays).await? {
                return Ok(Inserted::AlreadyStored);
            }
            return Err(refusal);
        }
        match tx.commit().await {
            Ok(()) => return Ok(Inserted::Stored),
            Err(e) => match after_failed_commit(e, attempt < ATTEMPTS) {
                None => continue,
                Some(e) => return Err(e),
            },
        }
    }
    Err(retries_exhausted())
}

/// [`crate::store::Store::chaff`] on PostgreSQL: the same transaction shape (the cut held,
/// as many bytes written, a synchronous commit) into a row of `chaff`.
pub(super) async fn chaff(s: &PgStore, keys: usize) -> Result<(), StoreError> {
    let mut filler = vec![0u8; keys * 48 + 96];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut filler);
    let slot = i32::from(filler[0] % 64);
    let mut client = s.db.client().await?;
    let tx = client.transaction().await.map_err(db_err)?;
    tx.query_one(
        "SELECT cut FROM publication_cut WHERE id = 1 FOR SHARE",
        &[],
    )
    .await
    .map_err(db_err)?;
    tx.execute(
        "INSERT INTO chaff (slot, filler) VALUES ($1, $2)
         ON CONFLICT (slot) DO UPDATE SET filler = EXCLUDED.filler",
        &[&slot, &filler],
    )
    .await
    .map_err(db_err)?;
    tx.commit()
        .await
        .map_err(|e| StoreError::Uncertain(describe(&e)))
}
