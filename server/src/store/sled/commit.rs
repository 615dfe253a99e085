//! Group commit that really reaches the disk.
//!
//! A 2xx means "on stable storage", but one fsync per request would cap throughput at the
//! disk's fsync rate: writers ask the committer for durability; while one commit runs, new
//! requests queue, and the next commit covers all of them.
//!
//! sled's own `flush` is not enough on Linux: it writes its log with `sync_file_range`, which
//! neither flushes the drive's write cache nor the file's metadata (upstream sled issues #1351
//! and #1452), and it writes large values as blob files without any fsync. So a commit is
//! `flush`, then `fsync` of the log file, of every blob file written since the last commit,
//! and of the directories that gained files.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

type Waiter = oneshot::Sender<Result<(), String>>;

enum Msg {
    Commit(Waiter),
    /// Ends the task (and its handle on the database); acknowledged when done.
    Stop(oneshot::Sender<()>),
}

/// Handle to the committing task.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::UnboundedSender<Msg>,
    durability: Arc<Mutex<Durability>>,
    db: sled::Db,
}

/// What a commit must fsync besides sled's flush.
struct Durability {
    /// The database directory (None: a temporary store, nothing to sync).
    dir: Option<PathBuf>,
    /// Blob files already fsync'd.
    synced_blobs: HashSet<OsString>,
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Durability {
    fn commit(&mut self, db: &sled::Db) -> Result<(), String> {
        db.flush().map_err(|e| e.to_string())?;
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let io = |what: &str, e: std::io::Error| format!("fsync of {what} failed: {e}");
        // An fsync on any descriptor of the file flushes all its dirty pages, its metadata
        // and the drive's cache for it.
        File::open(dir.join("db"))
            .and_then(|f| f.sync_all())
            .map_err(|e| io("the sled log", e))?;
        let blobs = dir.join("blobs");
        if let Ok(entries) = std::fs::read_dir(&blobs) {
            let mut present = HashSet::new();
            let mut new = false;
            for e in entries.flatten() {
                let name = e.file_name();
                if !self.synced_blobs.contains(&name) {
                    File::open(e.path())
                        .and_then(|f| f.sync_all())
                        .map_err(|e| io("a sled blob", e))?;
                    new = true;
                }
                present.insert(name);
            }
            if new {
                sync_dir(&blobs).map_err(|e| io("the blob directory", e))?;
            }
            self.synced_blobs = present;
        }
        sync_dir(dir).map_err(|e| io("the database directory", e))
    }
}

impl Committer {
    /// Starts the committing task for `db`, stored in `dir` (`None` for a temporary store).
    pub fn start(db: sled::Db, dir: Option<PathBuf>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        let durability = Arc::new(Mutex::new(Durability {
            dir,
            synced_blobs: HashSet::new(),
        }));
        let c = Committer {
            tx,
            durability: durability.clone(),
            db: db.clone(),
        };
        tokio::spawn(async move {
            let mut stop = None;
            while let Some(first) = rx.recv().await {
                let mut waiters = Vec::new();
                for m in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
                    match m {
                        Msg::Commit(w) => waiters.push(w),
                        Msg::Stop(ack) => stop = Some(ack),
                    }
                }
                let (db, d) = (db.clone(), durability.clone());
                let r = tokio::task::spawn_blocking(move || {
                    d.lock().expect("durability lock").commit(&db)
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
                if let Err(e) = &r {
                    tracing::error!(error = %e, "commit failed");
                }
                for w in waiters {
                    let _ = w.send(r.clone());
                }
                if stop.is_some() {
                    break;
                }
            }
            drop((db, durability));
            if let Some(ack) = stop {
                let _ = ack.send(());
            }
        });
        c
    }

    /// Commits what is pending, then ends the committing task (it holds a handle on the
    /// database; the database closes when the last handle goes).
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Waits until everything written before this call is on stable storage.
    pub async fn durable(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Commit(tx))
            .map_err(|_| "committer stopped".to_string())?;
        rx.await.map_err(|_| "committer stopped".to_string())?
    }

    /// Commits now, on the calling thread (for blocking callers, e.g. shutdown).
    pub fn commit_blocking(&self) -> Result<(), String> {
        self.durability
            .lock()
            .expect("durability lock")
            .commit(&self.db)
    }
}
