//! The published bytes: the batches and index of each chain ([`Chain`]: key batches, and
//! venue trace batches), and the risk configuration, as immutable files in a directory
//! (`objects/` in the data directory).
//!
//! Each object is written to a temporary file, fsync'd, renamed into place and its directory
//! fsync'd, so a published object is complete on stable storage or absent. Publication order
//! makes what phones see durable: the batch file first, then the chain head in the store,
//! then the index that lists the batch. A batch is served only once an index listing it has
//! been written, so a batch that a crash interrupted is never seen and is rebuilt.
//!
//! Downloads are served from shared bytes: the index and the newest batches stay in memory
//! as reference-counted [`Bytes`]; older batches are read from their file.

mod chain;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use bytes::Bytes;

pub use chain::{Chain, ChainNames, KEYS, TRACES};

/// The object directory.
pub struct Objects {
    dir: PathBuf,
    config: RwLock<Option<Bytes>>,
    keys: Chain,
    traces: Chain,
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

/// Writes `bytes` to `dir/name` atomically and durably.
fn put(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()
}

/// Reads `dir/name`, `None` if it does not exist.
fn read(dir: &Path, name: &str) -> std::io::Result<Option<Bytes>> {
    match std::fs::read(dir.join(name)) {
        Ok(b) => Ok(Some(Bytes::from(b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl Objects {
    /// Opens (creating, mode 0700) the directory and loads the current indexes.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        crate::datadir::create_private_dir(dir)?;
        Ok(Objects {
            dir: dir.to_path_buf(),
            config: RwLock::new(read(dir, "config.bin")?),
            keys: Chain::open(dir, KEYS)?,
            traces: Chain::open(dir, TRACES)?,
        })
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
    pub fn put_batch(&self, seq: u64, bytes: Bytes) -> std::io::Result<()> {
        self.keys.put_batch(seq, bytes)
    }

    /// Writes the key index listing `listed` and serves it (and those batches) from now on.
    pub fn put_index(&self, bytes: Bytes, listed: BTreeSet<u64>) -> std::io::Result<()> {
        self.keys.put_index(bytes, listed)
    }

    /// Writes the risk configuration and serves it from now on.
    pub fn put_config(&self, bytes: Bytes) -> std::io::Result<()> {
        put(&self.dir, "config.bin", &bytes)?;
        *self.config.write().expect("config lock") = Some(bytes);
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
    pub fn batch(&self, seq: u64) -> std::io::Result<Option<(Bytes, [u8; 32])>> {
        self.keys.batch(seq)
    }

    /// Deletes a key batch (after retention; the index no longer lists it).
    pub fn remove_batch(&self, seq: u64) -> std::io::Result<()> {
        self.keys.remove_batch(seq)
    }

    /// A digest of every object's name and content (tests that assert nothing changed).
    pub fn fingerprint(&self) -> std::io::Result<[u8; 32]> {
        use sha2::Digest;
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "bin"))
            .collect();
        names.sort();
        let mut h = sha2::Sha256::new();
        for p in names {
            h.update(
                p.file_name()
                    .map(|n| n.as_encoded_bytes())
                    .unwrap_or_default(),
            );
            h.update(std::fs::read(&p)?);
        }
        Ok(h.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_served_only_once_an_index_lists_it() {
        let d = tempfile::tempdir().unwrap();
        let o = Objects::open(d.path()).unwrap();
        // Written (and fsync'd) but not yet published by an index: a crash now would rebuild
        // it, possibly with other padding, so nobody may have seen it.
        o.put_batch(1, Bytes::from_static(b"batch one")).unwrap();
        assert!(o.batch(1).unwrap().is_none());
        o.put_index(Bytes::from_static(b"index"), BTreeSet::from([1]))
            .unwrap();
        let (b, hash) = o.batch(1).unwrap().unwrap();
        assert_eq!(&b[..], b"batch one");
        assert_eq!(hash, sha256(b"batch one"));
        // Served from shared bytes: the same allocation every time.
        let (again, _) = o.batch(1).unwrap().unwrap();
        assert_eq!(b.as_ptr(), again.as_ptr());
        // After a restart nothing is served until the index is signed again from the store's
        // entries (which the server does before it serves).
        let o = Objects::open(d.path()).unwrap();
        assert_eq!(o.index().as_deref(), Some(&b"index"[..]));
        assert!(o.batch(1).unwrap().is_none());
        o.put_index(Bytes::from_static(b"index 2"), BTreeSet::from([1]))
            .unwrap();
        assert_eq!(&o.batch(1).unwrap().unwrap().0[..], b"batch one");
    }

    #[test]
    fn the_chains_are_apart() {
        let d = tempfile::tempdir().unwrap();
        let o = Objects::open(d.path()).unwrap();
        o.traces()
            .put_batch(1, Bytes::from_static(b"trace batch one"))
            .unwrap();
        o.traces()
            .put_index(Bytes::from_static(b"trace index"), BTreeSet::from([1]))
            .unwrap();
        assert!(o.batch(1).unwrap().is_none(), "not a key batch");
        assert!(o.index().is_none());
        assert_eq!(
            &o.traces().batch(1).unwrap().unwrap().0[..],
            b"trace batch one"
        );
        let o = Objects::open(d.path()).unwrap();
        assert_eq!(o.traces().index().as_deref(), Some(&b"trace index"[..]));
        o.traces().remove_batch(1).unwrap();
        assert!(!d
            .path()
            .join("trace-batch-00000000000000000001.bin")
            .exists());
    }
}
