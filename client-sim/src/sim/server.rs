//! The simulator's server: an in-process `en-server` on 127.0.0.1 over TLS with a temporary
//! sled store, or a running one (`--server URL`), both on the simulation's virtual clock.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use en_client::transport::Client;
use en_protocol::keys::{PublicKey, SigningKey};
use en_protocol::phone::FollowerConfig;
use en_protocol::verify::ExportKeys;
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::{Region, ReportType};
use en_protocol::{IntervalNumber, UnixTime};
use rand_chacha::ChaCha20Rng;

use super::error::SimError;

/// Authority id the simulator registers and signs as.
pub const AUTHORITY: &str = "sim.moh.vn";
/// Region of the in-process server (and the default of a running one).
pub const REGION: &str = "VN";

enum Mode {
    InProcess(Box<en_server::embedded::Embedded>),
    External { clock_file: PathBuf },
}

/// Where to find a running server.
#[non_exhaustive]
pub struct External {
    /// URL.
    pub url: String,
    /// Extra CA.
    pub ca: Option<PathBuf>,
    /// Export public keys (hex).
    pub public_keys: Vec<String>,
    /// The authority id registered there.
    pub authority: String,
    /// Its private key file.
    pub authority_key: PathBuf,
    /// The file the server's `--virtual-clock` follows.
    pub clock_file: PathBuf,
    /// The server's audience.
    pub audience: String,
    /// The region it publishes for.
    pub region: String,
    /// Its batch period (`batch_period_seconds` in its configuration).
    pub batch_period_seconds: u32,
}

impl External {
    /// A running server at `url` with these export keys, signing as [`AUTHORITY`] with
    /// `authority_key`, its clock driven through `clock_file`; no extra CA, audience
    /// `en-server:VN`, region [`REGION`], daily batches (change the fields to differ).
    pub fn new(
        url: String,
        public_keys: Vec<String>,
        authority_key: PathBuf,
        clock_file: PathBuf,
    ) -> Self {
        External {
            url,
            ca: None,
            public_keys,
            authority: AUTHORITY.into(),
            authority_key,
            clock_file,
            audience: "en-server:VN".into(),
            region: REGION.into(),
            batch_period_seconds: 86_400,
        }
    }
}

/// A connection to the server plus what the simulator needs to talk to it.
pub struct SimServer {
    /// HTTPS client.
    pub client: Client,
    /// Trusted export keys.
    pub export: ExportKeys,
    region: Region,
    authority: String,
    authority_key: SigningKey,
    audience: String,
    mode: Mode,
    now: UnixTime,
    batch_period_seconds: u32,
    /// Upload requests sent.
    pub upload_requests: u64,
    /// Uploads the server refused (should stay 0).
    pub upload_refusals: u64,
}

impl SimServer {
    /// Starts an in-process server for a world of `cfg`: its batch period, an authority key
    /// and padding drawn from generators seeded with the world's seed (reproducible runs),
    /// its clock at the simulation's epoch.
    pub async fn for_config(cfg: &super::SimConfig) -> Result<Self, SimError> {
        use rand::SeedableRng;
        let mut r = rand_chacha::ChaCha20Rng::seed_from_u64(super::ble::mix(cfg.seed ^ 0xa11));
        let key = SigningKey::generate(&mut r);
        let now = UnixTime(super::EPOCH);
        SimServer::in_process(now, key, cfg.seed, cfg.timing.batch_period_seconds).await
    }

    /// Starts an in-process server whose clock reads `now`, closing a batch every
    /// `batch_period_seconds` (a divisor of 86,400); its padding is drawn from a generator
    /// seeded with `seed`, so that runs are reproducible.
    pub async fn in_process(
        now: UnixTime,
        authority_key: SigningKey,
        seed: u64,
        batch_period_seconds: u32,
    ) -> Result<Self, SimError> {
        Self::in_process_for(REGION, now, authority_key, seed, batch_period_seconds).await
    }

    /// [`Self::in_process`] for `region` (its authority restricted to that region): one of
    /// several servers of a world with travel between regions.
    pub async fn in_process_for(
        region: &str,
        now: UnixTime,
        authority_key: SigningKey,
        seed: u64,
        batch_period_seconds: u32,
    ) -> Result<Self, SimError> {
        Self::in_process_federated(region, now, authority_key, seed, batch_period_seconds, &[])
            .await
    }

    /// [`Self::in_process_for`], publishing a federation chain for each region of
    /// `outbound` and sharing its authority's cases with them (spec/federation.md); it
    /// imports from another server with [`Self::import_from`].
    pub async fn in_process_federated(
        region: &str,
        now: UnixTime,
        authority_key: SigningKey,
        seed: u64,
        batch_period_seconds: u32,
        outbound: &[&str],
    ) -> Result<Self, SimError> {
        let mut config = en_server::config::Config::default();
        config.federation.outbound_regions = outbound.iter().map(|r| r.to_string()).collect();
        if !outbound.is_empty() {
            config.federation.share_authorities = vec![AUTHORITY.into()];
        }
        config.batch_period_seconds = u64::from(batch_period_seconds);
        config.authority_daily_upload_quota = 10_000_000;
        config.limits.max_connections = 4096;
        config.region = region.into();
        // Release phone uploads' answers at once: a simulation has no network observer, and
        // the release schedule would add up to 50 ms to each of the simulated fakes.
        config.publish_release_period_ms = 0;
        let server = en_server::embedded::Embedded::start(en_server::embedded::Options {
            config,
            authority: (
                AUTHORITY.into(),
                authority_key.public_key(),
                Some(region.into()),
            ),
            clock: en_server::Clock::virtual_at(now),
            transport: en_server::Transport::Tls,
            batch_worker: false,
            padding_seed: Some(seed),
        })
        .await?;
        let client = Client::new(&server.url, Some(&server.ca()))?;
        let export = ExportKeys::new(server.state.export_public_keys.clone());
        let audience = server.state.cfg.config.audience.clone();
        let region = server.state.cfg.region.clone();
        Ok(SimServer {
            client,
            export,
            region,
            authority: AUTHORITY.into(),
            authority_key,
            audience,
            mode: Mode::InProcess(Box::new(server)),
            now,
            batch_period_seconds,
            upload_requests: 0,
            upload_refusals: 0,
        })
    }

    /// Connects to a running server started with `--virtual-clock <clock_file>`.
    pub fn external(e: External, now: UnixTime) -> Result<Self, SimError> {
        let client = Client::new(&e.url, e.ca.as_deref())?;
        let keys = e
            .public_keys
            .iter()
            .map(|k| {
                PublicKey::from_hex(k).map_err(|_| {
                    SimError::Config(format!(
                        "--public-key {k:?} is not a hex ed25519 public key"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let region = Region::new(&e.region).map_err(|_| {
            SimError::Config(format!("--region {:?} is not a region code", e.region))
        })?;
        let authority_key = en_api::keyfile::read_signing_key(&e.authority_key)?;
        let mut s = SimServer {
            client,
            export: ExportKeys::new(keys),
            region,
            authority: e.authority,
            authority_key,
            audience: e.audience,
            mode: Mode::External {
                clock_file: e.clock_file,
            },
            now,
            batch_period_seconds: e.batch_period_seconds,
            upload_requests: 0,
            upload_refusals: 0,
        };
        s.set_time(now)?;
        Ok(s)
    }

    /// The public URL of an in-process server (`None` for an external one).
    pub fn url(&self) -> Option<String> {
        match &self.mode {
            Mode::InProcess(s) => Some(s.url.clone()),
            Mode::External { .. } => None,
        }
    }

    /// The self-signed TLS certificate of an in-process server (`None` for an external one).
    pub fn ca_path(&self) -> Option<PathBuf> {
        match &self.mode {
            Mode::InProcess(s) => Some(s.ca()),
            Mode::External { .. } => None,
        }
    }

    /// What a phone of this server's region trusts.
    pub fn follower_config(&self) -> FollowerConfig {
        FollowerConfig::new(self.export.clone(), self.region.clone())
    }

    /// Seconds between the server's batches.
    pub fn batch_period_seconds(&self) -> u32 {
        self.batch_period_seconds
    }

    /// The server's clock, as last set.
    pub fn now(&self) -> UnixTime {
        self.now
    }

    /// Moves the server's clock.
    pub fn set_time(&mut self, now: UnixTime) -> Result<(), SimError> {
        self.now = now;
        match &self.mode {
            Mode::InProcess(s) => s.state.clock.set(now),
            Mode::External { clock_file } => {
                let tmp = clock_file.with_extension("tmp");
                std::fs::write(&tmp, now.0.to_string())
                    .map_err(|e| SimError::io("write", &tmp, e))?;
                std::fs::rename(&tmp, clock_file)
                    .map_err(|e| SimError::io("write", clock_file, e))?;
                // The server re-reads the file every 50 ms; give it time to see the change.
                std::thread::sleep(Duration::from_millis(150));
            }
        }
        Ok(())
    }

    /// Closes the batch window ending at `boundary` (in process: directly; external: waits
    /// until the server's batch worker has published it).
    pub async fn close_window(&self, boundary: UnixTime) -> Result<(), SimError> {
        match &self.mode {
            Mode::InProcess(s) => {
                en_server::batcher::close_window(&s.state, boundary).await?;
                Ok(())
            }
            Mode::External { .. } => {
                for _ in 0..600 {
                    let raw = self.client.get("/v1/index").await?;
                    let idx = en_protocol::wire::index::SignedIndex::decode(&raw)
                        .map_err(en_protocol::Error::from)?
                        .verify(&self.export)?;
                    if idx
                        .index()
                        .entries
                        .last()
                        .is_some_and(|e| e.window_end >= boundary)
                    {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(SimError::BatchNotPublished { boundary })
            }
        }
    }

    /// Uploads a confirmed case's keys, through the authority (case report) or through the
    /// phone with a certificate.
    pub async fn upload(
        &mut self,
        keys: Vec<UploadKey>,
        onset: Option<IntervalNumber>,
        now: UnixTime,
        via_authority: bool,
        rng: &mut ChaCha20Rng,
    ) -> Result<(), SimError> {
        if !via_authority {
            return self.upload_visiting(keys, onset, now, &[], rng).await;
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        self.upload_requests += 1;
        let report = en_client::authority::case_report(
            &self.authority,
            self.region.as_str(),
            &self.authority_key,
            keys,
            ReportType::ConfirmedTest,
            onset,
            now,
            rng,
        )?;
        self.client
            .post_json::<_, en_api::json::UploadAccepted>(
                "/v1/cases",
                &en_api::json::CaseUpload {
                    report: b64.encode(report),
                    padding: None,
                },
            )
            .await
            .map(drop)
            .map_err(|e| {
                self.upload_refusals += 1;
                e.into()
            })
    }

    /// Uploads a confirmed case's keys through the phone with a certificate, naming the
    /// regions the person visited (`visited_regions`, spec/federation.md §1).
    pub async fn upload_visiting(
        &mut self,
        keys: Vec<UploadKey>,
        onset: Option<IntervalNumber>,
        now: UnixTime,
        visited: &[en_protocol::wire::Region],
        rng: &mut ChaCha20Rng,
    ) -> Result<(), SimError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.upload_requests += 1;
        let hmac_key: [u8; 32] = rand::Rng::gen(rng);
        let mac = en_protocol::tekmac::tekmac(&hmac_key, &keys, true);
        let cert = en_client::authority::certify(
            &self.authority,
            &self.authority_key,
            mac,
            &self.audience,
            ReportType::ConfirmedTest,
            onset,
            now,
            3600,
            rng,
        )?;
        en_client::phone::upload_visiting(
            &self.client,
            &keys,
            &b64.encode(cert),
            &b64.encode(hmac_key),
            visited,
        )
        .await
        .map(drop)
        .map_err(|e| {
            self.upload_refusals += 1;
            e.into()
        })
    }

    /// Imports `other`'s federation chain for this server's region once (what a configured
    /// peer's importer task does at each poll): verified against `other`'s export keys only.
    /// Keys imported are published in this server's next window.
    pub async fn import_from(
        &self,
        other: &SimServer,
    ) -> Result<en_server::federation::import::Polled, SimError> {
        let (Mode::InProcess(me), Some(url), Some(ca)) = (&self.mode, other.url(), other.ca_path())
        else {
            return Err(SimError::Config(
                "federation needs two in-process servers".into(),
            ));
        };
        let pem =
            std::fs::read(&ca).map_err(|e| SimError::Config(format!("{}: {e}", ca.display())))?;
        let setting = en_server::config::PeerSetting::new(
            other.region.as_str(),
            &url,
            std::path::PathBuf::new(),
        );
        let peer = en_server::federation::import::Peer::connect(
            other.region.clone(),
            &setting,
            other.export.clone(),
            Some(&pem),
        )?;
        en_server::federation::import::poll(&me.state, &peer)
            .await
            .map_err(|e| SimError::Config(format!("import from {}: {e}", other.region)))
    }

    /// The health authority's side of a venue trace: opens the owner's `request` with the
    /// authority's `sealing` key at `now` (every key pairing-checked), adds `message`, signs
    /// it as the simulator's authority and posts it (`POST /v1/traces`). Returns the trace
    /// as checked (what it publishes) and the hours the server stored.
    pub async fn upload_trace(
        &mut self,
        request: &en_protocol::venue::TraceRequest,
        sealing: &en_protocol::venue::SealingSecretKey,
        message: &str,
        now: UnixTime,
        rng: &mut ChaCha20Rng,
    ) -> Result<(en_protocol::venue::CheckedTrace, usize), SimError> {
        let checked = request.open(sealing, now)?;
        let signed = en_client::trace::trace_report(
            request,
            sealing,
            message,
            &self.authority,
            self.region.as_str(),
            &self.authority_key,
            now,
            rng,
        )?;
        let hours = en_client::trace::upload(&self.client, &signed.report).await?;
        Ok((checked, hours))
    }

    /// Seconds the in-process server spent handling requests (sum of request latencies).
    pub fn server_busy_seconds(&self) -> Option<f64> {
        match &self.mode {
            Mode::InProcess(s) => Some(s.state.metrics.busy_seconds()),
            Mode::External { .. } => None,
        }
    }

    /// Stops an in-process server.
    pub async fn stop(self) -> Result<(), SimError> {
        if let Mode::InProcess(s) = self.mode {
            s.stop().await?;
        }
        Ok(())
    }
}
