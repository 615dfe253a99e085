//! The shared store: PostgreSQL, for several `en-server` replicas.
//!
//! Any replica accepts uploads; each upload is one transaction whose checks the database
//! enforces (primary keys for replayed tokens and keys stored before, a counter row per
//! authority and day for the quota: [`uploads`]), committed with `synchronous_commit = on`
//! before the 2xx. One replica at a time holds the batch lock ([`lock`]) and closes windows;
//! the publication cut is a row that every upload holds `FOR SHARE` ([`publish`] moves it),
//! and the chain head moves by compare and set, so no upload slips under a window being
//! published and the chain never forks.
//!
//! The schema is plain SQL (tables, primary keys, indexes), applied at start as versioned
//! migrations per feature ([`migrate`]). Other features' stores (venue traces, verification
//! codes) get their PostgreSQL implementation the same way: venue traces ([`traces`]) have
//! their own migrations in [`MIGRATIONS`]; verification codes ([`codes`]) are a store of their
//! own on the same [`Database`], with their own migrations.
//!
//! Privacy is as in the sled store: a key row holds the key, its metadata and its window;
//! tokens are kept apart as keyed hashes under `replay.key` (which is not in the database;
//! every replica must have the same one, and the database refuses a replica whose key differs)
//! and deleted when they expire.

pub mod codes;
mod federation;
mod import;
pub mod lock;
pub mod migrate;
pub mod pool;
pub mod publish;
mod revise;
pub mod traces;
pub mod uploads;

use en_protocol::accept::AcceptedUpload;
use en_protocol::import::AcceptedImport;
use en_protocol::phone::FollowerState;
use en_protocol::revise::AcceptedRevision;
use en_protocol::wire::index::IndexEntry;
use en_protocol::wire::key::DiagnosisKey;
use en_protocol::wire::Region;
use en_protocol::UnixTime;

pub use self::codes::PgCodeStore;
pub use self::migrate::Migration;
use self::pool::db_err;
pub use self::pool::{Connect, Database};
use super::token::TokenHasher;
use super::{ChainHead, Imported, Inserted, Store, StoreError};

/// The migrations of the upload store (feature `uploads`) and of the venue trace store
/// (feature `traces`, [`traces`]).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        feature: "uploads",
        version: 1,
        sql: include_str!("schema/uploads-0001.sql"),
    },
    Migration {
        feature: "uploads",
        version: 2,
        sql: include_str!("schema/uploads-0002.sql"),
    },
    Migration {
        feature: "uploads",
        version: 3,
        sql: include_str!("schema/uploads-0003.sql"),
    },
    Migration {
        feature: "uploads",
        version: 4,
        sql: include_str!("schema/uploads-0004.sql"),
    },
    Migration {
        feature: "traces",
        version: 1,
        sql: include_str!("schema/traces-0001.sql"),
    },
];

/// The PostgreSQL-backed store of uploads and of the chain head.
pub struct PgStore {
    db: Database,
    hasher: TokenHasher,
    period: u64,
    lock: lock::BatchLock,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("db", &self.db)
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Opens the store on `db`: applies its migrations, then checks that this replica shares
    /// the database's replay secret and batch period (the first replica records them).
    /// `period` is the batch period; `secret` keys the token hashes.
    pub async fn open(db: Database, period: u64, secret: [u8; 32]) -> Result<Self, StoreError> {
        db.migrate(MIGRATIONS).await?;
        let hasher = TokenHasher::new(secret);
        let period = period.max(1);
        let check = hasher.check_value();
        let c = db.client().await?;
        c.execute(
            "INSERT INTO upload_settings (id, replay_key_check, batch_period) VALUES (1, $1, $2)
             ON CONFLICT (id) DO NOTHING",
            &[&&check[..], &(period as i64)],
        )
        .await
        .map_err(db_err)?;
        let r = c
            .query_one(
                "SELECT replay_key_check, batch_period FROM upload_settings WHERE id = 1",
                &[],
            )
            .await
            .map_err(db_err)?;
        let (stored_check, stored_period): (&[u8], i64) = (r.get(0), r.get(1));
        if stored_check != check {
            return Err(StoreError::Incompatible(
                "this server's replay.key is not the one the database was started with: every \
                 replica must have the same replay.key (copy it from the first replica's data \
                 directory)"
                    .into(),
            ));
        }
        if stored_period != period as i64 {
            return Err(StoreError::Incompatible(format!(
                "batch_period_seconds is {period} here but {stored_period} in the database: \
                 every replica must use the same"
            )));
        }
        drop(c);
        Ok(PgStore {
            lock: lock::BatchLock::new(db.clone()),
            db,
            hasher,
            period,
        })
    }

    /// The database (one pool), for the stores of other features.
    pub fn database(&self) -> &Database {
        &self.db
    }
}

#[async_trait::async_trait]
impl Store for PgStore {
    async fn insert_destined(
        &self,
        uploads: &[AcceptedUpload],
        destinations: &[Vec<Region>],
        quota: u64,
    ) -> Result<Inserted, StoreError> {
        uploads::insert(self, uploads, destinations, quota).await
    }

    async fn chaff(&self, keys: usize) -> Result<(), StoreError> {
        uploads::chaff(self, keys).await
    }

    async fn head(&self) -> Result<Option<ChainHead>, StoreError> {
        publish::head(self).await
    }

    async fn advance_cut(&self, cut: UnixTime) -> Result<(), StoreError> {
        publish::advance_cut(self, cut).await
    }

    async fn released_destined(
        &self,
        cut: UnixTime,
    ) -> Result<Vec<(DiagnosisKey, Vec<Region>)>, StoreError> {
        publish::released_destined(self, cut).await
    }

    async fn publish(&self, entry: &IndexEntry, head: ChainHead) -> Result<(), StoreError> {
        publish::publish(self, entry, head).await
    }

    async fn revise(&self, revision: &AcceptedRevision) -> Result<Inserted, StoreError> {
        revise::revise(self, revision).await
    }

    async fn republish(&self, keys: &[DiagnosisKey]) -> Result<(), StoreError> {
        revise::republish(self, keys).await
    }

    async fn index_entries(&self) -> Result<Vec<IndexEntry>, StoreError> {
        publish::index_entries(self).await
    }

    async fn federation_entries(&self, region: &Region) -> Result<Vec<IndexEntry>, StoreError> {
        federation::entries(self, region).await
    }

    async fn federation_publish(
        &self,
        region: &Region,
        entry: &IndexEntry,
    ) -> Result<(), StoreError> {
        federation::publish(self, region, entry).await
    }

    async fn federation_prune(&self, oldest: UnixTime) -> Result<Vec<(Region, u64)>, StoreError> {
        federation::prune(self, oldest).await
    }

    async fn import_state(&self, origin: &Region) -> Result<Option<FollowerState>, StoreError> {
        import::state(self, origin).await
    }

    async fn import(
        &self,
        batch: &AcceptedImport,
        now: UnixTime,
        limit: u64,
    ) -> Result<Imported, StoreError> {
        import::import(self, batch, now, limit).await
    }

    async fn forget_import_head(&self, origin: &Region) -> Result<Option<u64>, StoreError> {
        import::forget_head(self, origin).await
    }

    async fn prune(&self, now: UnixTime, oldest: UnixTime) -> Result<Vec<u64>, StoreError> {
        publish::prune(self, now, oldest).await
    }

    async fn pending_count(&self) -> Result<usize, StoreError> {
        publish::pending_count(self).await
    }

    async fn fingerprint(&self) -> Result<[u8; 32], StoreError> {
        publish::fingerprint(self).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Every write was committed synchronously before it returned.
        Ok(())
    }

    async fn batch_lock(&self) -> Result<bool, StoreError> {
        self.lock.hold().await
    }
}
