//! The published bytes: the batches and index of each chain ([`Chain`]: key batches, and
//! venue trace batches), and the risk configuration, as immutable objects in an object store
//! ([`object_store`]): the data directory's `objects/` (default), another directory, or an
//! S3-compatible bucket that a CDN serves.
//!
//! Objects are named as the API's paths, so that any web server or CDN in front of the store
//! serves the API's downloads as they are: `v1/index`, `v1/config`, `v1/batches/{seq}`,
//! `v1/traces/index` and `v1/traces/batches/{seq}` (under an optional prefix). In a bucket
//! they carry their headers: Content-Type `application/octet-stream`, and Cache-Control
//! `public, max-age=…, immutable` for batches and a short `max-age` for the indexes and the
//! configuration (a directory keeps no headers: the web server in front sets them).
//!
//! A write is complete on stable storage or absent (a directory fsyncs, [`durable_dir`]; a
//! bucket's put is atomic). Publication order makes what phones see durable: the batch object
//! first, then the chain head in the store, then the index that lists the batch. The server
//! serves a batch itself only once an index lists it. A key batch object is never rewritten
//! once listed, and one written by an attempt that died before moving the chain head is
//! adopted as it is, not rebuilt ([`crate::batcher`]), so a web server or CDN in front that
//! serves a batch early serves the bytes the chain will name.
//!
//! Downloads are served from shared bytes: the indexes and the newest batches stay in memory
//! as reference-counted [`Bytes`]; older batches are read from the store.

mod chain;
pub mod durable_dir;
mod layout;

use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use en_protocol::verify::ExportKeys;
use object_store::path::Path;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions};

pub use chain::{Chain, ChainNames, KEYS, TRACES};
pub use layout::{open_store, CONFIG_NAME};

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

/// Writes and reads objects of one store with the headers their kind needs.
#[derive(Clone)]
pub(crate) struct Writer {
    store: Arc<dyn ObjectStore>,
    /// Whether the store keeps per-object headers (a bucket does, a directory does not).
    headers: bool,
    batch_max_age: u64,
    index_max_age: u64,
}

impl Writer {
    /// Writes `bytes` as `name`: an immutable batch, or an index or configuration.
    async fn put(&self, name: &str, bytes: Bytes, immutable: bool) -> std::io::Result<()> {
        let mut attributes = Attributes::new();
        if self.headers {
            attributes.insert(Attribute::ContentType, "application/octet-stream".into());
            let cache = if immutable {
                format!("public, max-age={}, immutable", self.batch_max_age)
            } else {
                format!("public, max-age={}", self.index_max_age)
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

    /// Reads `name`, `None` if there is no such object.
    async fn get(&self, name: &str) -> std::io::Result<Option<Bytes>> {
        match self.store.get(&Path::from(name)).await {
            Ok(r) => r.bytes().await.map(Some).map_err(io),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// Deletes `name` (nothing to do if it is gone).
    async fn delete(&self, name: &str) -> std::io::Result<()> {
        match self.store.delete(&Path::from(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io(e)),
        }
    }
}

/// The object store of published objects, with what this process serves from it.
pub struct Objects {
    writer: Writer,
    /// Where the objects are, for messages (a directory or an `s3://` URL).
    location: PathBuf,
    config: RwLock<Option<Bytes>>,
    keys: Chain,
    traces: Chain,
    /// The federation chains, one per outbound region (spec/federation.md §2).
    federation: RwLock<std::collections::BTreeMap<en_protocol::wire::Region, Arc<Chain>>>,
}

impl Objects {
    /// Opens (creating, mode 0700) the directory `dir` as the object store, with the default
    /// cache lifetimes, and loads the current indexes and configuration.
    pub fn open(dir: &FsPath) -> std::io::Result<Self> {
        let store = layout::open_dir(dir, true)?;
        let limits = crate::config::Limits::default();
        let read = |name: &str| match std::fs::read(dir.join(name)) {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
        let o = Self::with_store(store, dir.to_path_buf(), false, &limits);
        Ok(Objects {
            config: RwLock::new(read(CONFIG_NAME)?),
            keys: Chain::new(o.writer.clone(), KEYS, read(KEYS.index)?),
            traces: Chain::new(o.writer.clone(), TRACES, read(TRACES.index)?),
            ..o
        })
    }

    /// Adds the federation chain for `region` (`v1/federation/{region}/…`), loading its
    /// index if one was published; nothing if it is there already.
    pub async fn add_federation_chain(
        &self,
        region: &en_protocol::wire::Region,
    ) -> std::io::Result<Arc<Chain>> {
        if let Some(c) = self.federation_chain(region) {
            return Ok(c);
        }
        let names = chain::federation_names(region);
        let index = self.writer.get(names.index).await?;
        let c = Arc::new(Chain::new(self.writer.clone(), names, index));
        self.federation
            .write()
            .expect("federation lock")
            .insert(region.clone(), c.clone());
        Ok(c)
    }

    /// The federation chain for `region`, if it is an outbound region.
    pub fn federation_chain(&self, region: &en_protocol::wire::Region) -> Option<Arc<Chain>> {
        self.federation
            .read()
            .expect("federation lock")
            .get(region)
            .cloned()
    }

    /// Objects in `store` (`location` names it in messages; `headers`: whether the store keeps
    /// per-object Content-Type and Cache-Control). Nothing is loaded: see [`Objects::reload`].
    pub fn with_store(
        store: Arc<dyn ObjectStore>,
        location: PathBuf,
        headers: bool,
        limits: &crate::config::Limits,
    ) -> Self {
        let writer = Writer {
            store,
            headers,
            batch_max_age: limits.batch_cache_max_age_seconds,
            index_max_age: limits.index_cache_max_age_seconds,
        };
        Objects {
            location,
            config: RwLock::default(),
            keys: Chain::new(writer.clone(), KEYS, None),
            traces: Chain::new(writer.clone(), TRACES, None),
            federation: RwLock::default(),
            writer,
        }
    }

    /// Where the objects are (a directory, or the bucket's `s3://` URL), for messages.
    pub fn location(&self) -> &FsPath {
        &self.location
    }

    /// The key chain.
    pub fn keys(&self) -> &Chain {
        &self.keys
    }

    /// The venue trace chain.
    pub fn traces(&self) -> &Chain {
        &self.traces
    }

    /// Writes a key batch (not served until an index lists it).
    pub async fn put_batch(&self, seq: u64, bytes: Bytes) -> std::io::Result<()> {
        self.keys.put_batch(seq, bytes).await
    }

    /// A key batch object as stored, listed or not.
    pub async fn stored_batch(&self, seq: u64) -> std::io::Result<Option<Bytes>> {
        self.keys.stored_batch(seq).await
    }

    /// Writes the key index listing `listed` and serves it (and those batches) from now on.
    pub async fn put_index(
        &self,
        bytes: Bytes,
        listed: std::collections::BTreeSet<u64>,
    ) -> std::io::Result<()> {
        self.keys.put_index(bytes, listed).await
    }

    /// Writes the risk configuration and serves it from now on.
    pub async fn put_config(&self, bytes: Bytes) -> std::io::Result<()> {
        self.writer.put(CONFIG_NAME, bytes.clone(), false).await?;
        *self.config.write().expect("config lock") = Some(bytes);
        Ok(())
    }

    /// Serves what another process published (a replica that does not hold the batch lock):
    /// both indexes, if they verify with `trusted` and are not older than those served now
    /// ([`Chain::reload`]), and the risk configuration.
    pub async fn reload(&self, trusted: &ExportKeys) -> std::io::Result<()> {
        self.keys.reload(trusted).await?;
        self.traces.reload(trusted).await?;
        let federation: Vec<Arc<Chain>> = self
            .federation
            .read()
            .expect("federation lock")
            .values()
            .cloned()
            .collect();
        for c in federation {
            c.reload(trusted).await?;
        }
        if let Some(config) = self.writer.get(CONFIG_NAME).await? {
            *self.config.write().expect("config lock") = Some(config);
        }
        Ok(())
    }

    /// The key index being served.
    pub fn index(&self) -> Option<Bytes> {
        self.keys.index()
    }

    /// The risk configuration being served.
    pub fn config(&self) -> Option<Bytes> {
        self.config.read().expect("config lock").clone()
    }

    /// A key batch the current index lists, with its SHA-256.
    pub async fn batch(&self, seq: u64) -> std::io::Result<Option<(Bytes, [u8; 32])>> {
        self.keys.batch(seq).await
    }

    /// Deletes a key batch (after retention; the index no longer lists it).
    pub async fn remove_batch(&self, seq: u64) -> std::io::Result<()> {
        self.keys.remove_batch(seq).await
    }

    /// A digest of every object's name and content (tests that assert nothing changed).
    pub async fn fingerprint(&self) -> std::io::Result<[u8; 32]> {
        use futures::TryStreamExt;
        use sha2::Digest;
        let mut names: Vec<Path> = self
            .writer
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
            h.update(self.writer.get(p.as_ref()).await?.unwrap_or_default());
        }
        Ok(h.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

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

    #[tokio::test]
    async fn the_chains_are_apart() {
        let d = tempfile::tempdir().unwrap();
        let o = Objects::open(d.path()).unwrap();
        o.traces()
            .put_batch(1, Bytes::from_static(b"trace batch one"))
            .await
            .unwrap();
        o.traces()
            .put_index(Bytes::from_static(b"trace index"), BTreeSet::from([1]))
            .await
            .unwrap();
        assert!(o.batch(1).await.unwrap().is_none(), "not a key batch");
        assert!(o.index().is_none());
        assert_eq!(
            &o.traces().batch(1).await.unwrap().unwrap().0[..],
            b"trace batch one"
        );
        let o = Objects::open(d.path()).unwrap();
        assert_eq!(o.traces().index().as_deref(), Some(&b"trace index"[..]));
        o.traces().remove_batch(1).await.unwrap();
        assert!(!d.path().join("v1/traces/batches/1").exists());
    }
}
