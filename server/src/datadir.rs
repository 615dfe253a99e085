//! The data directory: its layout, `en-server init`, and the permission rules.
//!
//! ```text
//! en-data/                 0700
//!   config.toml            0600  settings (config.rs)
//!   authorities.json       0600  registered health authorities (registry.rs)
//!   replay.key             0600  secret that keys the hashes of single-use tokens
//!   revision.key           0600  secret that MACs revision tokens (spec/wire-format.md §11)
//!   codes.key              0600  secret that keys the hashes of verification codes, tokens,
//!                                API keys and console sessions
//!   authority-keys/*.key   0600  signing keys the server holds for console authorities
//!   selfreport.key         0600  seed of the self-report VOPRF key (spec/self-report.md)
//!   console-users.json     0600  console accounts (Argon2id hashes) and API keys (keyed hashes)
//!   export-keys/*.key      0600  export signing keys
//!   tls/cert.pem, key.pem        TLS certificate; key 0600
//!   db/                    0700  sled: uploads, replay records, quotas, chain head
//!   objects/               0700  published batches, index, risk configuration
//! ```
//!
//! The directory holds embargoed keys and signing secrets: it is created 0700 with files
//! 0600, and the server refuses to start if the directory, the database, the replay secret or
//! a private key may be read by group or others.

use std::path::{Path, PathBuf};

use en_api::keyfile;
use en_protocol::keys::SigningKey;
use zeroize::Zeroizing;

use crate::config::{Config, Resolved, CONFIG_FILE};
use crate::error::Error;

/// File name of the replay-token secret.
pub const REPLAY_KEY_FILE: &str = "replay.key";
/// File name of the revision-token secret.
pub const REVISION_KEY_FILE: &str = "revision.key";
/// File name of the verification-code secret.
pub const CODES_KEY_FILE: &str = "codes.key";

/// Where everything lives, relative to a data directory.
#[derive(Debug, Clone)]
pub struct DataDir(PathBuf);

impl DataDir {
    /// The layout of `dir`.
    pub fn new(dir: &Path) -> Self {
        DataDir(dir.to_path_buf())
    }
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
    /// `config.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.0.join(CONFIG_FILE)
    }
    /// The sled database.
    pub fn db(&self) -> PathBuf {
        self.0.join("db")
    }
    /// Published objects.
    pub fn objects(&self) -> PathBuf {
        self.0.join("objects")
    }
    /// The authority registry.
    pub fn authorities(&self) -> PathBuf {
        self.0.join(crate::registry::REGISTRY_FILE)
    }
    /// The replay-token secret.
    pub fn replay_key(&self) -> PathBuf {
        self.0.join(REPLAY_KEY_FILE)
    }
    /// The secret that MACs revision tokens.
    pub fn revision_key(&self) -> PathBuf {
        self.0.join(REVISION_KEY_FILE)
    }
    /// The secret keying the hashes of codes, tokens, API keys and sessions.
    pub fn codes_key(&self) -> PathBuf {
        self.0.join(CODES_KEY_FILE)
    }
    /// Signing keys the server holds for console authorities.
    pub fn authority_keys(&self) -> PathBuf {
        self.0.join("authority-keys")
    }
    /// Console accounts and API keys.
    pub fn console_users(&self) -> PathBuf {
        self.0.join(crate::console::users::USERS_FILE)
    }
}

/// Creates `dir` (and parents) if needed; a directory this creates is mode 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Sets a directory that `init` takes over to mode 0700 (a new data directory, possibly
/// created by someone else, e.g. `mktemp -d`).
fn make_private(dir: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("set the permissions of", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Refuses a path that group or others may access (`want`: the mode to suggest).
pub fn check_private(path: &Path, want: u32) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| Error::io("read", path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::Exposed {
                path: path.to_path_buf(),
                mode: mode & 0o777,
                want,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = (path, want);
    Ok(())
}

/// Checks the data directory's permissions before the server opens anything in it.
pub fn check_permissions(cfg: &Resolved) -> Result<(), Error> {
    let d = DataDir::new(&cfg.data_dir);
    check_private(d.path(), 0o700)?;
    for p in [d.db(), d.objects()] {
        if p.exists() {
            check_private(&p, 0o700)?;
        }
    }
    check_private(&d.replay_key(), 0o600)?;
    for p in [d.codes_key(), d.revision_key(), d.console_users()] {
        if p.exists() {
            check_private(&p, 0o600)?;
        }
    }
    if d.authority_keys().exists() {
        check_private(&d.authority_keys(), 0o700)?;
    }
    check_private(&cfg.path(&cfg.config.tls_key), 0o600)?;
    for k in &cfg.config.export_keys {
        check_private(&cfg.path(k), 0o600)?;
    }
    Ok(())
}

/// Reads a 32-byte secret (the replay-token or the codes secret).
pub fn read_replay_key(path: &Path) -> Result<[u8; 32], Error> {
    check_private(path, 0o600)?;
    let text =
        Zeroizing::new(std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?);
    en_protocol::hex::decode_array::<32>(text.trim()).ok_or_else(|| Error::Config {
        file: path.to_path_buf(),
        message: "not 64 hex characters".into(),
    })
}

/// What `init` did.
#[derive(Debug)]
#[non_exhaustive]
pub struct InitReport {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Public key of the active export key.
    pub export_public_key: String,
    /// Files created (existing ones are kept).
    pub created: Vec<PathBuf>,
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), Error> {
    keyfile::write_new(path, contents, true).map_err(Error::from)
}

/// Creates a random 32-byte secret file (0600, hex) if it does not exist; true if it did not.
pub fn create_secret(path: &Path) -> Result<bool, Error> {
    if path.exists() {
        return Ok(false);
    }
    let mut secret = Zeroizing::new([0u8; 32]);
    rand_core::RngCore::fill_bytes(&mut rand::rngs::OsRng, secret.as_mut());
    let hex = Zeroizing::new(en_protocol::hex::encode(secret.as_ref()) + "\n");
    write_private(path, hex.as_bytes())?;
    Ok(true)
}

/// Creates the data directory (0700): config, export key, replay secret, self-signed TLS
/// pair. Never overwrites.
pub fn init(data_dir: &Path) -> Result<InitReport, Error> {
    let mut rng = rand::rngs::OsRng;
    create_private_dir(data_dir).map_err(|e| Error::io("create", data_dir, e))?;
    let d = DataDir::new(data_dir);
    let mut created = Vec::new();
    let cfg_path = d.config_file();
    if !cfg_path.exists() {
        make_private(data_dir)?;
        write_private(&cfg_path, Config::default().template().as_bytes())?;
        created.push(cfg_path.clone());
    }
    let resolved = Config::load(&cfg_path)?;
    let active = resolved.path(&resolved.config.active_export_key);
    if !active.exists() {
        keyfile::write_signing_key(&active, &SigningKey::generate(&mut rng))?;
        created.push(active.clone());
    }
    for secret_file in [d.replay_key(), d.codes_key(), d.revision_key()] {
        if create_secret(&secret_file)? {
            created.push(secret_file);
        }
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
    let export_public_key = keyfile::read_signing_key(&active)?.public_key().to_hex();
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
) -> Result<Resolved, Error> {
    create_private_dir(data_dir).map_err(|e| Error::io("create", data_dir, e))?;
    make_private(data_dir)?;
    let d = DataDir::new(data_dir);
    write_private(
        &d.config_file(),
        toml::to_string(config)
            .expect("configurations serialize")
            .as_bytes(),
    )?;
    init(data_dir)?;
    crate::registry::add(
        &d.authorities(),
        crate::registry::Entry {
            id: authority.into(),
            public_key: public_key.to_hex(),
            region: region.map(Into::into),
            revoked: false,
            added_at: 0,
        },
    )?;
    Config::load(&d.config_file())
}
