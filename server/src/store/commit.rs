//! Group commit: a 2xx means "on disk", but one fsync per request would cap throughput at the
//! disk's fsync rate. Writers ask the committer for durability; while one flush runs, new
//! requests queue, and the next flush covers all of them.
//!
//! The flushes run on one dedicated thread (sled's flush blocks), which waits for the first
//! request, takes every request queued behind it, flushes once, and answers them all.

use std::sync::mpsc;

use tokio::sync::oneshot;

use super::Store;

type Waiter = oneshot::Sender<Result<(), String>>;

/// Handle to the flushing thread.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Waiter>,
}

impl Committer {
    /// Starts the flushing thread for `store`; it ends when every handle is dropped.
    pub fn start(store: Store) -> Self {
        let (tx, rx) = mpsc::channel::<Waiter>();
        std::thread::Builder::new()
            .name("en-committer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut waiters = vec![first];
                    waiters.extend(rx.try_iter());
                    let r = store.db().flush().map(|_| ()).map_err(|e| e.to_string());
                    for w in waiters {
                        let _ = w.send(r.clone());
                    }
                }
            })
            .expect("spawn the committer thread");
        Committer { tx }
    }

    /// Waits until everything written before this call is on disk.
    pub async fn durable(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(tx)
            .map_err(|_| "committer stopped".to_string())?;
        rx.await.map_err(|_| "committer stopped".to_string())?
    }
}
