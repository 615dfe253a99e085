//! The simulator's server: an in-process `en-server` on 127.0.0.1 over TLS with a temporary
//! sled store, or a running one (`--server URL`), both on the simulation's virtual clock.

use std::path::PathBuf;

use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use en_protocol::keys::{PublicKey, SigningKey};
use en_protocol::verify::ExportKeys;
use en_protocol::wire::batch::VerifiedBatch;
use en_protocol::wire::config::{RiskConfig, SignedRiskConfig};
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::ReportType;
use en_protocol::{IntervalNumber, UnixTime};
use rand_chacha::ChaCha20Rng;

use en_client::transport::Client;

/// Authority id the simulator registers and signs as.
pub const AUTHORITY: &str = "sim.moh.vn";

enum Mode {
    InProcess(Box<en_server::embedded::Embedded>),
    External { clock_file: PathBuf },
}

/// Where to find a running server.
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
}

/// A connection to the server plus what the simulator needs to talk to it.
pub struct SimServer {
    /// HTTPS client.
    pub client: Client,
    /// Trusted export keys.
    pub export: ExportKeys,
    authority: String,
    authority_key: SigningKey,
    audience: String,
    mode: Mode,
    /// Upload requests sent.
    pub upload_requests: u64,
    /// Uploads the server refused (should stay 0).
    pub upload_refusals: u64,
}

impl SimServer {
    /// Starts an in-process server whose clock reads `now`; its padding is drawn from a
    /// generator seeded with `seed`, so that runs are reproducible.
    pub async fn in_process(
        now: UnixTime,
        authority_key: SigningKey,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let mut config = en_server::config::Config::default();
        config.batch_period_seconds = 86_400;
        config.authority_daily_upload_quota = 10_000_000;
        config.limits.max_connections = 4096;
        let server = en_server::embedded::Embedded::start(en_server::embedded::Options {
            config,
            authority: (
                AUTHORITY.into(),
                authority_key.public_key(),
                Some("VN".into()),
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
        Ok(SimServer {
            client,
            export,
            authority: AUTHORITY.into(),
            authority_key,
            audience,
            mode: Mode::InProcess(Box::new(server)),
            upload_requests: 0,
            upload_refusals: 0,
        })
    }

    /// Connects to a running server started with `--virtual-clock <clock_file>`.
    pub fn external(e: External, now: UnixTime) -> anyhow::Result<Self> {
        let client = Client::new(&e.url, e.ca.as_deref())?;
        let keys = e
            .public_keys
            .iter()
            .map(|k| {
                PublicKey::from_hex(k).map_err(|_| {
                    anyhow::anyhow!("--public-key {k:?} is not a hex ed25519 public key")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let authority_key = en_api::keyfile::read_signing_key(&e.authority_key)?;
        let s = SimServer {
            client,
            export: ExportKeys::new(keys),
            authority: e.authority,
            authority_key,
            audience: e.audience,
            mode: Mode::External {
                clock_file: e.clock_file,
            },
            upload_requests: 0,
            upload_refusals: 0,
        };
        s.set_time(now)?;
        Ok(s)
    }

    /// Moves the server's clock.
    pub fn set_time(&self, now: UnixTime) -> anyhow::Result<()> {
        match &self.mode {
            Mode::InProcess(s) => s.state.clock.set(now),
            Mode::External { clock_file } => {
                let tmp = clock_file.with_extension("tmp");
                std::fs::write(&tmp, now.0.to_string())?;
                std::fs::rename(&tmp, clock_file)
                    .with_context(|| format!("cannot write {}", clock_file.display()))?;
                // The server re-reads the file every 50 ms; give it time to see the change.
                std::thread::sleep(Duration::from_millis(150));
            }
        }
        Ok(())
    }

    /// Closes the batch window ending at `boundary` (in process: directly; external: waits
    /// until the server's batch worker has published it).
    pub async fn close_window(&self, boundary: UnixTime) -> anyhow::Result<()> {
        match &self.mode {
            Mode::InProcess(s) => {
                en_server::batcher::close_window(&s.state, boundary).await?;
                Ok(())
            }
            Mode::External { .. } => {
                for _ in 0..600 {
                    let raw = self.client.get("/v1/index").await?;
                    let idx = en_protocol::wire::index::SignedIndex::decode(&raw)?
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
                anyhow::bail!("the server did not publish the batch ending at {} within 60 s (is it running with --virtual-clock and a 86400 s period?)", boundary.0)
            }
        }
    }

    /// The verified risk configuration.
    pub async fn risk_config(&self) -> anyhow::Result<RiskConfig> {
        let raw = self.client.get("/v1/config").await?;
        Ok(SignedRiskConfig::decode(&raw)?
            .verify(&self.export)?
            .config()
            .clone())
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
    ) -> anyhow::Result<()> {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.upload_requests += 1;
        let r: anyhow::Result<en_api::json::UploadAccepted> = if via_authority {
            let report = en_client::authority::case_report(
                &self.authority,
                "VN",
                &self.authority_key,
                keys,
                ReportType::ConfirmedTest,
                onset,
                now,
                rng,
            )?;
            self.client
                .post_json(
                    "/v1/cases",
                    &en_api::json::CaseUpload {
                        report: b64.encode(report),
                        padding: None,
                    },
                )
                .await
                .map_err(Into::into)
        } else {
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
            en_client::phone::upload(
                &self.client,
                &keys,
                &b64.encode(cert),
                &b64.encode(hmac_key),
            )
            .await
            .map(|n| en_api::json::UploadAccepted {
                accepted_keys: n,
                padding: String::new(),
            })
            .map_err(Into::into)
        };
        if let Err(e) = r {
            self.upload_refusals += 1;
            return Err(e);
        }
        Ok(())
    }

    /// Seconds the in-process server spent handling requests (sum of request latencies).
    pub fn server_busy_seconds(&self) -> Option<f64> {
        match &self.mode {
            Mode::InProcess(s) => Some(s.state.metrics.busy_seconds()),
            Mode::External { .. } => None,
        }
    }

    /// Stops an in-process server.
    pub async fn stop(self) -> anyhow::Result<()> {
        if let Mode::InProcess(s) = self.mode {
            s.stop().await?;
        }
        Ok(())
    }
}

/// A phone's view of the published chain: the protocol's chain follower, and downloaded bytes.
pub struct Downloader {
    follower: en_protocol::phone::KeyFollower,
}

impl Downloader {
    /// A phone that trusts the server's export keys and follows region VN.
    pub fn new(server: &SimServer) -> Self {
        Downloader {
            follower: en_client::fetch::follower(
                server.export.clone(),
                en_protocol::wire::Region::new("VN").expect("a valid region"),
            ),
        }
    }

    /// Fetches and verifies new batches at `now`; returns them and the bytes downloaded.
    pub async fn sync(
        &mut self,
        server: &SimServer,
        now: UnixTime,
    ) -> anyhow::Result<(Vec<VerifiedBatch>, u64)> {
        let before = server
            .client
            .received
            .load(std::sync::atomic::Ordering::Relaxed);
        let s = en_client::fetch::sync(&server.client, &mut self.follower, now, false).await?;
        let after = server
            .client
            .received
            .load(std::sync::atomic::Ordering::Relaxed);
        Ok((
            s.batches.into_iter().map(|(b, _)| b).collect(),
            after - before,
        ))
    }
}
