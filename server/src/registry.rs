//! The registry of health authorities: a JSON file in the data directory.
//!
//! sled allows one process per database, so the registry lives in its own small file that
//! `en-server authority …` edits and the running server re-reads when it changes (checked on
//! every upload: one `stat`). Changes take effect on the next upload, without a restart.
//!
//! - Edits are serialized by an exclusive lock on `authorities.lock` (so a concurrent `add`
//!   cannot undo a `revoke`), and replace the file atomically ([`crate::jsonfile`]).
//! - The server **fails closed**: if the file cannot be read or parsed, uploads are refused
//!   (503 `registry_unavailable`, and an error in the log) until it is fixed, rather than
//!   going on with a registry that may include a revoked authority.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use en_protocol::keys::PublicKey;
use en_protocol::verify::{AuthorityInfo, AuthorityRegistry};
use en_protocol::wire::{AuthorityId, Region};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::jsonfile::{self, stamp, FileStamp};

/// File name inside the data directory.
pub const REGISTRY_FILE: &str = "authorities.json";
const LOCK_FILE: &str = "authorities.lock";

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

fn invalid(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Registry(format!("{}: {what}", path.display()))
}

/// Reads the registry file (an absent file is an empty registry).
pub fn read(path: &Path) -> Result<Vec<Entry>, Error> {
    let f: FileFormat = jsonfile::read(path, |e| {
        invalid(path, format!("not a valid registry ({e})"))
    })?;
    Ok(f.authorities)
}

/// Runs `edit` on the registry under the exclusive edit lock and writes the result.
fn edit(path: &Path, edit: impl FnOnce(&mut Vec<Entry>) -> Result<(), Error>) -> Result<(), Error> {
    jsonfile::edit(
        path,
        LOCK_FILE,
        |e| invalid(path, format!("not a valid registry ({e})")),
        |f: &mut FileFormat| edit(&mut f.authorities),
    )
}

/// Checks an entry's fields.
pub fn parse_entry(e: &Entry) -> Result<(AuthorityId, AuthorityInfo), Error> {
    let id = AuthorityId::new(&e.id).map_err(|_| {
        Error::Registry(format!(
            "authority id {:?} must be 1-64 of a-z 0-9 . _ -",
            e.id
        ))
    })?;
    let public_key = PublicKey::from_hex(&e.public_key).map_err(|_| {
        Error::Registry(format!(
            "the public key of {} is not a valid ed25519 key in hex",
            e.id
        ))
    })?;
    let region = e
        .region
        .as_deref()
        .map(Region::new)
        .transpose()
        .map_err(|_| {
            Error::Registry(format!("the region of {} must be 1-16 of A-Z 0-9 -", e.id))
        })?;
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
pub fn add(path: &Path, entry: Entry) -> Result<(), Error> {
    parse_entry(&entry)?;
    edit(path, |all| {
        if all.iter().any(|e| e.id == entry.id) {
            return Err(Error::Registry(format!(
                "authority {} already exists (revoke it and add it under a new id to change its key)",
                entry.id
            )));
        }
        all.push(entry);
        Ok(())
    })
}

/// Marks an authority revoked. Fails if it does not exist.
pub fn revoke(path: &Path, id: &str) -> Result<(), Error> {
    edit(path, |all| {
        let e = all
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or_else(|| Error::Registry(format!("no authority with id {id}")))?;
        e.revoked = true;
        Ok(())
    })
}

struct Loaded {
    stamp: FileStamp,
    /// `None` while the file is unreadable or invalid: every lookup fails (fail closed).
    authorities: Option<BTreeMap<AuthorityId, AuthorityInfo>>,
}

/// The server's view of the registry, reloaded when the file changes.
pub struct Registry {
    path: PathBuf,
    state: RwLock<Loaded>,
}

fn load(path: &Path) -> Result<BTreeMap<AuthorityId, AuthorityInfo>, Error> {
    read(path)?.iter().map(parse_entry).collect()
}

impl Registry {
    /// Loads the registry at `path`; an invalid file is an error at start.
    pub fn open(path: PathBuf) -> Result<Self, Error> {
        let stamp = stamp(&path);
        let authorities = Some(load(&path)?);
        Ok(Registry {
            path,
            state: RwLock::new(Loaded { stamp, authorities }),
        })
    }

    /// Re-reads the file if it changed since the last read. Returns false while the registry
    /// is unavailable (the file became unreadable or invalid: logged, and uploads refused).
    pub fn refresh(&self) -> bool {
        let st = stamp(&self.path);
        {
            let s = self.state.read().expect("registry lock");
            if s.stamp == st {
                return s.authorities.is_some();
            }
        }
        let loaded = load(&self.path);
        let mut s = self.state.write().expect("registry lock");
        s.stamp = st;
        match loaded {
            Ok(map) => {
                tracing::info!(authorities = map.len(), "authority registry reloaded");
                s.authorities = Some(map);
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "authority registry is unreadable or invalid; refusing uploads until it is fixed");
                s.authorities = None;
                false
            }
        }
    }

    /// Number of authorities (0 while unavailable).
    pub fn len(&self) -> usize {
        self.state
            .read()
            .expect("registry lock")
            .authorities
            .as_ref()
            .map_or(0, BTreeMap::len)
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl AuthorityRegistry for Registry {
    fn authority(&self, id: &AuthorityId) -> Option<AuthorityInfo> {
        self.state
            .read()
            .expect("registry lock")
            .authorities
            .as_ref()?
            .get(id)
            .cloned()
    }
}
