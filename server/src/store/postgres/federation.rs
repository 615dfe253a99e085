//! The federation chains' published batches (spec/federation.md §2) on PostgreSQL.

use en_protocol::wire::index::IndexEntry;
use en_protocol::wire::Region;
use en_protocol::UnixTime;

use super::pool::db_err;
use super::PgStore;
use crate::store::StoreError;

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) async fn entries(s: &PgStore, region: &Region) -> Result<Vec<IndexEntry>, StoreError> {
    let rows =
        s.db.client()
            .await?
            .query(
                "SELECT sequence, window_start, window_end, hash, size FROM federation_batches
             WHERE region = $1 ORDER BY sequence",
                &[&region.as_str()],
            )
            .await
            .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let hash: &[u8] = r.get(3);
            Ok(IndexEntry {
                sequence: u(r.get(0)),
                window_start: UnixTime(u(r.get(1))),
                window_end: UnixTime(u(r.get(2))),
                hash: hash
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("a hash is not 32 bytes".into()))?,
                size: u(r.get(4)),
            })
        })
        .collect()
}

pub(super) async fn publish(
    s: &PgStore,
    region: &Region,
    e: &IndexEntry,
) -> Result<(), StoreError> {
    // Inserted only if it follows the chain's last batch (or is the first); the primary key
    // refuses a second batch of the same sequence.
    let n = s
        .db
        .client()
        .await?
        .execute(
            "INSERT INTO federation_batches (region, sequence, window_start, window_end, hash, size)
             SELECT $1, $2, $3, $4, $5, $6
             WHERE $2 = 1 + COALESCE((SELECT max(sequence) FROM federation_batches WHERE region = $1), 0)
             ON CONFLICT (region, sequence) DO NOTHING",
            &[
                &region.as_str(),
                &i(e.sequence),
                &i(e.window_start.0),
                &i(e.window_end.0),
                &&e.hash[..],
                &i(e.size),
            ],
        )
        .await
        .map_err(db_err)?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::ChainMoved(format!(
            "federation chain {region}: batch {} does not follow its last batch",
            e.sequence
        )))
    }
}

pub(super) async fn prune(s: &PgStore, oldest: UnixTime) -> Result<Vec<(Region, u64)>, StoreError> {
    let rows =
        s.db.client()
            .await?
            .query(
                "DELETE FROM federation_batches WHERE window_end < $1 RETURNING region, sequence",
                &[&i(oldest.0)],
            )
            .await
            .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let region: &str = r.get(0);
            Ok((
                Region::new(region)
                    .map_err(|_| StoreError::Corrupt("a federation region".into()))?,
                u(r.get(1)),
            ))
        })
        .collect()
}
