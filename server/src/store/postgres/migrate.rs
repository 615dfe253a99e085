//! Versioned schema migrations, applied at start, per feature.
//!
//! Each feature (uploads here; venue traces and verification codes can add theirs) owns a
//! list of [`Migration`]s numbered from 1, and `schema_migrations` records which ones a
//! database has. A migration runs in one transaction that first claims its
//! `(feature, version)` row: replicas starting together wait on that row, and all but the
//! first find it taken and skip the migration. A database migrated by a newer server (a
//! version this one does not know) is refused rather than misread.

use super::pool::{db_err, describe, Database};
use crate::store::StoreError;

/// One schema change of one feature.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The feature, e.g. `"uploads"`.
    pub feature: &'static str,
    /// Its version, from 1 up without gaps.
    pub version: i32,
    /// The statements (plain SQL, applied in one transaction).
    pub sql: &'static str,
}

const CREATE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    feature TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at BIGINT NOT NULL,
    PRIMARY KEY (feature, version)
)";

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Applies the migrations `db` has not seen, in order.
pub async fn apply(db: &Database, migrations: &[Migration]) -> Result<(), StoreError> {
    let mut c = db.client().await?;
    // Two replicas creating the table at once can collide in the catalog; the second try
    // finds it.
    if c.batch_execute(CREATE).await.is_err() {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        c.batch_execute(CREATE).await.map_err(db_err)?;
    }
    for m in migrations {
        let tx = c.transaction().await.map_err(db_err)?;
        let claimed = tx
            .execute(
                "INSERT INTO schema_migrations (feature, version, applied_at) VALUES ($1, $2, $3)
                 ON CONFLICT (feature, version) DO NOTHING",
                &[&m.feature, &m.version, &unix_now()],
            )
            .await
            .map_err(db_err)?;
        if claimed == 0 {
            tx.rollback().await.map_err(db_err)?;
            continue;
        }
        tx.batch_execute(m.sql).await.map_err(|e| {
            StoreError::Io(format!(
                "migration {} {} failed: {}",
                m.feature,
                m.version,
                describe(&e)
            ))
        })?;
        tx.commit().await.map_err(db_err)?;
        tracing::info!(
            feature = m.feature,
            version = m.version,
            "database migrated"
        );
    }
    for feature in migrations.iter().map(|m| m.feature) {
        let known = migrations
            .iter()
            .filter(|m| m.feature == feature)
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        let newest: Option<i32> = c
            .query_one(
                "SELECT max(version) FROM schema_migrations WHERE feature = $1",
                &[&feature],
            )
            .await
            .map_err(db_err)?
            .get(0);
        if let Some(n) = newest.filter(|n| *n > known) {
            return Err(StoreError::Incompatible(format!(
                "the database has schema version {n} of {feature}, written by a newer en-server; \
                 this one knows up to {known}"
            )));
        }
    }
    Ok(())
}
