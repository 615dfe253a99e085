//! Importing peers' federation chains (spec/federation.md §2): one task per
//! `[[federation.peers]]`, which polls the peer's chain *for this region*, verifies it with
//! the same [`KeyFollower`] phones use — trusting the peer's configured export key and no
//! other, chained to the last batch imported from that peer — and stores each verified batch
//! with the follower's state in one transaction ([`crate::store::Store::import`]).
//!
//! What a peer can and cannot do:
//! - it cannot make this server publish a key it did not sign into its own chain for this
//!   region: a bad signature, a fork, a gap, a rollback, a stale or future index, or bytes
//!   other than the index announced are refused, counted in
//!   `en_federation_refused_total{peer,reason}`, and change nothing;
//! - it cannot make this server wait or allocate without bound: each request has its deadline
//!   and byte limit ([`super::fetch`]);
//! - it can send at most `max_keys_per_day` new keys per UTC day; a batch that would go over
//!   waits for the next day (the chain stops there, it is not skipped);
//! - its keys are never forwarded: they are stored without destinations;
//! - it can revise only keys that came from it, and only as a phone may revise them there
//!   (`en_protocol::import::is_import_revision`: a clinical diagnosis or self-report
//!   confirmed or revoked, never back), never keys uploaded here or imported from another
//!   peer.
//!
//! A gap (the peer no longer lists the batch after the last one imported, e.g. after this
//! server was down for longer than the peer's retention) stops the import from that peer,
//! loudly, rather than silently trusting a new start, until the operator resynchronises
//! (`en-server federation resync`, spec/federation.md §5). A follower without a head (the
//! first import, or after a resync) trusts the last unbroken run of batches the peer lists.
//!
//! Only the process holding the batch lock imports (one per shared database).

use std::sync::Arc;
use std::time::Duration;

use en_protocol::import::AcceptedImport;
use en_protocol::phone::{FollowerConfig, KeyFollower};
use en_protocol::verify::ExportKeys;
use en_protocol::wire::Region;
use en_protocol::FollowError;

use super::fetch::{FetchError, PeerClient};
use crate::config::{PeerSetting, Resolved};
use crate::error::Error;
use crate::state::AppState;
use crate::store::StoreError;

/// A configured peer, its key and CA read at start.
#[derive(Debug)]
pub struct Peer {
    /// Its region: the origin of everything imported from it.
    pub region: Region,
    trusted: ExportKeys,
    client: PeerClient,
    poll: Duration,
    limit: u64,
}

/// Reads every configured peer's export public key and CA (at start: a missing or bad file
/// is an error naming it).
pub fn peers(cfg: &Resolved) -> Result<Vec<Peer>, Error> {
    cfg.federation
        .peers
        .iter()
        .map(|(region, p)| {
            let key_path = cfg.path(&p.export_public_key);
            let key = en_api::keyfile::parse_public_key(&key_path.to_string_lossy())?;
            let ca = match &p.tls_ca {
                Some(ca) => {
                    let path = cfg.path(ca);
                    Some(std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?)
                }
                None => None,
            };
            Peer::connect(region.clone(), p, ExportKeys::new(vec![key]), ca.as_deref())
        })
        .collect()
}

impl Peer {
    /// A peer of `region` as `setting` describes it (its key file and CA already read:
    /// `trusted` and `ca`), for servers whose peers are not in their configuration (the
    /// simulator's, which learn each other's address only once both listen).
    pub fn connect(
        region: Region,
        setting: &PeerSetting,
        trusted: ExportKeys,
        ca: Option<&[u8]>,
    ) -> Result<Self, Error> {
        Ok(Peer {
            region,
            trusted,
            client: PeerClient::new(setting, ca)?,
            poll: Duration::from_secs(setting.poll_seconds.max(1)),
            limit: setting.max_keys_per_day,
        })
    }
}

/// Why a poll stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The peer could not be read.
    #[error("fetching {what}: {source}")]
    Fetch {
        /// What was fetched.
        what: String,
        /// Why it failed.
        source: FetchError,
    },
    /// What the peer served was refused by the follower or the import rules.
    #[error("{what} refused: {source}")]
    Refused {
        /// What was refused.
        what: String,
        /// The protocol's reason.
        source: en_protocol::Error,
    },
    /// The day's key limit for this peer is reached; the batch waits for the next day.
    #[error("the daily key limit of this peer is reached; batch {0} waits for the next UTC day")]
    DailyLimit(u64),
    /// The store failed.
    #[error("store: {0}")]
    Store(StoreError),
}

impl ImportError {
    /// A stable name for metrics: the protocol's error code for refusals.
    pub fn reason(&self) -> &'static str {
        match self {
            ImportError::Fetch { source, .. } => source.code(),
            ImportError::Refused { source, .. } => source.code(),
            ImportError::DailyLimit(_) => "daily_limit",
            ImportError::Store(_) => "store",
        }
    }
}

/// What one poll imported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Polled {
    /// Batches imported.
    pub batches: usize,
    /// New keys stored.
    pub stored: usize,
    /// Keys revised at their origin (published again with the new metadata).
    pub revised: usize,
    /// Keys skipped as stored before.
    pub known: usize,
    /// Keys dropped as older than the retention period.
    pub stale: usize,
}

/// Polls `peer` once: its index, then every batch after the last one imported, each stored
/// with the follower's state before the next is fetched. Stops at the first refusal or
/// failure (what was stored before it stays stored; nothing of the refused batch is).
pub async fn poll(state: &AppState, peer: &Peer) -> Result<Polled, ImportError> {
    let own = state.cfg.region.clone();
    let resumed = state
        .store
        .import_state(&peer.region)
        .await
        .map_err(ImportError::Store)?
        .unwrap_or_default();
    let mut follower = KeyFollower::resume(
        FollowerConfig::new(peer.trusted.clone(), own.clone()),
        resumed,
    );
    let index_path = format!("/v1/federation/{own}/index");
    let now = state.clock.now();
    let raw = peer
        .client
        .get(&index_path)
        .await
        .map_err(|source| ImportError::Fetch {
            what: "the index".into(),
            source,
        })?;
    match follower.handle_index(&raw, now) {
        Ok(_) => {}
        // A follower without a head (nothing imported yet, or resynchronised by the
        // operator: `en-server federation resync`) has nothing to continue: it trusts the
        // last unbroken run of batches the peer lists, as it would trust the first batch.
        Err(en_protocol::Error::Follow(FollowError::ChainGap { .. }))
            if follower.head().is_none() =>
        {
            let r = follower
                .resync_from_index()
                .map_err(|source| ImportError::Refused {
                    what: "the index".into(),
                    source,
                })?;
            tracing::warn!(
                peer = %peer.region,
                skipped_from = r.skipped_from,
                resume_at = r.resume_at,
                "the peer lists a gap: following its last unbroken run of batches"
            );
        }
        Err(source) => {
            return Err(ImportError::Refused {
                what: "the index".into(),
                source,
            })
        }
    }
    let mut polled = Polled::default();
    while let Some(e) = follower.poll_fetch() {
        let seq = e.sequence;
        let what = || format!("batch {seq}");
        let bytes = peer
            .client
            .get(&format!("/v1/federation/{own}/batches/{seq}"))
            .await
            .map_err(|source| ImportError::Fetch {
                what: what(),
                source,
            })?;
        let refused = |source| ImportError::Refused {
            what: what(),
            source,
        };
        let batch = follower.handle_batch(&bytes, now).map_err(refused)?;
        let accepted = AcceptedImport::accept(
            &state.policy,
            peer.region.clone(),
            batch.into_batch(),
            *follower.state(),
            now,
        )
        .map_err(refused)?;
        match state.store.import(&accepted, now, peer.limit).await {
            Ok(i) => {
                polled.batches += 1;
                polled.stored += i.stored;
                polled.revised += i.revised;
                polled.known += i.known;
                polled.stale += accepted.stale();
                state
                    .metrics
                    .federation_imported(&peer.region, i.stored as u64);
            }
            Err(StoreError::QuotaExceeded(_)) => return Err(ImportError::DailyLimit(seq)),
            Err(e) => return Err(ImportError::Store(e)),
        }
    }
    Ok(polled)
}

/// Polls `peer` every `poll_seconds` until `shutdown`, while this process holds the batch
/// lock; logs and counts what each poll did.
pub async fn run(
    state: Arc<AppState>,
    peer: Arc<Peer>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if state.store.batch_lock().await.unwrap_or(false) {
            match poll(&state, &peer).await {
                Ok(p) if p.batches > 0 => tracing::info!(
                    peer = %peer.region,
                    batches = p.batches,
                    stored = p.stored,
                    revised = p.revised,
                    known = p.known,
                    stale = p.stale,
                    "imported from a federation peer"
                ),
                Ok(_) => {}
                Err(e) => {
                    state.metrics.federation_refused(&peer.region, e.reason());
                    tracing::warn!(peer = %peer.region, reason = e.reason(), error = %e, "federation import stopped; will retry");
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(peer.poll) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Starts one import task per configured peer.
pub fn spawn_all(
    state: &Arc<AppState>,
    shutdown: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    state
        .peers
        .iter()
        .map(|p| tokio::spawn(run(state.clone(), p.clone(), shutdown.clone())))
        .collect()
}
