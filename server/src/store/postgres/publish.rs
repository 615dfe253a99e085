//! The batcher's side: the cut, the keys of a window, the chain head, retention.
//!
//! The chain head moves by compare and set (`WHERE sequence = <the head the batch was built
//! on>`): a replica that lost the batch lock mid-window cannot publish a second batch with the
//! same sequence, so the chain never forks, whoever holds the lock.

use en_protocol::keys::TemporaryExposureKey;
use en_protocol::wire::index::IndexEntry;
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata};
use en_protocol::wire::Region;
use en_protocol::UnixTime;

use super::pool::db_err;
use super::PgStore;
use crate::store::{parse_destinations, ChainHead, StoreError};

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn hash_of(b: &[u8]) -> Result<[u8; 32], StoreError> {
    b.try_into()
        .map_err(|_| StoreError::Corrupt("a hash is not 32 bytes".into()))
}

const PUBLISHED: &str = "(SELECT published FROM chain WHERE id = 1)";

pub(super) async fn head(s: &PgStore) -> Result<Option<ChainHead>, StoreError> {
    let r =
        s.db.client()
            .await?
            .query_one(
                "SELECT sequence, hash, window_end, published FROM chain WHERE id = 1",
                &[],
            )
            .await
            .map_err(db_err)?;
    let sequence = u(r.get(0));
    if sequence == 0 {
        return Ok(None);
    }
    Ok(Some(ChainHead {
        sequence,
        hash: hash_of(r.get(1))?,
        window_end: UnixTime(u(r.get(2))),
        cut: UnixTime(u(r.get(3))),
    }))
}

pub(super) async fn advance_cut(s: &PgStore, cut: UnixTime) -> Result<(), StoreError> {
    // Waits for every upload holding the cut FOR SHARE; committed synchronously.
    s.db.client()
        .await?
        .execute(
            "UPDATE publication_cut SET cut = GREATEST(cut, $1) WHERE id = 1",
            &[&i(cut.0)],
        )
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(super) async fn released_destined(
    s: &PgStore,
    cut: UnixTime,
) -> Result<Vec<(DiagnosisKey, Vec<Region>)>, StoreError> {
    let rows =
        s.db.client()
            .await?
            .query(
                &format!(
                    "SELECT tek, meta, destinations FROM diagnosis_keys WHERE slot > {PUBLISHED} AND slot <= $1"
                ),
                &[&i(cut.0)],
            )
            .await
            .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let tek: &[u8] = r.get(0);
            let meta: &[u8] = r.get(1);
            let destinations: &str = r.get(2);
            let corrupt = || StoreError::Corrupt("a stored key".into());
            Ok((
                DiagnosisKey {
                    key: TemporaryExposureKey::from_bytes(tek.try_into().map_err(|_| corrupt())?),
                    meta: KeyMetadata::from_bytes(meta.try_into().map_err(|_| corrupt())?)
                        .map_err(|_| corrupt())?,
                },
                parse_destinations(destinations).ok_or_else(corrupt)?,
            ))
        })
        .collect()
}

pub(super) async fn publish(
    s: &PgStore,
    entry: &IndexEntry,
    head: ChainHead,
) -> Result<(), StoreError> {
    let mut client = s.db.client().await?;
    let tx = client.transaction().await.map_err(db_err)?;
    let moved = tx
        .execute(
            "UPDATE chain SET sequence = $1, hash = $2, window_end = $3,
                 published = GREATEST(published, $4)
             WHERE id = 1 AND sequence = $5",
            &[
                &i(head.sequence),
                &&head.hash[..],
                &i(head.window_end.0),
                &i(head.cut.0),
                &i(head.sequence.saturating_sub(1)),
            ],
        )
        .await
        .map_err(db_err)?;
    if moved != 1 {
        tx.rollback().await.map_err(db_err)?;
        return Err(StoreError::ChainMoved(format!(
            "batch {} was built on batch {}, which is no longer the head",
            head.sequence,
            head.sequence.saturating_sub(1)
        )));
    }
    tx.execute(
        "INSERT INTO batches (sequence, window_start, window_end, hash, size)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &i(entry.sequence),
            &i(entry.window_start.0),
            &i(entry.window_end.0),
            &&entry.hash[..],
            &i(entry.size),
        ],
    )
    .await
    .map_err(db_err)?;
    tx.commit()
        .await
        .map_err(|e| StoreError::Uncertain(super::pool::describe(&e)))
}

pub(super) async fn index_entries(s: &PgStore) -> Result<Vec<IndexEntry>, StoreError> {
    let rows = s
        .db
        .client()
        .await?
        .query(
            "SELECT sequence, window_start, window_end, hash, size FROM batches ORDER BY sequence",
            &[],
        )
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            Ok(IndexEntry {
                sequence: u(r.get(0)),
                window_start: UnixTime(u(r.get(1))),
                window_end: UnixTime(u(r.get(2))),
                hash: hash_of(r.get(3))?,
                size: u(r.get(4)),
            })
        })
        .collect()
}

pub(super) async fn prune(
    s: &PgStore,
    now: UnixTime,
    oldest: UnixTime,
) -> Result<Vec<u64>, StoreError> {
    let mut client = s.db.client().await?;
    let tx = client.transaction().await.map_err(db_err)?;
    let removed = tx
        .query(
            "DELETE FROM batches WHERE window_end < $1 RETURNING sequence",
            &[&i(oldest.0)],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| u(r.get(0)))
        .collect();
    let now = i(now.0);
    tx.execute(
        &format!("DELETE FROM diagnosis_keys WHERE expiry < $1 AND slot <= {PUBLISHED}"),
        &[&now],
    )
    .await
    .map_err(db_err)?;
    tx.execute("DELETE FROM replay_tokens WHERE expiry < $1", &[&now])
        .await
        .map_err(db_err)?;
    let yesterday = now / 86_400 - 1;
    tx.execute("DELETE FROM authority_quota WHERE day < $1", &[&yesterday])
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(removed)
}

pub(super) async fn pending_count(s: &PgStore) -> Result<usize, StoreError> {
    let n: i64 =
        s.db.client()
            .await?
            .query_one(
                &format!("SELECT count(*) FROM diagnosis_keys WHERE slot > {PUBLISHED}"),
                &[],
            )
            .await
            .map_err(db_err)?
            .get(0);
    Ok(u(n) as usize)
}

/// A digest of every stored row, in key order (the cut and fake-upload filler excluded: they
/// are not data).
pub(super) async fn fingerprint(s: &PgStore) -> Result<[u8; 32], StoreError> {
    use sha2::Digest;
    let client = s.db.client().await?;
    let mut h = sha2::Sha256::new();
    for (table, columns) in [
        (
            "diagnosis_keys",
            "tek, meta, slot, expiry, destinations, origin",
        ),
        ("federation_imports", "origin, state"),
        ("replay_tokens", "token, digest, expiry"),
        ("authority_quota", "day, authority, uploads"),
        ("batches", "sequence, window_start, window_end, hash, size"),
        ("chain", "sequence, hash, window_end, published"),
        ("trace_records", "record, entries"),
        (
            "trace_batches",
            "sequence, window_start, window_end, hash, size",
        ),
        ("trace_chain", "sequence, hash, window_end, published_upto"),
        (
            "federation_batches",
            "region, sequence, window_start, window_end, hash, size",
        ),
    ] {
        h.update(table);
        // Each row as text (one rendering whatever the types), in that text's order.
        let q = format!("SELECT row({columns})::text AS r FROM {table} ORDER BY r");
        for r in client.query(&q, &[]).await.map_err(db_err)? {
            let row: String = r.get(0);
            h.update((row.len() as u64).to_be_bytes());
            h.update(row);
        }
    }
    Ok(h.finalize().into())
}
