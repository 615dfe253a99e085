//! The registry of health authorities: a JSON file in the data directory.
//!
//! sled allows one process per database, so the registry lives in its own small file that
//! `en-server authority …` rewrites atomically (write + fsync + rename) and the running server
//! re-reads when it changes (checked on every upload: one `stat`). Changes therefore take
//! effect on the next upload, without a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use anyhow::Context;
use en_protocol::keys::PublicKey;
use en_protocol::verify::{AuthorityInfo, AuthorityRegistry};
use en_protocol::wire::{AuthorityId, Region};
use serde::{Deserialize, Serialize};

/// File name inside the data directory.
pub const REGISTRY_FILE: &str = "authorities.json";

/// One authority as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Identifier (`a-z 0-9 . _ -`).
    pub id: String,
    /// ed25519 public key, hex.
    pub public_key: String,
    /// Region it may report for, if restricted.
    pub region: Option<String>,
    /// Revoked authorities are refused.
    pub revoked: bool,
    /// When it was added (Unix seconds).
    pub added_at: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    authorities: Vec<Entry>,
}

/// Reads the registry file (an absent file is an empty registry).
pub fn read(path: &Path) -> anyhow::Result<Vec<Entry>> {
    match std::fs::read(path) {
        Ok(b) => Ok(serde_json::from_slice::<FileFormat>(&b)
            .with_context(|| format!("invalid registry {}", path.display()))?
            .authorities),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Atomically replaces the registry file.
pub fn write(path: &Path, entries: &[Entry]) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(&FileFormat {
        authorities: entries.to_vec(),
    })?;
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::io::Write::write_all(&mut f, &text)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Checks an entry's fields.
pub fn parse_entry(e: &Entry) -> anyhow::Result<(AuthorityId, AuthorityInfo)> {
    let id = AuthorityId::new(&e.id)
        .map_err(|_| anyhow::anyhow!("authority id {:?} must be 1-64 of a-z 0-9 . _ -", e.id))?;
    let public_key = PublicKey::from_hex(&e.public_key)
        .map_err(|_| anyhow::anyhow!("public key of {} is not a valid ed25519 key in hex", e.id))?;
    let region = e
        .region
        .as_deref()
        .map(Region::new)
        .transpose()
        .map_err(|_| anyhow::anyhow!("region of {} must be 1-16 of A-Z 0-9 -", e.id))?;
    Ok((
        id,
        AuthorityInfo {
            public_key,
            region,
            revoked: e.revoked,
        },
    ))
}

/// Adds an authority. Fails if the id exists.
pub fn add(path: &Path, entry: Entry) -> anyhow::Result<()> {
    parse_entry(&entry)?;
    let mut all = read(path)?;
    if all.iter().any(|e| e.id == entry.id) {
        anyhow::bail!(
            "authority {} already exists (revoke it and add it under a new id to change its key)",
            entry.id
        );
    }
    all.push(entry);
    write(path, &all)
}

/// Marks an authority revoked. Fails if it does not exist.
pub fn revoke(path: &Path, id: &str) -> anyhow::Result<()> {
    let mut all = read(path)?;
    let e = all
        .iter_mut()
        .find(|e| e.id == id)
        .ok_or_else(|| anyhow::anyhow!("no authority with id {id}"))?;
    e.revoked = true;
    write(path, &all)
}

type FileStamp = Option<(std::time::SystemTime, u64, u64)>;

/// The server's view of the registry, reloaded when the file changes.
pub struct Registry {
    path: PathBuf,
    state: RwLock<(FileStamp, BTreeMap<AuthorityId, AuthorityInfo>)>,
}

fn stamp(path: &Path) -> FileStamp {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some((m.modified().ok()?, m.len(), ino))
}

impl Registry {
    /// Loads the registry at `path`.
    pub fn open(path: PathBuf) -> anyhow::Result<Self> {
        let r = Registry {
            path,
            state: RwLock::new((None, BTreeMap::new())),
        };
        r.reload()?;
        Ok(r)
    }

    fn reload(&self) -> anyhow::Result<()> {
        let st = stamp(&self.path);
        let mut map = BTreeMap::new();
        for e in read(&self.path)? {
            let (id, info) = parse_entry(&e)?;
            map.insert(id, info);
        }
        *self.state.write().expect("registry lock") = (st, map);
        Ok(())
    }

    /// Re-reads the file if it changed since the last read. A file that became invalid is
    /// logged and the previous registry kept.
    pub fn refresh(&self) {
        let st = stamp(&self.path);
        if self.state.read().expect("registry lock").0 == st {
            return;
        }
        match self.reload() {
            Ok(()) => tracing::info!(authorities = self.len(), "authority registry reloaded"),
            Err(e) => {
                tracing::error!(error = %e, "authority registry file is invalid; keeping the previous registry")
            }
        }
    }

    /// Number of authorities.
    pub fn len(&self) -> usize {
        self.state.read().expect("registry lock").1.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl AuthorityRegistry for Registry {
    fn authority(&self, id: &AuthorityId) -> Option<AuthorityInfo> {
        self.state.read().expect("registry lock").1.get(id).cloned()
    }
}
