//! Revisions on PostgreSQL ([`Store::revise`](crate::store::Store::revise),
//! [`Store::republish`](crate::store::Store::republish)): one transaction, no new table.
//!
//! ```text
//! BEGIN
//!   SELECT cut FROM publication_cut FOR SHARE        -- as an upload: the batcher waits
//!   INSERT INTO replay_tokens … ON CONFLICT DO NOTHING RETURNING token   -- both tokens new?
//!   UPDATE diagnosis_keys SET meta = new, slot = (published? the window after the cut : slot)
//!     … RETURNING tek                                -- every key stored?
//! COMMIT (or ROLLBACK on any refusal: nothing written)
//! ```
//!
//! A key is one row (its TEK is the primary key), so a revision of a published key moves that
//! row back into the window after the cut: the next batch carries it again with the new
//! metadata, and no batch can carry it twice.

use en_protocol::revise::AcceptedRevision;
use en_protocol::wire::key::DiagnosisKey;
use tokio_postgres::Transaction;

use super::pool::{after_failed_commit, db_err, retries_exhausted, retryable, ATTEMPTS};
use super::uploads::is_retry;
use super::PgStore;
use crate::store::token::TokenHash;
use crate::store::{window_end_after, Inserted, StoreError};

/// A replay row: keyed token hash, keyed digest of the keys, expiry.
type TokenRow = (TokenHash, [u8; 32], i64);

/// What one attempt's statements did.
struct Outcome {
    new_tokens: usize,
    updated_keys: usize,
}

async fn write(
    s: &PgStore,
    tx: &Transaction<'_>,
    tokens: &[TokenRow],
    keys: &[DiagnosisKey],
) -> Result<Outcome, tokio_postgres::Error> {
    let cut: i64 = tx
        .query_one(
            "SELECT cut FROM publication_cut WHERE id = 1 FOR SHARE",
            &[],
        )
        .await?
        .get(0);
    // The window after the cut (the batcher moves the cut before it publishes, so the
    // published mark is never past it; the max only guards a store used otherwise).
    let published: i64 = tx
        .query_one("SELECT published FROM chain WHERE id = 1", &[])
        .await?
        .get(0);
    let after = u64::try_from(cut.max(published)).unwrap_or(0);
    let next_window = window_end_after(after, s.period) as i64;
    let new_tokens = if tokens.is_empty() {
        0
    } else {
        let mut rows: Vec<&TokenRow> = tokens.iter().collect();
        rows.sort_unstable();
        let hashes: Vec<&[u8]> = rows.iter().map(|r| &r.0[..]).collect();
        let digests: Vec<&[u8]> = rows.iter().map(|r| &r.1[..]).collect();
        let expiry: Vec<i64> = rows.iter().map(|r| r.2).collect();
        tx.query(
            "INSERT INTO replay_tokens (token, digest, expiry)
             SELECT * FROM UNNEST($1::bytea[], $2::bytea[], $3::int8[])
             ON CONFLICT (token) DO NOTHING RETURNING token",
            &[&hashes, &digests, &expiry],
        )
        .await?
        .len()
    };
    // Sorted: two revisions lock key rows in the same order.
    let mut rows: Vec<([u8; 16], [u8; 8])> = keys
        .iter()
        .map(|k| (*k.key.as_bytes(), k.meta.to_bytes()))
        .collect();
    rows.sort_unstable();
    let teks: Vec<&[u8]> = rows.iter().map(|r| &r.0[..]).collect();
    let metas: Vec<&[u8]> = rows.iter().map(|r| &r.1[..]).collect();
    let updated_keys = tx
        .query(
            "UPDATE diagnosis_keys AS d
             SET meta = v.meta,
                 slot = CASE WHEN d.slot <= c.published THEN $3 ELSE d.slot END,
                 expiry = GREATEST(d.expiry, CASE WHEN d.slot <= c.published THEN $3 ELSE d.slot END)
             FROM UNNEST($1::bytea[], $2::bytea[]) AS v(tek, meta), chain AS c
             WHERE c.id = 1 AND d.tek = v.tek
             RETURNING d.tek",
            &[&teks, &metas, &next_window],
        )
        .await?
        .len();
    Ok(Outcome {
        new_tokens,
        updated_keys,
    })
}

/// Spends `tokens` (none for a plain republish) and gives `keys` their new metadata.
async fn revise_keys(
    s: &PgStore,
    tokens: &[TokenRow],
    keys: &[DiagnosisKey],
) -> Result<Inserted, StoreError> {
    let mut client = s.db.client().await?;
    for attempt in 1..=ATTEMPTS {
        let tx = client.transaction().await.map_err(db_err)?;
        let o = match write(s, &tx, tokens, keys).await {
            Ok(o) => o,
            Err(e) if retryable(&e) && attempt < ATTEMPTS => continue,
            Err(e) => return Err(db_err(e)),
        };
        if o.new_tokens != tokens.len() {
            tx.rollback().await.map_err(db_err)?;
            let replays: Vec<(TokenHash, [u8; 32])> =
                tokens.iter().map(|(h, d, _)| (*h, *d)).collect();
            if o.new_tokens == 0 && is_retry(&client, &replays).await? {
                return Ok(Inserted::AlreadyStored);
            }
            return Err(StoreError::Replayed(0));
        }
        // Fewer rows than keys: a key is not stored, or appears twice.
        if o.updated_keys != keys.len() {
            tx.rollback().await.map_err(db_err)?;
            return Err(StoreError::UnknownKeys);
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

/// [`crate::store::Store::revise`] on PostgreSQL.
pub(super) async fn revise(s: &PgStore, r: &AcceptedRevision) -> Result<Inserted, StoreError> {
    let tokens: Vec<TokenRow> = s
        .hasher
        .revision_replays_of(r)
        .into_iter()
        .zip(r.tokens())
        .map(|((h, d), (_, expiry))| (h, d, i64::try_from(expiry.0).unwrap_or(i64::MAX)))
        .collect();
    revise_keys(s, &tokens, r.keys()).await
}

/// [`crate::store::Store::republish`] on PostgreSQL.
pub(super) async fn republish(s: &PgStore, keys: &[DiagnosisKey]) -> Result<(), StoreError> {
    revise_keys(s, &[], keys).await.map(|_| ())
}
