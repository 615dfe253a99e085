//! The batch worker: closes a batch at every period boundary (pads, signs, chains, publishes),
//! and a venue trace batch beside it ([`crate::traces`]), re-signs the indexes and the risk
//! configuration so they stay fresh, and applies retention.
//!
//! Publication order makes what phones see durable ([`crate::objects`]): the batch object,
//! then the chain head in the store, then the index that lists the batch. A crash in between
//! leaves a batch no index lists; the next attempt rebuilds it.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use en_protocol::validate::padding;
use en_protocol::wire::batch::{Batch, BatchHeader, SignedBatch, GENESIS_HASH};
use en_protocol::wire::index::IndexEntry;
use en_protocol::UnixTime;

use crate::datadir::DataDir;
use crate::error::Error;
use crate::state::AppState;
use crate::store::ChainHead;

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Serve(format!("batch task failed: {e}")))?
}

/// Closes the windows ending at `boundary` of both chains, key batches and venue trace
/// batches ([`crate::traces::close_trace_window`]), where due. Returns the new key batch's
/// header. A chain whose window is already closed is left alone, so a call that failed half
/// way is simply repeated.
pub async fn close_window(
    state: &AppState,
    boundary: UnixTime,
) -> Result<Option<BatchHeader>, Error> {
    let keys = close_key_window(state, boundary).await?;
    crate::traces::close_trace_window(state, boundary).await?;
    Ok(keys)
}

/// Closes the key chain's window ending at `boundary` if it is due.
///
/// First moves the publication cut to `boundary`: once the store has done so, every upload
/// released before the boundary is stored, and every later one is released after it (in the
/// next window). Then reads the window's keys, pads, signs and publishes. If publishing
/// fails, the next attempt reads the same keys again.
async fn close_key_window(
    state: &AppState,
    boundary: UnixTime,
) -> Result<Option<BatchHeader>, Error> {
    let period = state.cfg.config.batch_period_seconds;
    let head = state.store.head().await?;
    let window_start = head.map_or(UnixTime(boundary.0.saturating_sub(period)), |h| {
        h.window_end
    });
    if boundary <= window_start {
        return Ok(None);
    }
    state.store.advance_cut(boundary).await?;
    let real = state.store.released_before(boundary).await?;
    let n_real = real.len();
    let (region, min, key) = (
        state.cfg.region.clone(),
        state.cfg.config.min_batch_size,
        state.export_key.clone(),
    );
    let sequence = head.map_or(1, |h| h.sequence + 1);
    let prev_hash = head.map_or(GENESIS_HASH, |h| h.hash);
    let seed = state.padding_seed;
    let (bytes, header) = blocking(move || {
        let mut keys = real;
        let day = (boundary.0.saturating_sub(1) / 86_400) as u32;
        let pad = match seed {
            Some(s) => {
                use rand::SeedableRng;
                let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(s ^ sequence);
                padding(keys.len(), min, day, &mut rng)
            }
            None => padding(keys.len(), min, day, &mut rand::rngs::OsRng),
        };
        keys.extend(pad);
        let bytes = Batch {
            region,
            sequence,
            window_start,
            window_end: boundary,
            prev_hash,
            keys,
        }
        .sign(&key)?;
        let header = SignedBatch::decode(&bytes)
            .map_err(en_protocol::Error::from)?
            .header()
            .clone();
        Ok((Bytes::from(bytes), header))
    })
    .await?;
    let objects = state.objects.clone();
    let dir = DataDir::new(&state.cfg.data_dir).objects();
    let b = bytes.clone();
    blocking(move || {
        objects
            .put_batch(sequence, b)
            .map_err(|e| Error::io("write a batch to", &dir, e))
    })
    .await?;
    let entry = IndexEntry {
        sequence: header.sequence,
        window_start: header.window_start,
        window_end: header.window_end,
        hash: header.hash,
        size: header.size,
    };
    state
        .store
        .publish(
            &entry,
            ChainHead {
                sequence: header.sequence,
                hash: header.hash,
                window_end: boundary,
                cut: boundary,
            },
        )
        .await?;
    publish_index(state).await?;
    let m = &state.metrics;
    m.batches_published.fetch_add(1, Relaxed);
    m.keys_published
        .fetch_add(u64::from(header.key_count), Relaxed);
    m.pending_keys
        .store(state.store.pending_count().await? as u64, Relaxed);
    tracing::info!(
        sequence = header.sequence,
        keys = n_real,
        padded_to = header.key_count,
        bytes = header.size,
        "batch published"
    );
    Ok(Some(header))
}

/// Signs and publishes the index of the retained batches (and a fresh risk configuration).
async fn publish_index(state: &AppState) -> Result<(), Error> {
    state.refresh_signed().await
}

/// Forgets expired batches (of both chains) and records; publishes new indexes if batches
/// went.
pub async fn apply_retention(state: &AppState, now: UnixTime) -> Result<(), Error> {
    crate::traces::apply_trace_retention(state, now).await?;
    let oldest = now.minus(state.cfg.config.retention_days * 86_400);
    let removed = state.store.prune(now, oldest).await?;
    if removed.is_empty() {
        return Ok(());
    }
    // The index stops listing them first, then their files go.
    publish_index(state).await?;
    let objects = state.objects.clone();
    let dir = DataDir::new(&state.cfg.data_dir).objects();
    let n = removed.len();
    blocking(move || {
        for seq in removed {
            objects
                .remove_batch(seq)
                .map_err(|e| Error::io("delete a batch in", &dir, e))?;
        }
        Ok(())
    })
    .await?;
    tracing::info!(removed = n, "expired batches deleted");
    Ok(())
}

fn last_boundary(now: UnixTime, period: u64) -> UnixTime {
    UnixTime(now.0 - now.0 % period)
}

/// Runs until `shutdown` fires: at each boundary, close the window and apply retention; in
/// between, re-sign the index and risk configuration every `index_refresh_seconds`.
/// On start it catches up on a window missed while the server was down (one batch covering
/// the whole gap, so windows stay contiguous).
pub async fn run(state: Arc<AppState>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let period = state.cfg.config.batch_period_seconds;
    let refresh = state.cfg.config.index_refresh_seconds;
    // On the very first start there is no chain yet: the first window is the one that ends
    // at the first boundary after the start (not one that ended before the server existed).
    let started = last_boundary(state.clock.now(), period);
    let mut signed_at = state.clock.now();
    loop {
        let now = state.clock.now();
        let boundary = last_boundary(now, period);
        let has_chain = matches!(state.store.head().await, Ok(Some(_)));
        if boundary > started || has_chain {
            match close_window(&state, boundary).await {
                Ok(Some(_)) => signed_at = state.clock.now(),
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "closing the batch failed; will retry"),
            }
            if let Err(e) = apply_retention(&state, state.clock.now()).await {
                tracing::error!(error = %e, "retention failed; will retry");
            }
        }
        let now = state.clock.now();
        if now.0 >= signed_at.0 + refresh {
            match state.refresh_signed().await {
                Ok(()) => signed_at = now,
                Err(e) => tracing::error!(error = %e, "re-signing the index failed; will retry"),
            }
        }
        let next = (last_boundary(now, period).0 + period).min(signed_at.0 + refresh);
        let mut wait = Duration::from_millis(next.saturating_sub(now.0) * 1000 + 50);
        if state.clock.is_virtual() {
            wait = wait.min(Duration::from_millis(100));
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}
