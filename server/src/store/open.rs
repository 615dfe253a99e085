//! Opens the store the configuration names: sled in the data directory, or PostgreSQL.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::postgres::{Connect, Database, PgCodeStore, PgStore};
use super::{CodeStore, SledStore};
use crate::config::{PostgresSetting, Resolved, StoreSetting};
use crate::datadir::{self, DataDir};
use crate::error::Error;
use crate::state::Stores;

/// Resolves a PostgreSQL setting: reads the password (from a file of mode 0600, or an
/// environment variable) and the CA certificates.
pub fn connect_of(cfg: &Resolved, p: &PostgresSetting) -> Result<Connect, Error> {
    let bad = |message: String| Error::Config {
        file: DataDir::new(&cfg.data_dir).config_file(),
        message,
    };
    let password = match (&p.password_file, &p.password_env) {
        (Some(f), _) => {
            let f = cfg.path(f);
            datadir::check_private(&f, 0o600)?;
            let text =
                Zeroizing::new(std::fs::read_to_string(&f).map_err(|e| Error::io("read", &f, e))?);
            Some(Zeroizing::new(
                text.lines().next().unwrap_or("").to_string(),
            ))
        }
        (None, Some(var)) => {
            Some(Zeroizing::new(std::env::var(var).map_err(|_| {
                bad(format!("store.password_env names {var}, which is not set"))
            })?))
        }
        (None, None) => None,
    };
    let ca_pem = match &p.ca_file {
        Some(f) => {
            let f = cfg.path(f);
            Some(std::fs::read(&f).map_err(|e| Error::io("read", &f, e))?)
        }
        None => None,
    };
    Ok(Connect {
        url: p.postgres.clone(),
        password,
        ca_pem,
        pool_size: p.pool_size,
    })
}

/// Opens the configured store (after the data directory's permission checks), and the
/// verification-code store on the same database. Must run inside a tokio runtime.
pub async fn open(cfg: &Resolved) -> Result<Stores, Error> {
    datadir::check_permissions(cfg)?;
    let d = DataDir::new(&cfg.data_dir);
    let secret = datadir::read_replay_key(&d.replay_key())?;
    let period = cfg.config.batch_period_seconds;
    Ok(match &cfg.config.store {
        StoreSetting::Sled => {
            datadir::create_private_dir(&d.db()).map_err(|e| Error::io("create", &d.db(), e))?;
            let sled = SledStore::open(&d.db(), period, secret)?;
            let codes: Arc<dyn CodeStore> = Arc::new(sled.code_store()?);
            (Arc::new(sled), codes)
        }
        StoreSetting::Postgres(p) => {
            let db = Database::connect(&connect_of(cfg, p)?).await?;
            let store = PgStore::open(db.clone(), period, secret).await?;
            let codes = PgCodeStore::open(db).await?;
            (Arc::new(store), Arc::new(codes))
        }
    })
}
