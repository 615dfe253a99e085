//! One pool of connections to the database, shared by every feature's store.
//!
//! Every session runs with `synchronous_commit = on` whatever the database's default, so a
//! `COMMIT` that returned is on the database's stable storage (and its synchronous standbys',
//! if it has some): the upload path answers 2xx only after it. The password is read by the
//! caller (a file or an environment variable) and goes only into the driver's configuration,
//! whose `Debug` does not print it; errors carry SQLSTATE and the server's message, never a
//! parameter value or a row (a constraint's DETAIL would show the row).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;
use zeroize::Zeroizing;

use super::migrate::{self, Migration};
use crate::store::StoreError;

/// How long a request waits for a free connection, and a new connection to be made.
const POOL_TIMEOUT: Duration = Duration::from_secs(10);

/// What it takes to connect: the configuration with its secret resolved.
pub struct Connect {
    /// The URL (it carries no password: the configuration refuses one).
    pub url: String,
    /// The password, from the file or environment variable the configuration names.
    pub password: Option<Zeroizing<String>>,
    /// CA certificates (PEM) that the database's certificate must chain to; with
    /// `sslmode=require` in the URL, connections are TLS (rustls), verified against them.
    pub ca_pem: Option<Vec<u8>>,
    /// Connections in the pool.
    pub pool_size: usize,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

#[derive(Clone)]
enum Tls {
    None,
    Rustls(MakeRustlsConnect),
}

/// A database: the pool, and what it takes to open a dedicated session (the batch lock).
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    config: Arc<tokio_postgres::Config>,
    tls: Tls,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .finish_non_exhaustive()
    }
}

/// A database error as a message: the server's message and SQLSTATE, or the driver's own
/// (connection) message; never DETAIL, which can quote a row.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} (SQLSTATE {})", d.message(), d.code().code()),
        None => e.to_string(),
    }
}

/// The error of a statement that ran before anything was committed.
pub fn db_err(e: tokio_postgres::Error) -> StoreError {
    StoreError::Io(describe(&e))
}

/// Whether `e` asks for the transaction to be run again (a serialization failure or a
/// deadlock; distributed databases answer the former under contention).
pub fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// Attempts of a write transaction that the database asks to run again ([`retryable`]).
pub const ATTEMPTS: usize = 3;

/// What a failed `COMMIT` of a write means: `None` if the transaction should run again (the
/// database refused it as [`retryable`] and `may_retry`), else the error to return: a refusal
/// (nothing written), or [`StoreError::Uncertain`] if the connection broke during the
/// `COMMIT` (the outcome is unknown; a retry of the same write is safe).
pub fn after_failed_commit(e: tokio_postgres::Error, may_retry: bool) -> Option<StoreError> {
    if e.as_db_error().is_none() {
        return Some(StoreError::Uncertain(describe(&e)));
    }
    if retryable(&e) && may_retry {
        None
    } else {
        Some(db_err(e))
    }
}

/// The error after every attempt asked for a retry.
pub fn retries_exhausted() -> StoreError {
    StoreError::Io("the database kept asking to retry".into())
}

fn tls_of(c: &Connect, mode: SslMode) -> Result<Tls, StoreError> {
    let Some(pem) = &c.ca_pem else {
        if mode == SslMode::Require {
            return Err(StoreError::Io(
                "store: sslmode=require needs ca_file (the CA of the database's certificate)"
                    .into(),
            ));
        }
        return Ok(Tls::None);
    };
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| StoreError::Io("store.ca_file is not PEM".into()))?;
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| StoreError::Io(format!("store.ca_file: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Io(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Tls::Rustls(MakeRustlsConnect::new(config)))
}

impl Database {
    /// Builds the pool (connections are made when first needed) and checks that the
    /// database answers.
    pub async fn connect(c: &Connect) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(&c.url)
            .map_err(|_| StoreError::Io("store.postgres is not a connection URL".into()))?;
        if let Some(p) = &c.password {
            config.password(p.as_bytes());
        }
        let options = [
            config.get_options().unwrap_or(""),
            "-c synchronous_commit=on",
        ]
        .join(" ");
        config.options(options.trim());
        if config.get_application_name().is_none() {
            config.application_name("en-server");
        }
        let tls = tls_of(c, config.get_ssl_mode())?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &tls {
            Tls::None => Manager::from_config(config.clone(), NoTls, manager_config),
            Tls::Rustls(t) => Manager::from_config(config.clone(), t.clone(), manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(c.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Io(format!("database pool: {e}")))?;
        let db = Database {
            pool,
            config: Arc::new(config),
            tls,
        };
        drop(db.client().await?);
        Ok(db)
    }

    /// A connection from the pool.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| {
            StoreError::Io(match e {
                deadpool_postgres::PoolError::Backend(e) => {
                    format!("cannot reach the database: {}", describe(&e))
                }
                e => format!("no database connection: {e}"),
            })
        })
    }

    /// A session of its own, outside the pool (the batch lock lives as long as its session).
    pub async fn dedicated(&self) -> Result<tokio_postgres::Client, StoreError> {
        async fn run<T>(
            config: &tokio_postgres::Config,
            tls: T,
        ) -> Result<tokio_postgres::Client, tokio_postgres::Error>
        where
            T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
            T::Stream: Send + 'static,
        {
            let (client, connection) = config.connect(tls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %describe(&e), "a dedicated database session ended");
                }
            });
            Ok(client)
        }
        let r = tokio::time::timeout(POOL_TIMEOUT, async {
            match &self.tls {
                Tls::None => run(&self.config, NoTls).await,
                Tls::Rustls(t) => run(&self.config, t.clone()).await,
            }
        })
        .await
        .map_err(|_| StoreError::Io("connecting to the database timed out".into()))?;
        r.map_err(|e| StoreError::Io(format!("cannot reach the database: {}", describe(&e))))
    }

    /// Applies the `migrations` this database has not seen (see [`Migration`]).
    pub async fn migrate(&self, migrations: &[Migration]) -> Result<(), StoreError> {
        migrate::apply(self, migrations).await
    }
}
