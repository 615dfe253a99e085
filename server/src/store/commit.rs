//! Group commit: a 2xx means "on disk", but one fsync per request would cap throughput at the
//! disk's fsync rate. Writers ask the committer for durability; while one flush runs, new
//! requests queue, and the next flush covers all of them.

use tokio::sync::{mpsc, oneshot};

use super::Store;

/// Handle to the flushing task.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::UnboundedSender<oneshot::Sender<Result<(), String>>>,
}

impl Committer {
    /// Starts the flushing task for `store`.
    pub fn start(store: Store) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<oneshot::Sender<Result<(), String>>>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut waiters = vec![first];
                while let Ok(w) = rx.try_recv() {
                    waiters.push(w);
                }
                let db = store.db().clone();
                let r = tokio::task::spawn_blocking(move || db.flush().map(|_| ()))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                for w in waiters {
                    let _ = w.send(r.clone());
                }
            }
        });
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
