//! Shared server state: configuration, store, published objects, registry, signer, metrics.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use en_api::keyfile::read_signing_key;
use en_protocol::accept::AcceptPolicy;
use en_protocol::keys::{PublicKey, SigningKey};
use en_protocol::verify::AuthorityInfo;
use en_protocol::wire::certificate::Certificate;
use en_protocol::wire::index::Index;
use en_protocol::wire::{AuthorityId, ReportType};
use en_protocol::UnixTime;
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::config::Resolved;
use crate::datadir::{self, DataDir};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::objects::Objects;
use crate::registry::Registry;
use crate::store::{CodeStore, SledStore, Store};
use crate::verification::Verification;

/// The upload store and the verification-code store.
pub(crate) type Stores = (Arc<dyn Store>, Arc<dyn CodeStore>);

/// Everything a request handler or the batcher needs.
pub struct AppState {
    /// Configuration.
    pub cfg: Resolved,
    /// The acceptance rules (from the configuration).
    pub policy: AcceptPolicy,
    /// Accepted uploads and the chain head.
    pub store: Arc<dyn Store>,
    /// Published batches, index and risk configuration.
    pub objects: Arc<Objects>,
    /// Health authorities.
    pub registry: Registry,
    /// The active export signing key.
    pub export_key: Arc<SigningKey>,
    /// Every configured export public key (active first).
    pub export_public_keys: Vec<PublicKey>,
    /// Metrics (served on the admin listener).
    pub metrics: Metrics,
    /// Memory for request bodies in flight, in KiB permits.
    pub bodies: Arc<Semaphore>,
    /// What fake uploads verify, so they cost what real ones cost.
    pub decoy: Decoy,
    /// Simulations only: padding drawn from a generator seeded with this (and the batch's
    /// sequence), so that a simulated run is reproducible byte for byte. `None` (always, in
    /// a real server): the OS's generator.
    pub padding_seed: Option<u64>,
    /// Verification codes, tokens and the certificates signed for phones.
    pub verification: Arc<Verification>,
    /// Self-reports: the VOPRF key (`selfreport.key`).
    pub self_report: crate::selfreport::SelfReport,
    /// The health authority console's sessions and throttles (admin listener).
    pub console: crate::console::Console,
    /// The federation peers this server imports from (spec/federation.md §2).
    pub peers: Vec<Arc<crate::federation::import::Peer>>,
    /// The secret that MACs revision tokens (`revision.key`).
    pub revision: en_protocol::wire::revision::RevisionSecret,
    /// Time source.
    pub clock: Clock,
    /// When the state was built: the origin of the publish release schedule.
    pub started: tokio::time::Instant,
}

impl AppState {
    /// Waits for the next tick of the schedule on which every `POST /v1/publish` answer is
    /// released (`publish_release_period_ms`): answers leave on the tick whatever work the
    /// upload took, so a fake and a real upload take the same time to answer.
    pub async fn publish_release(&self) {
        let period = self.cfg.config.publish_release_period_ms;
        if period == 0 {
            return;
        }
        let period = std::time::Duration::from_millis(period);
        let since = self.started.elapsed();
        let ticks = since.as_nanos() / period.as_nanos() + 1;
        let next = self.started + period * u32::try_from(ticks).unwrap_or(u32::MAX);
        tokio::time::sleep_until(next).await;
    }
}

/// A certificate signed at start by a throwaway authority known only to a throwaway
/// registry: a fake upload decodes and verifies it as a real upload does its own.
pub struct Decoy {
    /// The encoded certificate.
    pub certificate: Vec<u8>,
    /// The registry that knows its signer.
    pub registry: BTreeMap<AuthorityId, AuthorityInfo>,
}

impl Decoy {
    fn new(policy: &AcceptPolicy, now: UnixTime) -> Result<Self, Error> {
        let mut rng = rand::rngs::OsRng;
        let key = SigningKey::generate(&mut rng);
        let id = AuthorityId::new("decoy").expect("a valid id");
        let mut cert_id = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rng, &mut cert_id);
        let certificate = Certificate {
            authority: id.clone(),
            report_type: ReportType::ConfirmedTest,
            symptom_onset: None,
            issued_at: now,
            expires_at: now.plus(100 * 365 * 86_400),
            audience: policy.audience.clone(),
            id: cert_id,
            tekmac: [0; 32],
        }
        .sign(&key)?;
        let registry = BTreeMap::from([(
            id,
            AuthorityInfo {
                public_key: key.public_key(),
                region: None,
                revoked: false,
            },
        )]);
        Ok(Decoy {
            certificate,
            registry,
        })
    }
}

/// KiB permits a body of `bytes` takes from [`AppState::bodies`].
pub fn body_permits(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

impl AppState {
    /// Checks the data directory's permissions, opens the configured store and object
    /// store, loads keys and registry, and signs a fresh index and risk configuration.
    /// Must run inside a tokio runtime.
    pub async fn open(cfg: Resolved, clock: Clock) -> Result<Arc<Self>, Error> {
        let (store, codes) = crate::store::open::open(&cfg).await?;
        Self::build(cfg, store, codes, clock, None).await
    }

    /// Builds the state around an already opened store (verification codes in a temporary
    /// store).
    pub async fn with_store(
        cfg: Resolved,
        store: Arc<dyn Store>,
        clock: Clock,
    ) -> Result<Arc<Self>, Error> {
        let codes = SledStore::temporary(cfg.config.batch_period_seconds)?.code_store()?;
        Self::build(cfg, store, Arc::new(codes), clock, None).await
    }

    /// [`AppState::open`] for a simulation whose padding must be reproducible.
    pub async fn open_for_simulation(
        cfg: Resolved,
        clock: Clock,
        padding_seed: u64,
    ) -> Result<Arc<Self>, Error> {
        let (store, codes) = crate::store::open::open(&cfg).await?;
        Self::build(cfg, store, codes, clock, Some(padding_seed)).await
    }

    async fn build(
        cfg: Resolved,
        store: Arc<dyn Store>,
        codes: Arc<dyn CodeStore>,
        clock: Clock,
        padding_seed: Option<u64>,
    ) -> Result<Arc<Self>, Error> {
        let export_key = read_signing_key(&cfg.path(&cfg.config.active_export_key))?;
        let mut export_public_keys = vec![export_key.public_key()];
        for p in &cfg.config.export_keys {
            let pk = read_signing_key(&cfg.path(p))?.public_key();
            if !export_public_keys.contains(&pk) {
                export_public_keys.push(pk);
            }
        }
        let objects = crate::objects::open_store(&cfg).await?;
        // `DataDir` paths already include the data directory: `cfg.path` would add it twice
        // when it is relative (`--dir en-data`), and the server would know no authority.
        let registry = Registry::open(DataDir::new(&cfg.data_dir).authorities())?;
        let permits = body_permits(cfg.config.limits.max_bodies_in_flight_bytes) as usize;
        let policy = cfg.accept_policy();
        let decoy = Decoy::new(&policy, clock.now())?;
        let d = DataDir::new(&cfg.data_dir);
        datadir::create_secret(&d.codes_key())?;
        datadir::create_secret(&d.revision_key())?;
        let revision = en_protocol::wire::revision::RevisionSecret::from_bytes(
            datadir::read_replay_key(&d.revision_key())?,
        );
        let verification = Arc::new(
            Verification::new(
                codes,
                datadir::read_replay_key(&d.codes_key())?,
                &d.authority_keys(),
                cfg.config.console.clone(),
                clock.now(),
            )
            .await?,
        );
        let console = crate::console::Console::new(&cfg);
        let self_report =
            crate::selfreport::SelfReport::open(&d.path().join(crate::selfreport::KEY_FILE))?;
        let peers = crate::federation::import::peers(&cfg)?
            .into_iter()
            .map(Arc::new)
            .collect();
        let state = Arc::new(AppState {
            peers,
            revision,
            self_report,
            padding_seed,
            decoy,
            policy,
            cfg,
            store,
            objects: Arc::new(objects),
            registry,
            export_key: Arc::new(export_key),
            export_public_keys,
            metrics: Metrics::default(),
            bodies: Arc::new(Semaphore::new(permits)),
            verification,
            console,
            clock,
            started: tokio::time::Instant::now(),
        });
        // One process writes the published objects: the one that holds the batch lock
        // (always, with sled). Another replica serves what that one published.
        crate::federation::outbound::open_chains(&state).await?;
        if state.store.batch_lock().await.unwrap_or(false) {
            state.refresh_signed().await?;
        } else {
            state.reload_published().await?;
        }
        Ok(state)
    }

    /// Serves the indexes and risk configuration that the replica holding the batch lock
    /// published (see [`Objects::reload`]).
    pub async fn reload_published(&self) -> Result<(), Error> {
        let trusted = en_protocol::verify::ExportKeys::new(self.export_public_keys.clone());
        self.objects
            .reload(&trusted)
            .await
            .map_err(|e| Error::io("read", self.objects.location(), e))
    }

    /// Signs the risk configuration and the indexes (keys, venue traces) again with the
    /// current time and publishes them (at start, after each batch, and every
    /// `index_refresh_seconds`), so that phones can refuse a stale copy that a mirror froze or
    /// replays.
    pub async fn refresh_signed(&self) -> Result<(), Error> {
        let now = self.clock.now();
        let risk = self
            .cfg
            .config
            .risk
            .to_risk_config(now)
            .map_err(|e| Error::Config {
                file: DataDir::new(&self.cfg.data_dir).config_file(),
                message: format!("risk: {e}"),
            })?;
        let config = Bytes::from(risk.sign(&self.export_key)?);
        let entries = self.store.index_entries().await?;
        let listed: BTreeSet<u64> = entries.iter().map(|e| e.sequence).collect();
        let index = Bytes::from(
            Index {
                region: self.cfg.region.clone(),
                generated_at: now,
                entries,
            }
            .sign(&self.export_key)?,
        );
        let o = &self.objects;
        o.put_config(config)
            .await
            .map_err(|e| Error::io("write", o.location(), e))?;
        o.put_index(index, listed)
            .await
            .map_err(|e| Error::io("write", o.location(), e))?;
        crate::federation::outbound::refresh_indexes(self, now).await?;
        crate::traces::refresh_trace_index(self, now).await
    }
}
