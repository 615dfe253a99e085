//! Shared server state: configuration, store, registry, signer, metrics.

use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use en_protocol::keys::{PublicKey, SigningKey};
use en_protocol::wire::index::Index;
use en_protocol::UnixTime;

use crate::config::Resolved;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::store::commit::Committer;
use crate::store::Store;
use en_api::keyfile::read_signing_key;

/// Where the server's time comes from: the system clock plus an offset (zero in production).
///
/// The simulator shares the offset to run the server on its virtual clock, so that a 21-day
/// simulation validates keys and closes batches as the real server would on those days.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: Arc<std::sync::atomic::AtomicI64>,
    is_virtual: bool,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock::default()
    }
    /// A clock whose reading the caller controls through [`Clock::set`].
    pub fn virtual_at(now: UnixTime) -> Self {
        let c = Clock {
            is_virtual: true,
            ..Clock::default()
        };
        c.set(now);
        c
    }
    /// True for a clock that may jump (the batch worker then checks for due windows often).
    pub fn is_virtual(&self) -> bool {
        self.is_virtual
    }
    /// Moves the clock so that it reads `now` at this instant.
    pub fn set(&self, now: UnixTime) {
        self.offset.store(
            now.0 as i64 - Self::real() as i64,
            std::sync::atomic::Ordering::SeqCst,
        );
    }
    fn real() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
    /// Now.
    pub fn now(&self) -> UnixTime {
        UnixTime(
            Self::real()
                .saturating_add_signed(self.offset.load(std::sync::atomic::Ordering::SeqCst)),
        )
    }
    /// A virtual clock that follows the Unix time written in `file` (re-read every 50 ms).
    /// For simulations only: lets `en-sim run --server` drive a separately started server.
    pub fn follow_file(file: std::path::PathBuf) -> anyhow::Result<Self> {
        fn read(f: &std::path::Path) -> Option<u64> {
            std::fs::read_to_string(f).ok()?.trim().parse().ok()
        }
        let start = read(&file).ok_or_else(|| {
            anyhow::anyhow!("{} must contain a Unix time in seconds", file.display())
        })?;
        let clock = Clock::virtual_at(UnixTime(start));
        let c = clock.clone();
        std::thread::spawn(move || {
            let mut last = start;
            loop {
                std::thread::sleep(std::time::Duration::from_millis(50));
                if let Some(now) = read(&file) {
                    if now != last {
                        c.set(UnixTime(now));
                        last = now;
                    }
                }
            }
        });
        Ok(clock)
    }
}

/// Everything a request handler or the batcher needs.
pub struct AppState {
    /// Configuration.
    pub cfg: Resolved,
    /// Storage.
    pub store: Store,
    /// Group commit.
    pub committer: Committer,
    /// Health authorities.
    pub registry: Registry,
    /// The active export signing key.
    pub export_key: SigningKey,
    /// Every configured export public key (active first).
    pub export_public_keys: Vec<PublicKey>,
    /// The signed risk configuration served at /v1/config.
    pub risk_config: Bytes,
    /// Metrics.
    pub metrics: Metrics,
    /// Publication cut: no upload is released before it. The batcher moves it (write side) to
    /// the end of the window it is about to publish, then reads that window's keys; uploads
    /// hold the read side while inserting, so none can slip under a window being published.
    pub cut: RwLock<UnixTime>,
    /// Time source.
    pub clock: Clock,
}

impl AppState {
    /// Opens the store and loads keys and registry. Must run inside a tokio runtime.
    pub fn open(cfg: Resolved, clock: Clock) -> anyhow::Result<Arc<Self>> {
        let store = Store::open(&cfg.db_path(), cfg.config.batch_period_seconds).map_err(|e| {
            anyhow::anyhow!(
                "cannot open the database in {}: {e}",
                cfg.db_path().display()
            )
        })?;
        Self::with_store(cfg, store, clock)
    }

    /// Builds the state around an already opened store.
    pub fn with_store(cfg: Resolved, store: Store, clock: Clock) -> anyhow::Result<Arc<Self>> {
        let export_key = read_signing_key(&cfg.path(&cfg.config.active_export_key))?;
        let mut export_public_keys = vec![export_key.public_key()];
        for p in &cfg.config.export_keys {
            let pk = read_signing_key(&cfg.path(p))?.public_key();
            if !export_public_keys.contains(&pk) {
                export_public_keys.push(pk);
            }
        }
        let risk = cfg.config.risk.to_risk_config(clock.now())?;
        let risk_config = Bytes::from(risk.sign(&export_key)?);
        let registry = Registry::open(cfg.authorities_path())?;
        let cut = store.head()?.map_or(UnixTime(0), |h| h.cut);
        Ok(Arc::new(AppState {
            committer: Committer::start(store.clone()),
            cfg,
            store,
            registry,
            export_key,
            export_public_keys,
            risk_config,
            metrics: Metrics::default(),
            cut: RwLock::new(cut),
            clock,
        }))
    }

    /// The signed index as stored, or a freshly signed empty one before the first batch.
    pub fn index_bytes(&self) -> anyhow::Result<Bytes> {
        if let Some(i) = self.store.index()? {
            return Ok(Bytes::from(i.to_vec()));
        }
        let idx = Index {
            region: self.cfg.region.clone(),
            generated_at: self.clock.now(),
            entries: vec![],
        };
        Ok(Bytes::from(idx.sign(&self.export_key)?))
    }
}
