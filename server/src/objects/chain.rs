//! The published objects of one hash chain (key batches, or venue trace batches): its index
//! and its batches, each an immutable file of the object directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use bytes::Bytes;

use super::{put, read, sha256};

/// How many of the newest batches of a chain stay in memory.
const CACHED_BATCHES: usize = 4;

/// The file names of one chain's objects.
#[derive(Debug, Clone, Copy)]
pub struct ChainNames {
    /// The index file, e.g. `index.bin`.
    pub index: &'static str,
    /// The prefix of its batch files, e.g. `batch-` (then 20 digits and `.bin`).
    pub batch_prefix: &'static str,
}

/// The key chain's files.
pub const KEYS: ChainNames = ChainNames {
    index: "index.bin",
    batch_prefix: "batch-",
};
/// The venue trace chain's files.
pub const TRACES: ChainNames = ChainNames {
    index: "trace-index.bin",
    batch_prefix: "trace-batch-",
};

/// One chain's index and batches.
pub struct Chain {
    dir: PathBuf,
    names: ChainNames,
    index: RwLock<Option<Bytes>>,
    /// Sequences the current index lists: only these are served.
    listed: RwLock<BTreeSet<u64>>,
    cache: Mutex<BTreeMap<u64, Bytes>>,
    /// SHA-256 of each batch served so far (its strong ETag).
    hashes: Mutex<BTreeMap<u64, [u8; 32]>>,
}

impl Chain {
    /// The chain named `names` in `dir`, with the index found there (if any).
    pub(super) fn open(dir: &Path, names: ChainNames) -> std::io::Result<Self> {
        Ok(Chain {
            dir: dir.to_path_buf(),
            names,
            index: RwLock::new(read(dir, names.index)?),
            listed: RwLock::default(),
            cache: Mutex::default(),
            hashes: Mutex::default(),
        })
    }

    fn batch_name(&self, seq: u64) -> String {
        format!("{}{seq:020}.bin", self.names.batch_prefix)
    }

    /// Writes a batch (not served until an index lists it).
    pub fn put_batch(&self, seq: u64, bytes: Bytes) -> std::io::Result<()> {
        put(&self.dir, &self.batch_name(seq), &bytes)?;
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

    /// Writes the index listing `listed` and serves it (and those batches) from now on.
    pub fn put_index(&self, bytes: Bytes, listed: BTreeSet<u64>) -> std::io::Result<()> {
        put(&self.dir, self.names.index, &bytes)?;
        *self.listed.write().expect("listed lock") = listed;
        *self.index.write().expect("index lock") = Some(bytes);
        Ok(())
    }

    /// The index being served.
    pub fn index(&self) -> Option<Bytes> {
        self.index.read().expect("index lock").clone()
    }

    /// A batch the current index lists, with its SHA-256.
    pub fn batch(&self, seq: u64) -> std::io::Result<Option<(Bytes, [u8; 32])>> {
        if !self.listed.read().expect("listed lock").contains(&seq) {
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
            None => match read(&self.dir, &self.batch_name(seq))? {
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
    pub fn remove_batch(&self, seq: u64) -> std::io::Result<()> {
        self.cache.lock().expect("object cache lock").remove(&seq);
        self.hashes.lock().expect("hash lock").remove(&seq);
        match std::fs::remove_file(self.dir.join(self.batch_name(seq))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
