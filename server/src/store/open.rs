//! Opens the store the configuration names: sled in the data directory, or PostgreSQL.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::postgres::{Connect, Database, PgStore};
use super::{CodeStore, SledStore, Store};
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
/// verification-code store. Must run inside a tokio runtime.
///
/// With PostgreSQL the verification codes stay in the data directory's sled database (one
/// replica's console issues and redeems them); codes shared by replicas are not done yet.
pub async fn open(cfg: &Resolved) -> Result<Stores, Error> {
    datadir::check_permissions(cfg)?;
    let d = DataDir::new(&cfg.data_dir);
    let secret = datadir::read_replay_key(&d.replay_key())?;
    let period = cfg.config.batch_period_seconds;
    datadir::create_private_dir(&d.db()).map_err(|e| Error::io("create", &d.db(), e))?;
    let sled = SledStore::open(&d.db(), period, secret)?;
    let codes: Arc<dyn CodeStore> = Arc::new(sled.code_store()?);
    let store: Arc<dyn Store> = match &cfg.config.store {
        StoreSetting::Sled => Arc::new(sled),
        StoreSetting::Postgres(p) => {
            let db = Database::connect(&connect_of(cfg, p)?).await?;
            Arc::new(PgStore::open(db, period, secret).await?)
        }
    };
    Ok((store, codes))
}
