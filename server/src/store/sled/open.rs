//! Opening the sled store: the trees, the refusal of an earlier layout, and the in-memory
//! indexes ([`super::ledger`]) rebuilt from the records.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::commit::Committer;
use super::ledger::{Ledger, Replay, TokenHash};
use super::record::Record;
use super::{u64_of, SledStore};
use crate::store::StoreError;

const OLD_LAYOUT: &str = "this database uses the store layout of an earlier en-server (batches \
    and upload tokens inside the database); publish its pending keys with that version, then \
    start a new data directory";

/// How long [`SledStore::open`] waits for the database's file lock.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens the database, waiting up to `wait` while its file lock is held. sled takes an
/// exclusive `flock` on its file and refuses at once if it is taken; when a store in this same
/// process has just been closed, sled's background threads can still hold the file for a
/// moment after the last handle went (a reopen right after `close` failed with `WouldBlock`
/// about once in a hundred tries under load), so a lock refusal is retried. Another process
/// holding the database still gets the refusal, after `wait`.
fn open_waiting_for_lock(config: &sled::Config, wait: Duration) -> Result<sled::Db, sled::Error> {
    let deadline = Instant::now() + wait;
    loop {
        match config.open() {
            Err(sled::Error::Io(e)) if is_lock_refusal(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            r => return r,
        }
    }
}

/// sled 0.34 reports a taken lock only as this `Io` error (config.rs, `try_lock`).
fn is_lock_refusal(e: &std::io::Error) -> bool {
    e.to_string().contains("could not acquire lock")
}

impl SledStore {
    /// Opens (creating if needed) the store at `path`; `period` is the batch period (it decides
    /// the publication window of a pending key); `secret` keys the token hashes. Must run
    /// inside a tokio runtime (the group committer is a task). Rebuilds the in-memory indexes.
    pub fn open(path: &Path, period: u64, secret: [u8; 32]) -> Result<Self, StoreError> {
        // No periodic background flush: every write is followed by an explicit commit
        // (`commit`), which is what makes it durable.
        let config = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(None);
        let db = open_waiting_for_lock(&config, LOCK_WAIT).map_err(|e| match e {
            sled::Error::Io(io) if is_lock_refusal(&io) => StoreError::Io(format!(
                "{} is in use by another process (a running en-server?): stop it first",
                path.display()
            )),
            e => e.into(),
        })?;
        Self::from_db(db, Some(path.to_path_buf()), period, secret)
    }

    /// A store in a temporary directory that is deleted on drop (tests, fuzzing), with a
    /// random token secret.
    pub fn temporary(period: u64) -> Result<Self, StoreError> {
        let mut secret = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
        Self::from_db(
            sled::Config::new().temporary(true).open()?,
            None,
            period,
            secret,
        )
    }

    fn from_db(
        db: sled::Db,
        dir: Option<std::path::PathBuf>,
        period: u64,
        secret: [u8; 32],
    ) -> Result<Self, StoreError> {
        // Refuse rather than silently misread data written in an earlier layout.
        let names = db.tree_names();
        if names.iter().any(|n| {
            n.as_ref() == b"teks" || n.starts_with(b"pending/") || n.as_ref() == b"batches"
        }) {
            return Err(StoreError::OldLayout(OLD_LAYOUT));
        }
        let s = SledStore {
            period: period.max(1),
            uploads: db.open_tree("uploads")?,
            replay: db.open_tree("replay")?,
            quota: db.open_tree("quota")?,
            batch_meta: db.open_tree("batch_meta")?,
            meta: db.open_tree("meta")?,
            chaff: db.open_tree("chaff")?,
            traces: db.open_tree("traces")?,
            trace_batch_meta: db.open_tree("trace_batch_meta")?,
            federation: db.open_tree("federation")?,
            origins: db.open_tree("origins")?,
            imports: db.open_tree("imports")?,
            committer: Committer::start(db.clone(), dir),
            db,
            ledger: Arc::default(),
            cut: Arc::default(),
            hasher: crate::store::token::TokenHasher::new(secret),
        };
        let published = s.head_sync()?.map_or(0, |h| h.cut.0);
        let mut l = Ledger {
            published,
            ..Ledger::default()
        };
        for kv in s.uploads.iter() {
            let (k, v) = kv?;
            let seq = u64_of(&k);
            if Record::version_of(&v) == Some(1) {
                return Err(StoreError::OldLayout(OLD_LAYOUT));
            }
            let r = Record::decode(&v)
                .ok_or_else(|| StoreError::Corrupt(format!("upload record {seq}")))?;
            l.add_record(seq, &r);
        }
        for kv in s.replay.iter() {
            let (k, v) = kv?;
            let h: TokenHash = k
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::Corrupt("replay record key".into()))?;
            let r =
                Replay::decode(&v).ok_or_else(|| StoreError::Corrupt("replay record".into()))?;
            l.add_replay(h, r);
        }
        for kv in s.quota.iter() {
            let (k, v) = kv?;
            if k.len() < 8 {
                return Err(StoreError::Corrupt("quota record".into()));
            }
            let authority = String::from_utf8_lossy(&k[8..]).into_owned();
            l.quota.insert((u64_of(&k[..8]), authority), u64_of(&v));
        }
        let cut = s.meta.get("cut")?.map_or(0, |v| u64_of(&v));
        *s.cut.write().expect("cut lock") = published.max(cut);
        *s.ledger() = l;
        Ok(s)
    }
}
