//! What the upload path checks and the batcher reads, kept in memory.
//!
//! Derived from the sled trees when the store opens and updated, under one lock, as records
//! are written: the stored TEKs (duplicates), the replay records (keyed token hash → expiry
//! and a keyed digest of the keys, for recognising retries), the quota counts, the keys
//! pending publication by release window, and what expires when.

use std::collections::BTreeMap;

use en_protocol::keys::TEK_LEN;

use super::record::Record;

// Keyed with a per-process random seed: keys and hashes come from clients.
pub(super) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(super) type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

/// A keyed hash of a single-use token.
pub(super) type TokenHash = [u8; 32];

/// A replay record: when it may go, and a keyed digest of the upload's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Replay {
    pub expiry: u64,
    pub digest: [u8; 32],
}

impl Replay {
    pub fn encode(&self) -> [u8; 40] {
        let mut v = [0u8; 40];
        v[..8].copy_from_slice(&self.expiry.to_be_bytes());
        v[8..].copy_from_slice(&self.digest);
        v
    }
    pub fn decode(b: &[u8]) -> Option<Self> {
        (b.len() == 40).then(|| Replay {
            expiry: u64::from_be_bytes(b[..8].try_into().expect("8 bytes")),
            digest: b[8..].try_into().expect("32 bytes"),
        })
    }
}

/// The in-memory indexes.
#[derive(Default)]
pub(super) struct Ledger {
    /// Sequence of the next record.
    pub next: u64,
    /// Keys whose release window ends at or before this are published.
    pub published: u64,
    /// Every stored TEK, with the sequence of the record that holds it (a revision rewrites
    /// that record).
    pub teks: HashMap<[u8; TEK_LEN], u64>,
    /// Replay records by token hash.
    pub replay: HashMap<TokenHash, Replay>,
    /// Replay record expiry → token hashes (for retention).
    pub replay_expiry: BTreeMap<u64, Vec<TokenHash>>,
    /// Uploads per (UTC day, authority).
    pub quota: HashMap<(u64, String), u64>,
    /// Release-window end → records with keys pending in that window, and their key count.
    pub pending: BTreeMap<u64, (Vec<u64>, usize)>,
    /// Record expiry → records (for retention).
    pub expiry: BTreeMap<u64, Vec<u64>>,
}

impl Ledger {
    /// Adds a record's keys.
    pub fn add_record(&mut self, seq: u64, r: &Record) {
        self.teks
            .extend(r.keys.iter().map(|(k, _)| (*k.key.as_bytes(), seq)));
        for (_, slot) in &r.keys {
            self.add_pending(seq, *slot);
        }
        self.expiry.entry(r.expiry()).or_default().push(seq);
        self.next = self.next.max(seq + 1);
    }

    /// Counts a key of record `seq` as pending in the window ending at `slot`, unless that
    /// window is published.
    pub fn add_pending(&mut self, seq: u64, slot: u64) {
        if slot > self.published {
            let p = self.pending.entry(slot).or_default();
            if p.0.last() != Some(&seq) {
                p.0.push(seq);
            }
            p.1 += 1;
        }
    }

    /// Forgets a deleted record's keys.
    pub fn remove_record(&mut self, r: &Record) {
        for (k, _) in &r.keys {
            self.teks.remove(k.key.as_bytes());
        }
    }

    /// Adds a replay record.
    pub fn add_replay(&mut self, h: TokenHash, r: Replay) {
        self.replay.insert(h, r);
        self.replay_expiry.entry(r.expiry).or_default().push(h);
    }

    /// Marks everything released up to `cut` as published.
    pub fn publish(&mut self, cut: u64) {
        self.published = self.published.max(cut);
        self.pending = self.pending.split_off(&cut.saturating_add(1));
    }

    /// Keys pending publication.
    pub fn pending_count(&self) -> usize {
        self.pending.values().map(|(_, n)| n).sum()
    }
}
