//! Server configuration: `config.toml` in the data directory (see [`crate::datadir`] for the
//! directory itself).
//!
//! Every setting has a default and a comment in the generated file ([`template`]); relative
//! paths are relative to the data directory, so a data directory can be moved as a whole.

mod console;
mod deploy;
mod federation;
mod risk;
mod template;

use std::path::{Path, PathBuf};

use en_protocol::accept::AcceptPolicy;
use en_protocol::validate::UploadPolicy;
use en_protocol::wire::{Audience, Region};
use serde::{Deserialize, Serialize};

pub use console::ConsoleSettings;
pub use deploy::{DirSetting, ObjectsSetting, PostgresSetting, S3Setting, StoreSetting};
pub use federation::{Federation, FederationSettings, PeerSetting};
pub use risk::RiskSettings;

use crate::error::Error;

/// File name of the configuration inside the data directory.
pub const CONFIG_FILE: &str = "config.toml";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "en-data";

/// Everything the server reads at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// Address of the public listener (uploads and downloads).
    pub listen: String,
    /// Address of the admin listener (metrics; for operators only). Loopback by default.
    pub admin_listen: String,
    /// The region this server publishes for.
    pub region: String,
    /// The audience verification certificates must name.
    pub audience: String,
    /// TLS certificate chain (PEM).
    pub tls_cert: PathBuf,
    /// TLS private key (PEM).
    pub tls_key: PathBuf,
    /// Export signing key files; all are listed, `active_export_key` signs.
    pub export_keys: Vec<PathBuf>,
    /// The export key that signs new batches, the index and the risk configuration.
    pub active_export_key: PathBuf,
    /// Seconds per batch; must divide 86400.
    pub batch_period_seconds: u64,
    /// The index and the risk configuration are signed again at least this often, so that
    /// phones can tell a fresh one from one a mirror froze (they refuse ones older than 6 h).
    pub index_refresh_seconds: u64,
    /// Batches are padded with random keys up to this many keys.
    pub min_batch_size: usize,
    /// Venue trace batches are padded with fake traces up to this many entries (369 bytes each).
    pub min_trace_batch_size: usize,
    /// Days keys and batches are kept.
    pub retention_days: u64,
    /// Oldest accepted key, in days since it expired.
    pub max_key_age_days: u64,
    /// Most keys per upload.
    pub max_keys_per_upload: usize,
    /// Oldest accepted case report, in seconds since it was issued.
    pub max_report_age_seconds: u64,
    /// Longest validity of a verification certificate (expiry minus issue time), seconds.
    pub max_certificate_lifetime_seconds: u64,
    /// Tolerated clock difference for "issued in the future", seconds.
    pub clock_skew_seconds: u64,
    /// Uploads (case reports + certified uploads) accepted per authority per UTC day.
    pub authority_daily_upload_quota: u64,
    /// Most case reports in one `POST /v1/cases/bulk`.
    pub max_reports_per_bulk: usize,
    /// Every `POST /v1/publish` body must be exactly this long (clients pad), so that uploads
    /// of any size, real or fake, look the same on the wire. 0 accepts any length.
    pub publish_body_bytes: usize,
    /// Every answer to `POST /v1/publish`, real or fake, accepted or refused, is released at
    /// the next multiple of this many milliseconds (since the server started), so that the
    /// time to answer does not depend on what the upload was. 0 answers at once.
    pub publish_release_period_ms: u64,
    /// Where uploads and the chain head are stored: sled (default) or a shared PostgreSQL.
    pub store: StoreSetting,
    /// Where batches, the index and the risk configuration are published: the data
    /// directory's `objects/` (default), another directory, or an S3-compatible bucket.
    pub objects: ObjectsSetting,
    /// Network limits.
    pub limits: Limits,
    /// Exposure scoring parameters published at /v1/config.
    pub risk: RiskSettings,
    /// Verification codes and the health authority console.
    pub console: ConsoleSettings,
    /// Federation with other regions' servers (spec/federation.md).
    pub federation: FederationSettings,
}

/// Limits that keep slow or hostile clients from holding the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Largest accepted body of `POST /v1/cases/bulk`.
    pub max_bulk_body_bytes: usize,
    /// Request bodies being received, all connections together, take at most this much
    /// memory; a request that would exceed it gets 503 `server_busy`.
    pub max_bodies_in_flight_bytes: usize,
    /// Time allowed for a TLS handshake.
    pub tls_handshake_timeout_seconds: u64,
    /// Time allowed to receive a request's headers (also the keep-alive idle limit).
    pub header_timeout_seconds: u64,
    /// Time allowed for a whole request, body included.
    pub request_timeout_seconds: u64,
    /// A connection whose peer does not take our bytes for this long is closed (responses
    /// that nobody reads must not hold a connection slot).
    pub write_timeout_seconds: u64,
    /// Open connections at most; further connections are closed at once.
    pub max_connections: usize,
    /// `max-age` for batch downloads.
    pub batch_cache_max_age_seconds: u64,
    /// `max-age` of the index and risk configuration objects in an object store (what a CDN
    /// in front may cache them for).
    pub index_cache_max_age_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            max_bulk_body_bytes: 1024 * 1024,
            max_bodies_in_flight_bytes: 64 * 1024 * 1024,
            tls_handshake_timeout_seconds: 10,
            header_timeout_seconds: 10,
            request_timeout_seconds: 30,
            write_timeout_seconds: 10,
            max_connections: 1024,
            batch_cache_max_age_seconds: 14 * 86_400,
            index_cache_max_age_seconds: 60,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8443".into(),
            admin_listen: "127.0.0.1:9443".into(),
            region: "VN".into(),
            audience: "en-server:VN".into(),
            tls_cert: "tls/cert.pem".into(),
            tls_key: "tls/key.pem".into(),
            export_keys: vec!["export-keys/export-1.key".into()],
            active_export_key: "export-keys/export-1.key".into(),
            batch_period_seconds: 86_400,
            index_refresh_seconds: 3600,
            min_batch_size: 100,
            min_trace_batch_size: 100,
            retention_days: 14,
            max_key_age_days: 14,
            max_keys_per_upload: 30,
            max_report_age_seconds: 86_400,
            max_certificate_lifetime_seconds: 86_400,
            clock_skew_seconds: 300,
            authority_daily_upload_quota: 10_000,
            max_reports_per_bulk: 100,
            publish_body_bytes: en_api::json::PUBLISH_BODY_BYTES,
            publish_release_period_ms: 50,
            store: StoreSetting::default(),
            objects: ObjectsSetting::default(),
            limits: Limits::default(),
            risk: RiskSettings::default(),
            console: ConsoleSettings::default(),
            federation: FederationSettings::default(),
        }
    }
}

/// A configuration resolved against its data directory and checked.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Resolved {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The settings.
    pub config: Config,
    /// Parsed region.
    pub region: Region,
    /// Parsed audience.
    pub audience: Audience,
    /// Parsed federation settings.
    pub federation: Federation,
}

impl Resolved {
    /// A path from the config, relative to the data directory.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.data_dir.join(p)
        }
    }

    /// The protocol's acceptance rules for this server.
    pub fn accept_policy(&self) -> AcceptPolicy {
        let c = &self.config;
        let mut p = AcceptPolicy::new(self.region.clone(), self.audience.clone());
        p.keys = UploadPolicy {
            max_keys: c.max_keys_per_upload,
            max_key_age_days: c.max_key_age_days,
            ..UploadPolicy::default()
        };
        p.max_report_age_seconds = c.max_report_age_seconds;
        p.clock_skew_seconds = c.clock_skew_seconds;
        p.max_certificate_lifetime_seconds = c.max_certificate_lifetime_seconds;
        p.retention_days = c.retention_days;
        p
    }
}

impl Config {
    /// Checks values that have rules; `file` names the configuration in errors.
    pub fn check(self, data_dir: PathBuf, file: &Path) -> Result<Resolved, Error> {
        let bad = |message: String| Error::Config {
            file: file.to_path_buf(),
            message,
        };
        let p = self.batch_period_seconds;
        if p == 0 || 86_400 % p != 0 {
            return Err(bad(format!(
                "batch_period_seconds must divide 86400 (one day), got {p}"
            )));
        }
        if self.index_refresh_seconds == 0 || self.index_refresh_seconds > 6 * 3600 {
            return Err(bad(
                "index_refresh_seconds must be between 1 and 21600 (phones refuse an index older than 6 hours)".into(),
            ));
        }
        if self.max_keys_per_upload == 0
            || self.max_keys_per_upload > en_protocol::wire::case_report::MAX_KEYS
        {
            return Err(bad("max_keys_per_upload must be between 1 and 255".into()));
        }
        if self.export_keys.is_empty() || !self.export_keys.contains(&self.active_export_key) {
            return Err(bad("active_export_key must be one of export_keys".into()));
        }
        let l = &self.limits;
        if l.max_connections == 0
            || l.max_body_bytes == 0
            || l.max_bulk_body_bytes == 0
            || l.write_timeout_seconds == 0
        {
            return Err(bad("limits.max_connections, max_body_bytes, max_bulk_body_bytes and write_timeout_seconds must be positive".into()));
        }
        if l.max_bodies_in_flight_bytes < l.max_bulk_body_bytes.max(l.max_body_bytes) {
            return Err(bad(
                "limits.max_bodies_in_flight_bytes must be at least the largest body limit".into(),
            ));
        }
        if self.publish_body_bytes > l.max_body_bytes {
            return Err(bad(
                "publish_body_bytes must not exceed limits.max_body_bytes".into(),
            ));
        }
        if self.min_trace_batch_size > en_protocol::venue::batch::MAX_ENTRIES as usize {
            return Err(bad(
                "min_trace_batch_size must be at most 1000000 (a trace batch's limit)".into(),
            ));
        }
        if !(1..=10_000).contains(&self.max_reports_per_bulk) {
            return Err(bad(
                "max_reports_per_bulk must be between 1 and 10000".into()
            ));
        }
        if self.publish_release_period_ms > 5_000 {
            return Err(bad("publish_release_period_ms must be at most 5000".into()));
        }
        if self.max_certificate_lifetime_seconds == 0 {
            return Err(bad(
                "max_certificate_lifetime_seconds must be positive".into()
            ));
        }
        if let StoreSetting::Postgres(p) = &self.store {
            p.check().map_err(bad)?;
        }
        if let ObjectsSetting::S3(s) = &self.objects {
            s.bucket_and_prefix().map_err(bad)?;
        }
        if l.index_cache_max_age_seconds > self.index_refresh_seconds {
            return Err(bad(
                "limits.index_cache_max_age_seconds must not exceed index_refresh_seconds".into(),
            ));
        }
        self.console
            .check(self.max_certificate_lifetime_seconds)
            .map_err(bad)?;
        self.risk
            .to_risk_config(en_protocol::UnixTime(0))
            .map_err(|m| bad(format!("risk: {m}")))?;
        let region = Region::new(&self.region)
            .map_err(|_| bad("region must be 1-16 of A-Z 0-9 -".into()))?;
        let audience = Audience::new(&self.audience)
            .map_err(|_| bad("audience must be 1-128 printable ASCII characters".into()))?;
        let federation = self.federation.check(&region).map_err(bad)?;
        Ok(Resolved {
            data_dir,
            config: self,
            region,
            audience,
            federation,
        })
    }

    /// Reads and checks `config.toml`.
    pub fn load(file: &Path) -> Result<Resolved, Error> {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io("read", file, e))?;
        let config: Config = toml::from_str(&text).map_err(|e| Error::Config {
            file: file.to_path_buf(),
            message: e.message().to_string(),
        })?;
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        config.check(dir, file)
    }

    /// The commented `config.toml` that `init` writes.
    pub fn template(&self) -> String {
        template::render(self)
    }
}
