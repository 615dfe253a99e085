//! The published bytes: batches, the index and the risk configuration, as immutable objects
//! in an object store ([`object_store`]): the data directory's `objects/` (default), another
//! directory, or an S3-compatible bucket that a CDN serves.
//!
//! Objects are named as the API's paths, so that any web server or CDN in front of the store
//! serves the API's downloads as they are: `v1/index`, `v1/config` and `v1/batches/{seq}`
//! (under an optional prefix). In a bucket they carry their headers: Content-Type
//! `application/octet-stream`, and Cache-Control `public, max-age=…, immutable` for batches
//! and a short `max-age` for the index and the configuration (a directory keeps no headers: the
//! web server in front sets them, `docs/nginx-objects.conf`).
//!
//! A write is complete on stable storage or absent (a directory fsyncs, [`durable_dir`]; a
//! bucket's put is atomic). Publication order makes what phones see durable: the batch object
//! first, then the chain head in the store, then the index that lists the batch. The server
//! serves a batch itself only once an index lists it. A batch object is never rewritten once
//! listed, and a batch written by an attempt that died before moving the chain head is
//! adopted as it is, not rebuilt ([`crate::batcher`]), so a web server or CDN in front that
//! serves a batch early serves the bytes the chain will name.
//!
//! Downloads are served from shared bytes: the index and the newest batches stay in memory
//! as reference-counted [`Bytes`]; older batches are read from the store.

pub mod durable_dir;
mod layout;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use en_protocol::verify::ExportKeys;
use en_protocol::wire::index::SignedIndex;
use object_store::path::Path;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions};

pub use layout::{batch_name, open_store, CONFIG_NAME, INDEX_NAME};

/// How many of the newest batches stay in memory.
const CACHED_BATCHES: usize = 4;

/// The object store of published objects, with what this process serves from it.
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    /// Where the objects are, for messages (a directory or an `s3://` URL).
    location: PathBuf,
    /// Whether the store keeps per-object headers (a bucket does, a directory does not).
    headers: bool,
    batch_max_age: u64,
    index_max_age: u64,
    index: RwLock<Option<Bytes>>,
    config: RwLock<Option<Bytes>>,
    /// Sequences the current index lists: only these are served.
    listed: RwLock<BTreeSet<u64>>,
    cache: Mutex<BTreeMap<u64, Bytes>>,
    /// SHA-256 of each batch served so far (its strong ETag).
    hashes: Mutex<BTreeMap<u64, [u8; 32]>>,
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

fn io(e: object_store::Error) -> std::io::Error {
    match e {
        object_store::Error::NotFound { .. } => {
            std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string())
        }
        e => std::io::Error::other(e.to_string()),
    }
}

impl Objects {
    /// Opens (creating, mode 0700) the directory `dir` as the object store, with the default
    /// cache lifetimes, and loads the current index and configuration.
    pub fn open(dir: &FsPath) -> std::io::Result<Self> {
        let store = layout::open_dir(dir, true)?;
        let limits = crate::config::Limits::default();
        let o = Self::with_store(store, dir.to_path_buf(), false, &limits);
        let read = |name: &str| match std::fs::read(dir.join(name)) {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
        *o.index.write().expect("index lock") = read(INDEX_NAME)?;
        *o.config.write().expect("config lock") = read(CONFIG_NAME)?;
        Ok(o)
    }

    /// Objects in `store` (`location` names it in messages; `headers`: whether the store keeps
    /// per-object Content-Type and Cache-Control). Nothing is loaded: see [`Objects::reload`].
    pub fn with_store(
        store: Arc<dyn ObjectStore>,
        location: PathBuf,
        headers: bool,
        limits: &crate::config::Limits,
    ) -> Self {
        Objects {
            store,
            location,
            headers,
            batch_max_age: limits.batch_cache_max_age_seconds,
            index_max_age: limits.index_cache_max_age_seconds,
            index: RwLock::default(),
            config: RwLock::default(),
            listed: RwLock::default(),
            cache: Mutex::default(),
            hashes: Mutex::default(),
        }
    }

    /// Where the objects are (a directory, or the bucket's `s3://` URL), for messages.
    pub fn location(&self) -> &FsPath {
        &self.location
    }

    async fn put(&self, name: &str, bytes: Bytes, max_age: u64, immutable: bool) -> std::io::Result<()> {
        let mut attributes = Attributes::new();
        if self.headers {
            attributes.insert(Attribute::ContentType, "application/octet-stream".into());
            let cache = if immutable {
                format!("public, max-age={max_age}, immutable")
            } else {
                format!("public, max-age={max_age}")
            };
            attributes.insert(Attribute::CacheControl, cache.into());
        }
        let opts = PutOptions {
            attributes,
            ..Default::default()
        };
        self.store
            .put_opts(&Path::from(name), bytes.into(), opts)
            .await
            .map(|_| ())
            .map_err(io)
    }

    async fn get(&self, name: &str) -> std::io::Result<Option<Bytes>> {
        match self.store.get(&Path::from(name)).await {
            Ok(r) => r.bytes().await.map(Some).map_err(io),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// Writes a batch (not served here until an index lists it).
    pub async fn put_batch(&self, seq: u64, bytes: Bytes) -> std::io::Result<()> {
        self.put(&batch_name(seq), bytes.clone(), self.batch_max_age, true)
            .await?;
        self.hashes
            .lock()
            .expect("hash lock")
            .insert(seq, sha256(&bytes));
        let mut c = self.cache.lock().expect("object cache lock");
        c.insert(seq, bytes);
        while c.len() > CACHED_BATCHES {
            let oldest = *c.keys().next().expect("not empty");
            c.remove(&oldest);
        }
        Ok(())
    }

    /// A batch object as stored, listed or not (the batcher adopts one that an interrupted
    /// attempt wrote).
    pub async fn stored_batch(&self, seq: u64) -> std::io::Result<Option<Bytes>> {
        self.get(&batch_name(seq)).await
    }

    /// Writes the index listing `listed` and serves it (and those batches) from now on.
    pub async fn put_index(&self, bytes: Bytes, listed: BTreeSet<u64>) -> std::io::Result<()> {
        self.put(INDEX_NAME, bytes.clone(), self.index_max_age, false)
            .await?;
        *self.listed.write().expect("listed lock") = listed;
        *self.index.write().expect("index lock") = Some(bytes);
        Ok(())
    }

    /// Writes the risk configuration and serves it from now on.
    pub async fn put_config(&self, bytes: Bytes) -> std::io::Result<()> {
        self.put(CONFIG_NAME, bytes.clone(), self.index_max_age, false)
            .await?;
        *self.config.write().expect("config lock") = Some(bytes);
        Ok(())
    }

    /// Serves what another process published (a replica that does not hold the batch lock):
    /// reads the index and the configuration from the store and takes them if they verify
    /// with `trusted` and are not older than those served now (so what this replica serves
    /// never goes back in time).
    pub async fn reload(&self, trusted: &ExportKeys) -> std::io::Result<()> {
        let generated = |b: &[u8]| {
            SignedIndex::decode(b)
                .ok()
                .and_then(|s| s.verify(trusted).ok())
                .map(|v| (v.index().generated_at, v.index().entries.clone()))
        };
        if let Some(new) = self.get(INDEX_NAME).await? {
            let current = self.index().and_then(|b| generated(&b)).map(|(t, _)| t);
            match generated(&new) {
                Some((at, entries)) if current.is_none_or(|c| at >= c) => {
                    *self.listed.write().expect("listed lock") =
                        entries.iter().map(|e| e.sequence).collect();
                    *self.index.write().expect("index lock") = Some(new);
                }
                Some(_) => {}
                None => tracing::warn!("the stored index does not verify; still serving the one before"),
            }
        }
        if let Some(config) = self.get(CONFIG_NAME).await? {
            *self.config.write().expect("config lock") = Some(config);
        }
        Ok(())
    }

    /// The index being served.
    pub fn index(&self) -> Option<Bytes> {
        self.index.read().expect("index lock").clone()
    }

    /// The risk configuration being served.
    pub fn config(&self) -> Option<Bytes> {
        self.config.read().expect("config lock").clone()
    }

    /// Whether the index being served lists batch `seq`.
    pub fn is_listed(&self, seq: u64) -> bool {
        self.listed.read().expect("listed lock").contains(&seq)
    }

    /// A batch the current index lists, with its SHA-256.
    pub async fn batch(&self, seq: u64) -> std::io::Result<Option<(Bytes, [u8; 32])>> {
        if !self.is_listed(seq) {
            return Ok(None);
        }
        let cached = self
            .cache
            .lock()
            .expect("object cache lock")
            .get(&seq)
            .cloned();
        let bytes = match cached {
            Some(b) => b,
            None => match self.stored_batch(seq).await? {
                Some(b) => b,
                None => return Ok(None),
            },
        };
        let hash = *self
            .hashes
            .lock()
            .expect("hash lock")
            .entry(seq)
            .or_insert_with(|| sha256(&bytes));
        Ok(Some((bytes, hash)))
    }

    /// Deletes a batch (after retention; the index no longer lists it).
    pub async fn remove_batch(&self, seq: u64) -> std::io::Result<()> {
        self.cache.lock().expect("object cache lock").remove(&seq);
        self.hashes.lock().expect("hash lock").remove(&seq);
        match self.store.delete(&Path::from(batch_name(seq))).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    /// A digest of every object's name and content (tests that assert nothing changed).
    pub async fn fingerprint(&self) -> std::io::Result<[u8; 32]> {
        use futures::TryStreamExt;
        use sha2::Digest;
        let mut names: Vec<Path> = self
            .store
            .list(None)
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(io)?;
        names.retain(|p| p.filename().is_some_and(|f| !f.starts_with('.')));
        names.sort();
        let mut h = sha2::Sha256::new();
        for p in names {
            h.update(p.as_ref());
            h.update(self.get(p.as_ref()).await?.unwrap_or_default());
        }
        Ok(h.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_is_served_only_once_an_index_lists_it() {
        let d = tempfile::tempdir().unwrap();
        let o = Objects::open(d.path()).unwrap();
        // Written (and fsync'd) but not yet published by an index: this process does not
        // serve it (a web server in front would serve the bytes the chain will name).
        o.put_batch(1, Bytes::from_static(b"batch one"))
            .await
            .unwrap();
        assert!(o.batch(1).await.unwrap().is_none());
        assert_eq!(
            std::fs::read(d.path().join("v1/batches/1")).unwrap(),
            b"batch one"
        );
        o.put_index(Bytes::from_static(b"index"), BTreeSet::from([1]))
            .await
            .unwrap();
        let (b, hash) = o.batch(1).await.unwrap().unwrap();
        assert_eq!(&b[..], b"batch one");
        assert_eq!(hash, sha256(b"batch one"));
        // Served from shared bytes: the same allocation every time.
        let (again, _) = o.batch(1).await.unwrap().unwrap();
        assert_eq!(b.as_ptr(), again.as_ptr());
        // After a restart nothing is served until the index is signed again from the store's
        // entries (which the server does before it serves).
        let o = Objects::open(d.path()).unwrap();
        assert_eq!(o.index().as_deref(), Some(&b"index"[..]));
        assert!(o.batch(1).await.unwrap().is_none());
        o.put_index(Bytes::from_static(b"index 2"), BTreeSet::from([1]))
            .await
            .unwrap();
        assert_eq!(&o.batch(1).await.unwrap().unwrap().0[..], b"batch one");
        let before = o.fingerprint().await.unwrap();
        o.remove_batch(1).await.unwrap();
        assert_ne!(o.fingerprint().await.unwrap(), before);
        assert!(!d.path().join("v1/batches/1").exists());
    }
}
