//! The published objects of one hash chain (key batches, or venue trace batches): its index
//! and its batches, each an immutable object of the object store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, RwLock};

use bytes::Bytes;
use en_protocol::verify::ExportKeys;
use en_protocol::wire::chain::IndexFormat;
use en_protocol::wire::index::SignedIndex;

use super::{sha256, Writer};

/// How many of the newest batches of a chain stay in memory.
const CACHED_BATCHES: usize = 4;

/// The object names of one chain: the API's paths without the leading `/`.
#[derive(Debug, Clone, Copy)]
pub struct ChainNames {
    /// The index object, e.g. `v1/index`.
    pub index: &'static str,
    /// The prefix of its batch objects, e.g. `v1/batches/` (then the decimal sequence).
    pub batch_prefix: &'static str,
    /// The files an earlier en-server wrote at the top of the directory: the index's name
    /// and the batches' prefix (then 20 digits and `.bin`).
    pub(super) flat: (&'static str, &'static str),
    /// How the chain's index is signed.
    pub format: &'static IndexFormat,
}

/// The key chain's objects.
pub const KEYS: ChainNames = ChainNames {
    index: "v1/index",
    batch_prefix: "v1/batches/",
    flat: ("index.bin", "batch-"),
    format: &en_protocol::wire::index::KEY_INDEX,
};
/// The venue trace chain's objects.
pub const TRACES: ChainNames = ChainNames {
    index: "v1/traces/index",
    batch_prefix: "v1/traces/batches/",
    flat: ("trace-index.bin", "trace-batch-"),
    format: &en_protocol::wire::index::TRACE_INDEX,
};

/// The objects of the federation chain for `region` (spec/federation.md §2):
/// `v1/federation/{region}/index` and `v1/federation/{region}/batches/{seq}`. The names live
/// as long as the process (one per configured outbound region, made once at start).
pub fn federation_names(region: &en_protocol::wire::Region) -> ChainNames {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    ChainNames {
        index: leak(format!("v1/federation/{region}/index")),
        batch_prefix: leak(format!("v1/federation/{region}/batches/")),
        flat: ("", ""),
        format: &en_protocol::wire::index::KEY_INDEX,
    }
}

/// One chain's index and batches.
pub struct Chain {
    writer: Writer,
    names: ChainNames,
    index: RwLock<Option<Bytes>>,
    /// Sequences the current index lists: only these are served.
    listed: RwLock<BTreeSet<u64>>,
    cache: Mutex<BTreeMap<u64, Bytes>>,
    /// SHA-256 of each batch served so far (its strong ETag).
    hashes: Mutex<BTreeMap<u64, [u8; 32]>>,
}

impl Chain {
    /// The chain named `names` in the store `writer` writes to; `index`: the index found
    /// there (if any), which lists nothing until one is signed or reloaded.
    pub(super) fn new(writer: Writer, names: ChainNames, index: Option<Bytes>) -> Self {
        Chain {
            writer,
            names,
            index: RwLock::new(index),
            listed: RwLock::default(),
            cache: Mutex::default(),
            hashes: Mutex::default(),
        }
    }

    /// The object name of batch `seq`.
    pub fn batch_name(&self, seq: u64) -> String {
        format!("{}{seq}", self.names.batch_prefix)
    }

    /// Writes a batch (not served here until an index lists it).
    pub async fn put_batch(&self, seq: u64, bytes: Bytes) -> std::io::Result<()> {
        self.writer
            .put(&self.batch_name(seq), bytes.clone(), true)
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
        self.writer.get(&self.batch_name(seq)).await
    }

    /// Writes the index listing `listed` and serves it (and those batches) from now on.
    pub async fn put_index(&self, bytes: Bytes, listed: BTreeSet<u64>) -> std::io::Result<()> {
        self.writer
            .put(self.names.index, bytes.clone(), false)
            .await?;
        *self.listed.write().expect("listed lock") = listed;
        *self.index.write().expect("index lock") = Some(bytes);
        Ok(())
    }

    /// Serves the index another process published, if it verifies with `trusted` and is not
    /// older than the one served now (what a replica serves never goes back in time).
    pub async fn reload(&self, trusted: &ExportKeys) -> std::io::Result<()> {
        let format = self.names.format;
        let generated = |b: &[u8]| {
            SignedIndex::decode_as(b, format)
                .ok()
                .and_then(|s| s.verify(trusted).ok())
                .map(|v| (v.index().generated_at, v.index().entries.clone()))
        };
        let Some(new) = self.writer.get(self.names.index).await? else {
            return Ok(());
        };
        let current = self.index().and_then(|b| generated(&b)).map(|(t, _)| t);
        match generated(&new) {
            Some((at, entries)) if current.is_none_or(|c| at >= c) => {
                *self.listed.write().expect("listed lock") =
                    entries.iter().map(|e| e.sequence).collect();
                *self.index.write().expect("index lock") = Some(new);
            }
            Some(_) => {}
            None => tracing::warn!(
                index = self.names.index,
                "the stored index does not verify; still serving the one before"
            ),
        }
        Ok(())
    }

    /// The index being served.
    pub fn index(&self) -> Option<Bytes> {
        self.index.read().expect("index lock").clone()
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
        self.writer.delete(&self.batch_name(seq)).await
    }
}
