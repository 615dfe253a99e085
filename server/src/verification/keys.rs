//! Signing keys the server holds on behalf of console authorities: `authority-keys/<id>.key`
//! in the data directory (0600, directory 0700), made by `en-server authority add ID
//! --server-key`. The server signs verification certificates with them, and nothing else.
//!
//! Why here and not in a separate signing service: spec/verification.md §5.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use en_protocol::keys::{PublicKey, SigningKey};

use crate::error::Error;

/// The key file of authority `id` under `dir` (`authority-keys/`).
pub fn key_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.key"))
}

/// Generates a key for authority `id` under `dir` (never overwriting one) and returns its
/// public key, to register.
pub fn create(dir: &Path, id: &str) -> Result<PublicKey, Error> {
    en_protocol::wire::AuthorityId::new(id)
        .map_err(|_| Error::Console("the authority id must be 1-64 of a-z 0-9 . _ -".into()))?;
    crate::datadir::create_private_dir(dir).map_err(|e| Error::io("create", dir, e))?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    en_api::keyfile::write_signing_key(&key_path(dir, id), &key)?;
    Ok(key.public_key())
}

/// The keys, read on first use and kept (a key file does not change; a new key is a new
/// authority id).
pub struct HeldKeys {
    dir: PathBuf,
    cache: RwLock<HashMap<String, Arc<SigningKey>>>,
}

impl HeldKeys {
    /// The keys under `dir`.
    pub fn new(dir: PathBuf) -> Self {
        HeldKeys {
            dir,
            cache: RwLock::default(),
        }
    }

    /// The key of authority `id` (a valid authority id), if the server holds one.
    pub fn get(&self, id: &str) -> Result<Option<Arc<SigningKey>>, Error> {
        if let Some(k) = self.cache.read().expect("keys lock").get(id) {
            return Ok(Some(k.clone()));
        }
        let path = key_path(&self.dir, id);
        if !path.exists() {
            return Ok(None);
        }
        let key = Arc::new(en_api::keyfile::read_signing_key(&path)?);
        self.cache
            .write()
            .expect("keys lock")
            .insert(id.to_string(), key.clone());
        Ok(Some(key))
    }
}
