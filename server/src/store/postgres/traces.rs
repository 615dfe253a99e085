//! The PostgreSQL side of [`TraceStore`]: venue traces, shared by every replica.
//!
//! ```text
//! BEGIN
//!   UPDATE trace_counter SET last = last + 1 RETURNING last    -- the record number; held
//!   INSERT INTO replay_tokens … ON CONFLICT DO NOTHING RETURNING token   -- replays
//!   INSERT INTO authority_quota … ON CONFLICT DO UPDATE … RETURNING uploads  -- quota
//!   INSERT INTO trace_records (record, entries)
//! COMMIT (or ROLLBACK on a refusal: nothing written)
//! ```
//!
//! The counter row is held until the insert commits, so trace inserts commit in record order
//! and [`TraceStore::pending_traces`] can name "every record up to n" safely: a trace that
//! commits after the read has a larger number. Publishing a trace batch moves the trace
//! chain's head by compare and set and deletes the records it published, in one transaction.

use en_protocol::venue::report::ENTRY_LEN;
use en_protocol::venue::{AcceptedTrace, TraceEntry};
use en_protocol::wire::index::IndexEntry;
use en_protocol::UnixTime;

use super::pool::{after_failed_commit, db_err, describe, retries_exhausted, retryable, ATTEMPTS};
use super::PgStore;
use crate::store::traces::{PendingTraces, TraceHead, TraceStore};
use crate::store::{Inserted, StoreError};

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// What one attempt of an insert found.
enum Attempt {
    Stored,
    /// The token was stored before: with this digest.
    TokenSeen,
    OverQuota,
}

async fn write(
    tx: &tokio_postgres::Transaction<'_>,
    t: &AcceptedTrace,
    token: &[u8],
    digest: &[u8],
    quota: u64,
) -> Result<Attempt, tokio_postgres::Error> {
    let record: i64 = tx
        .query_one(
            "UPDATE trace_counter SET last = last + 1 WHERE id = 1 RETURNING last",
            &[],
        )
        .await?
        .get(0);
    let new = tx
        .query(
            "INSERT INTO replay_tokens (token, digest, expiry) VALUES ($1, $2, $3)
             ON CONFLICT (token) DO NOTHING RETURNING token",
            &[&token, &digest, &i(t.token_expires_at().0)],
        )
        .await?;
    if new.is_empty() {
        return Ok(Attempt::TokenSeen);
    }
    let used: i64 = tx
        .query_one(
            "INSERT INTO authority_quota (day, authority, uploads) VALUES ($1, $2, 1)
             ON CONFLICT (day, authority)
             DO UPDATE SET uploads = authority_quota.uploads + 1
             RETURNING uploads",
            &[&i(t.accepted_at().day()), &t.authority().as_str()],
        )
        .await?
        .get(0);
    if u(used) > quota {
        return Ok(Attempt::OverQuota);
    }
    let entries: Vec<u8> = t.entries().iter().flat_map(|e| e.encode()).collect();
    tx.execute(
        "INSERT INTO trace_records (record, entries) VALUES ($1, $2)",
        &[&record, &entries],
    )
    .await?;
    Ok(Attempt::Stored)
}

fn entries_of(record: i64, b: &[u8]) -> Result<Vec<TraceEntry>, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("trace record {record}"));
    if !b.len().is_multiple_of(ENTRY_LEN) {
        return Err(corrupt());
    }
    b.chunks_exact(ENTRY_LEN)
        .map(|c| TraceEntry::decode(c).map_err(|_| corrupt()))
        .collect()
}

fn hash_of(b: &[u8]) -> Result<[u8; 32], StoreError> {
    b.try_into()
        .map_err(|_| StoreError::Corrupt("a hash is not 32 bytes".into()))
}

#[async_trait::async_trait]
impl TraceStore for PgStore {
    async fn insert_trace(
        &self,
        trace: &AcceptedTrace,
        quota: u64,
    ) -> Result<Inserted, StoreError> {
        let (token, digest) = self.hasher.trace_replay_of(trace);
        let mut client = self.db.client().await?;
        for attempt in 1..=ATTEMPTS {
            let tx = client.transaction().await.map_err(db_err)?;
            match write(&tx, trace, &token, &digest, quota).await {
                Ok(Attempt::Stored) => {}
                Ok(refused) => {
                    tx.rollback().await.map_err(db_err)?;
                    if matches!(refused, Attempt::OverQuota) {
                        return Err(StoreError::QuotaExceeded(0));
                    }
                    let stored: Option<Vec<u8>> = client
                        .query_opt(
                            "SELECT digest FROM replay_tokens WHERE token = $1",
                            &[&&token[..]],
                        )
                        .await
                        .map_err(db_err)?
                        .map(|r| r.get(0));
                    return match stored {
                        Some(d) if d[..] == digest[..] => Ok(Inserted::AlreadyStored),
                        _ => Err(StoreError::Replayed(0)),
                    };
                }
                Err(e) if retryable(&e) && attempt < ATTEMPTS => continue,
                Err(e) => return Err(db_err(e)),
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

    async fn trace_head(&self) -> Result<Option<TraceHead>, StoreError> {
        let r = self
            .db
            .client()
            .await?
            .query_one(
                "SELECT sequence, hash, window_end, published_upto FROM trace_chain WHERE id = 1",
                &[],
            )
            .await
            .map_err(db_err)?;
        let sequence = u(r.get(0));
        if sequence == 0 {
            return Ok(None);
        }
        Ok(Some(TraceHead {
            sequence,
            hash: hash_of(r.get(1))?,
            window_end: UnixTime(u(r.get(2))),
            published_upto: u(r.get(3)),
        }))
    }

    async fn pending_traces(&self) -> Result<PendingTraces, StoreError> {
        let rows = self
            .db
            .client()
            .await?
            .query(
                "SELECT record, entries FROM trace_records
                 WHERE record > (SELECT published_upto FROM trace_chain WHERE id = 1)
                 ORDER BY record",
                &[],
            )
            .await
            .map_err(db_err)?;
        let mut out = PendingTraces::default();
        for r in &rows {
            let record: i64 = r.get(0);
            out.entries.extend(entries_of(record, r.get(1))?);
            out.upto = u(record);
            out.reports += 1;
        }
        Ok(out)
    }

    async fn publish_traces(&self, entry: &IndexEntry, head: TraceHead) -> Result<(), StoreError> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let moved = tx
            .execute(
                "UPDATE trace_chain SET sequence = $1, hash = $2, window_end = $3,
                     published_upto = GREATEST(published_upto, $4)
                 WHERE id = 1 AND sequence = $5",
                &[
                    &i(head.sequence),
                    &&head.hash[..],
                    &i(head.window_end.0),
                    &i(head.published_upto),
                    &i(head.sequence.saturating_sub(1)),
                ],
            )
            .await
            .map_err(db_err)?;
        if moved != 1 {
            tx.rollback().await.map_err(db_err)?;
            return Err(StoreError::ChainMoved(format!(
                "trace batch {} was built on trace batch {}, which is no longer the head",
                head.sequence,
                head.sequence.saturating_sub(1)
            )));
        }
        tx.execute(
            "INSERT INTO trace_batches (sequence, window_start, window_end, hash, size)
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
        tx.execute(
            "DELETE FROM trace_records WHERE record <= $1",
            &[&i(head.published_upto)],
        )
        .await
        .map_err(db_err)?;
        tx.commit()
            .await
            .map_err(|e| StoreError::Uncertain(describe(&e)))
    }

    async fn trace_index_entries(&self) -> Result<Vec<IndexEntry>, StoreError> {
        let rows = self
            .db
            .client()
            .await?
            .query(
                "SELECT sequence, window_start, window_end, hash, size FROM trace_batches
                 ORDER BY sequence",
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

    async fn prune_trace_batches(&self, oldest: UnixTime) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .db
            .client()
            .await?
            .query(
                "DELETE FROM trace_batches WHERE window_end < $1 RETURNING sequence",
                &[&i(oldest.0)],
            )
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| u(r.get(0)))
            .collect())
    }
}
