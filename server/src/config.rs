//! Server configuration (`config.toml` in the data directory) and `en-server init`.
//!
//! Every setting has a default and a comment in the generated file; relative paths are
//! relative to the data directory, so a data directory can be moved as a whole.

use std::path::{Path, PathBuf};

use anyhow::Context;
use en_protocol::keys::SigningKey;
use en_protocol::wire::config::RiskConfig;
use en_protocol::wire::{Audience, Region};
use serde::{Deserialize, Serialize};

/// File name of the configuration inside the data directory.
pub const CONFIG_FILE: &str = "config.toml";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "en-data";

/// Everything the server reads at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// The region this server publishes for.
    pub region: String,
    /// The audience verification certificates must name.
    pub audience: String,
    /// TLS certificate chain (PEM).
    pub tls_cert: PathBuf,
    /// TLS private key (PEM).
    pub tls_key: PathBuf,
    /// Export signing key files (hex seed); all are listed, `active_export_key` signs.
    pub export_keys: Vec<PathBuf>,
    /// The export key that signs new batches, the index and the risk configuration.
    pub active_export_key: PathBuf,
    /// Seconds per batch; must divide 86400.
    pub batch_period_seconds: u64,
    /// Batches are padded with random keys up to this many keys.
    pub min_batch_size: usize,
    /// Days keys and batches are kept.
    pub retention_days: u64,
    /// Oldest accepted key, in days since it expired.
    pub max_key_age_days: u64,
    /// Most keys per upload.
    pub max_keys_per_upload: usize,
    /// Oldest accepted case report, in seconds since it was issued.
    pub max_report_age_seconds: u64,
    /// Tolerated clock difference for "issued in the future", seconds.
    pub clock_skew_seconds: u64,
    /// Uploads (case reports + certified uploads) accepted per authority per UTC day.
    pub authority_daily_upload_quota: u64,
    /// Most case reports in one `POST /v1/cases/bulk`.
    pub max_reports_per_bulk: usize,
    /// Network limits.
    pub limits: Limits,
    /// Exposure scoring parameters published at /v1/config.
    pub risk: RiskSettings,
}

/// Limits that keep slow or hostile clients from holding the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Largest accepted body of `POST /v1/cases/bulk`.
    pub max_bulk_body_bytes: usize,
    /// Time allowed for a TLS handshake.
    pub tls_handshake_timeout_seconds: u64,
    /// Time allowed to receive a request's headers (also the keep-alive idle limit).
    pub header_timeout_seconds: u64,
    /// Time allowed for a whole request, body included.
    pub request_timeout_seconds: u64,
    /// Open connections at most; further connections are closed at once.
    pub max_connections: usize,
    /// `max-age` for batch downloads.
    pub batch_cache_max_age_seconds: u64,
}

/// Risk configuration settings (weights in hundredths, see spec/wire-format.md §7).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskSettings {
    /// Attenuation thresholds in dB (immediate, near, medium).
    pub attenuation_thresholds: [u8; 3],
    /// Bucket weights, hundredths (immediate, near, medium, other).
    pub attenuation_weights: [u16; 4],
    /// Infectiousness (0 none, 1 standard, 2 high) for days since onset -14..=14.
    pub infectiousness_by_dsos: Vec<u8>,
    /// Infectiousness when unknown.
    pub infectiousness_when_missing: u8,
    /// Weights for standard and high infectiousness, hundredths.
    pub infectiousness_weights: [u16; 2],
    /// Weights for confirmed test, clinical diagnosis, self-report, hundredths.
    pub report_type_weights: [u16; 3],
    /// Minimum window score (weighted seconds).
    pub minimum_window_score: u32,
    /// Daily score that notifies (weighted seconds).
    pub notification_threshold: u32,
}

impl Default for RiskSettings {
    fn default() -> Self {
        let d = RiskConfig::default();
        RiskSettings {
            attenuation_thresholds: d.attenuation_thresholds,
            attenuation_weights: d.attenuation_weights,
            infectiousness_by_dsos: d.infectiousness_by_dsos.iter().map(|i| *i as u8).collect(),
            infectiousness_when_missing: d.infectiousness_when_missing as u8,
            infectiousness_weights: d.infectiousness_weights,
            report_type_weights: d.report_type_weights,
            minimum_window_score: d.minimum_window_score,
            notification_threshold: d.notification_threshold,
        }
    }
}

impl RiskSettings {
    /// The protocol value, checked.
    pub fn to_risk_config(&self, issued_at: en_protocol::UnixTime) -> anyhow::Result<RiskConfig> {
        use en_protocol::wire::config::Infectiousness as I;
        let inf = |c: u8| match c {
            0 => Ok(I::None),
            1 => Ok(I::Standard),
            2 => Ok(I::High),
            _ => anyhow::bail!("risk: infectiousness values are 0, 1 or 2"),
        };
        let by: Vec<I> = self
            .infectiousness_by_dsos
            .iter()
            .map(|c| inf(*c))
            .collect::<Result<_, _>>()?;
        let rc = RiskConfig {
            issued_at,
            attenuation_thresholds: self.attenuation_thresholds,
            attenuation_weights: self.attenuation_weights,
            infectiousness_by_dsos: by
                .try_into()
                .map_err(|_| anyhow::anyhow!("risk: infectiousness_by_dsos needs 29 values"))?,
            infectiousness_when_missing: inf(self.infectiousness_when_missing)?,
            infectiousness_weights: self.infectiousness_weights,
            report_type_weights: self.report_type_weights,
            minimum_window_score: self.minimum_window_score,
            notification_threshold: self.notification_threshold,
        };
        rc.check().map_err(|e| anyhow::anyhow!("risk: {e}"))?;
        Ok(rc)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            max_bulk_body_bytes: 1024 * 1024,
            tls_handshake_timeout_seconds: 10,
            header_timeout_seconds: 10,
            request_timeout_seconds: 30,
            max_connections: 1024,
            batch_cache_max_age_seconds: 14 * 86_400,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8443".into(),
            region: "VN".into(),
            audience: "en-server:VN".into(),
            tls_cert: "tls/cert.pem".into(),
            tls_key: "tls/key.pem".into(),
            export_keys: vec!["export-keys/export-1.key".into()],
            active_export_key: "export-keys/export-1.key".into(),
            batch_period_seconds: 86_400,
            min_batch_size: 100,
            retention_days: 14,
            max_key_age_days: 14,
            max_keys_per_upload: 30,
            max_report_age_seconds: 86_400,
            clock_skew_seconds: 300,
            authority_daily_upload_quota: 10_000,
            max_reports_per_bulk: 100,
            limits: Limits::default(),
            risk: RiskSettings::default(),
        }
    }
}

/// A configuration resolved against its data directory and checked.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The settings.
    pub config: Config,
    /// Parsed region.
    pub region: Region,
    /// Parsed audience.
    pub audience: Audience,
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
    /// The sled directory.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("db")
    }
    /// The authority registry file.
    pub fn authorities_path(&self) -> PathBuf {
        self.data_dir.join(crate::registry::REGISTRY_FILE)
    }
}

impl Config {
    /// Checks values that have rules.
    pub fn check(self, data_dir: PathBuf) -> anyhow::Result<Resolved> {
        let p = self.batch_period_seconds;
        if p == 0 || 86_400 % p != 0 {
            anyhow::bail!("batch_period_seconds must divide 86400 (one day), got {p}");
        }
        if self.max_keys_per_upload == 0
            || self.max_keys_per_upload > en_protocol::wire::case_report::MAX_KEYS
        {
            anyhow::bail!("max_keys_per_upload must be between 1 and 255");
        }
        if self.export_keys.is_empty() || !self.export_keys.contains(&self.active_export_key) {
            anyhow::bail!("active_export_key must be one of export_keys");
        }
        if self.limits.max_connections == 0
            || self.limits.max_body_bytes == 0
            || self.limits.max_bulk_body_bytes == 0
        {
            anyhow::bail!(
                "limits.max_connections, max_body_bytes and max_bulk_body_bytes must be positive"
            );
        }
        if !(1..=10_000).contains(&self.max_reports_per_bulk) {
            anyhow::bail!("max_reports_per_bulk must be between 1 and 10000");
        }
        self.risk.to_risk_config(en_protocol::UnixTime(0))?;
        let region = Region::new(&self.region)
            .map_err(|_| anyhow::anyhow!("region must be 1-16 of A-Z 0-9 -"))?;
        let audience = Audience::new(&self.audience)
            .map_err(|_| anyhow::anyhow!("audience must be 1-128 printable ASCII characters"))?;
        Ok(Resolved {
            data_dir,
            config: self,
            region,
            audience,
        })
    }

    /// Reads and checks `config.toml`.
    pub fn load(file: &Path) -> anyhow::Result<Resolved> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let config: Config = toml::from_str(&text)
            .with_context(|| format!("invalid configuration in {}", file.display()))?;
        let dir = file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        config.check(dir)
    }

    /// The commented `config.toml` that `init` writes.
    pub fn template(&self) -> String {
        let mut risk = toml::to_string(&self.risk).expect("risk settings serialize");
        risk = risk.trim_end().to_string();
        format!(
            r#"# en-server configuration. Relative paths are relative to this file's directory.

# Address to listen on (HTTPS unless --insecure-http is given).
listen = "{listen}"
# The region this server publishes batches for.
region = "{region}"
# What verification certificates must name as their audience to be accepted here.
audience = "{audience}"
# TLS certificate chain and private key (PEM). `init` makes a self-signed pair for localhost.
tls_cert = "tls/cert.pem"
tls_key = "tls/key.pem"
# Export signing keys (ed25519 seeds in hex). Phones may trust several; list old and new during
# a rotation. `active_export_key` signs new batches, the index and the risk configuration.
export_keys = ["export-keys/export-1.key"]
active_export_key = "export-keys/export-1.key"
# A batch is closed every this many seconds; must divide 86400. Default: daily.
batch_period_seconds = {period}
# Batches are padded with random keys (metadata copied from real keys) up to this size.
min_batch_size = {min}
# Days keys, batches and replay records are kept.
retention_days = {ret}
# Keys that expired more than this many days ago are rejected.
max_key_age_days = {age}
# Most keys one upload may carry (GAEN: 30).
max_keys_per_upload = {maxk}
# Case reports issued longer ago than this are rejected (their nonces are kept this long).
max_report_age_seconds = {rage}
# Clock difference tolerated for reports and certificates that claim a future issue time.
clock_skew_seconds = {skew}
# Uploads accepted per health authority per UTC day (case reports and certified uploads).
authority_daily_upload_quota = {quota}
# Most case reports in one POST /v1/cases/bulk (each is verified and counts against the quota).
max_reports_per_bulk = {bulk}

[limits]
# Largest request body accepted (bytes); larger requests get 413.
max_body_bytes = {body}
# Largest body of POST /v1/cases/bulk (bytes).
max_bulk_body_bytes = {bulkbody}
# Seconds allowed for the TLS handshake.
tls_handshake_timeout_seconds = {hs}
# Seconds allowed to send a request's headers; also how long an idle keep-alive connection lives.
header_timeout_seconds = {ht}
# Seconds allowed for a whole request, body included; slower clients get 408.
request_timeout_seconds = {rt}
# Open connections at most; connections beyond are closed at once.
max_connections = {conns}
# Cache-Control max-age of batch downloads (batches are immutable).
batch_cache_max_age_seconds = {cache}

# Exposure scoring parameters, signed and published at /v1/config (spec/wire-format.md §7).
# Weights are hundredths (100 = 1.0, at most 250). infectiousness_by_dsos: 29 values for days
# since symptom onset -14..=14; 0 none, 1 standard, 2 high.
[risk]
{risk}
"#,
            listen = self.listen,
            region = self.region,
            audience = self.audience,
            period = self.batch_period_seconds,
            min = self.min_batch_size,
            ret = self.retention_days,
            age = self.max_key_age_days,
            maxk = self.max_keys_per_upload,
            rage = self.max_report_age_seconds,
            skew = self.clock_skew_seconds,
            quota = self.authority_daily_upload_quota,
            bulk = self.max_reports_per_bulk,
            body = self.limits.max_body_bytes,
            bulkbody = self.limits.max_bulk_body_bytes,
            hs = self.limits.tls_handshake_timeout_seconds,
            ht = self.limits.header_timeout_seconds,
            rt = self.limits.request_timeout_seconds,
            conns = self.limits.max_connections,
            cache = self.limits.batch_cache_max_age_seconds,
        )
    }
}

/// What `init` did.
#[derive(Debug)]
pub struct InitReport {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Public key of the active export key.
    pub export_public_key: String,
    /// Files created (existing ones are kept).
    pub created: Vec<PathBuf>,
}

/// Creates the data directory: config, export key, self-signed TLS pair. Never overwrites.
pub fn init(data_dir: &Path) -> anyhow::Result<InitReport> {
    let mut rng = rand::rngs::OsRng;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let mut created = Vec::new();
    let cfg_path = data_dir.join(CONFIG_FILE);
    if !cfg_path.exists() {
        std::fs::write(&cfg_path, Config::default().template())?;
        created.push(cfg_path.clone());
    }
    let resolved = Config::load(&cfg_path)?;
    let active = resolved.path(&resolved.config.active_export_key);
    if !active.exists() {
        en_api::keyfile::write_signing_key(&active, &SigningKey::generate(&mut rng))?;
        created.push(active.clone());
    }
    let (cert, key) = (
        resolved.path(&resolved.config.tls_cert),
        resolved.path(&resolved.config.tls_key),
    );
    if !cert.exists() && !key.exists() {
        crate::tls::write_self_signed(&cert, &key)?;
        created.push(cert);
        created.push(key);
    }
    let export_public_key = en_api::keyfile::read_signing_key(&active)?
        .public_key()
        .to_hex();
    Ok(InitReport {
        data_dir: data_dir.to_path_buf(),
        export_public_key,
        created,
    })
}

/// Creates a data directory with `config` (instead of the defaults) and one registered health
/// authority, and returns it loaded. For tests, benchmarks, fuzzing and the simulator.
pub fn init_with_authority(
    data_dir: &Path,
    config: &Config,
    authority: &str,
    public_key: &en_protocol::keys::PublicKey,
    region: Option<&str>,
) -> anyhow::Result<Resolved> {
    std::fs::create_dir_all(data_dir)?;
    std::fs::write(data_dir.join(CONFIG_FILE), toml::to_string(config)?)?;
    init(data_dir)?;
    crate::registry::add(
        &data_dir.join(crate::registry::REGISTRY_FILE),
        crate::registry::Entry {
            id: authority.into(),
            public_key: public_key.to_hex(),
            region: region.map(Into::into),
            revoked: false,
            added_at: 0,
        },
    )?;
    Config::load(&data_dir.join(CONFIG_FILE))
}
