//! The batch lock: which replica closes windows and writes the published objects.
//!
//! A session-level advisory lock, taken with `pg_try_advisory_lock` on a session of its own.
//! PostgreSQL releases it when the session ends, so a replica that dies (`kill -9`: the kernel
//! closes its socket) frees it at once, and another replica takes it on its next try, at the
//! next window at the latest. A replica whose host vanishes is detected by the session's TCP
//! keepalives (set short here) within about half a minute. No transaction stays open while
//! the lock is held (an open transaction would hold back vacuum).
//!
//! The lock decides who does the work; it is not what keeps the chain whole: the chain head
//! moves by compare and set ([`super::publish`]), so even two replicas that both believed
//! they held the lock could not fork the chain.

use std::time::Duration;

use tokio::sync::Mutex;

use super::pool::{describe, Database};
use crate::store::StoreError;

/// The lock's key: "en-batch" in ASCII. Every feature whose batches the batcher closes
/// (venue traces too) shares it.
const LOCK_ID: i64 = 0x656e_2d62_6174_6368;

/// How long a check of the lock may take before the session is given up.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

struct Session {
    client: tokio_postgres::Client,
    held: bool,
}

/// This replica's side of the batch lock.
pub(super) struct BatchLock {
    db: Database,
    session: Mutex<Option<Session>>,
}

impl BatchLock {
    pub fn new(db: Database) -> Self {
        BatchLock {
            db,
            session: Mutex::new(None),
        }
    }

    /// Takes the lock, or checks that this session still holds it.
    pub async fn hold(&self) -> Result<bool, StoreError> {
        let mut g = self.session.lock().await;
        if g.as_ref().is_some_and(|s| s.client.is_closed()) {
            if g.as_ref().is_some_and(|s| s.held) {
                tracing::warn!("the batch lock's database session ended: this replica no longer closes batches");
            }
            *g = None;
        }
        if g.is_none() {
            let client = self.db.dedicated().await?;
            // Server-side keepalives, so that a vanished host's lock is freed soon (ignored
            // on a Unix socket).
            client
                .batch_execute(
                    "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; \
                     SET tcp_keepalives_count = 3",
                )
                .await
                .map_err(|e| StoreError::Io(describe(&e)))?;
            *g = Some(Session {
                client,
                held: false,
            });
        }
        let s = g.as_mut().expect("a session");
        // A session that answers still holds what it took (the lock ends with the session).
        let check = async {
            if s.held {
                s.client.simple_query("SELECT 1").await.map(|_| true)
            } else {
                s.client
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_ID])
                    .await
                    .map(|r| r.get::<_, bool>(0))
            }
        };
        match tokio::time::timeout(CHECK_TIMEOUT, check).await {
            Ok(Ok(held)) => {
                if held && !s.held {
                    tracing::info!("this replica holds the batch lock: it closes the batches");
                }
                s.held = held;
                Ok(held)
            }
            Ok(Err(e)) => {
                let was = s.held;
                *g = None;
                if was {
                    tracing::warn!(error = %describe(&e), "lost the batch lock");
                }
                Err(StoreError::Io(describe(&e)))
            }
            Err(_) => {
                *g = None;
                Err(StoreError::Io(
                    "the batch lock's session does not answer".into(),
                ))
            }
        }
    }
}
