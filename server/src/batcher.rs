//! The batch worker: closes a batch at every period boundary, pads, signs, chains, stores,
//! re-signs the index, and applies retention.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use en_protocol::validate::padding;
use en_protocol::wire::batch::{Batch, BatchHeader, SignedBatch, GENESIS_HASH};
use en_protocol::wire::index::{Index, IndexEntry};
use en_protocol::wire::key::KeyMetadata;
use en_protocol::wire::ReportType;
use en_protocol::{IntervalNumber, UnixTime};

use crate::state::AppState;
use crate::store::ChainHead;

/// Plausible metadata for padding when a window has no real keys: day-aligned keys of the
/// last 14 days, as a typical confirmed case would upload them.
fn fallback_metadata(boundary: UnixTime) -> Vec<KeyMetadata> {
    let today = boundary.interval().day_start().0;
    (1..=14u32)
        .map(|d| KeyMetadata {
            rolling_start: IntervalNumber(today.saturating_sub(144 * d)),
            rolling_period: 144,
            transmission_risk: ReportType::ConfirmedTest.default_transmission_risk(),
            report_type: ReportType::ConfirmedTest,
            days_since_onset: Some(4 - d as i8).filter(|v| v.abs() <= 14),
        })
        .collect()
}

/// Closes the window ending at `boundary` if it is due. Returns the new batch's header.
///
/// First moves the publication cut to `boundary` under its write lock: uploads hold the read
/// side while inserting, so once the write side is taken every upload released before the
/// boundary is in the store, and every later one is released after it (in the next window).
/// The lock is held only for that moment, not while the batch is read, padded and signed.
/// If building the batch fails, the next attempt reads the same keys again.
pub fn close_window(state: &AppState, boundary: UnixTime) -> anyhow::Result<Option<BatchHeader>> {
    let period = state.cfg.config.batch_period_seconds;
    let head = state.store.head()?;
    let window_start = head.map_or(UnixTime(boundary.0.saturating_sub(period)), |h| {
        h.window_end
    });
    if boundary <= window_start {
        return Ok(None);
    }
    {
        let mut cut = state.cut.write().expect("cut lock");
        *cut = (*cut).max(boundary);
    }
    let t0 = std::time::Instant::now();
    let real = state.store.released_before(boundary)?;
    let t_read = t0.elapsed();
    let n_real = real.len();
    let mut keys = real;
    let pad = padding(
        &keys,
        state.cfg.config.min_batch_size,
        &fallback_metadata(boundary),
        &mut rand::rngs::OsRng,
    );
    keys.extend(pad);
    let batch = Batch {
        region: state.cfg.region.clone(),
        sequence: head.map_or(1, |h| h.sequence + 1),
        window_start,
        window_end: boundary,
        prev_hash: head.map_or(GENESIS_HASH, |h| h.hash),
        keys,
    };
    let t1 = std::time::Instant::now();
    let bytes = batch.sign(&state.export_key)?;
    let header = SignedBatch::decode(&bytes)?.header().clone();
    let t_sign = t1.elapsed();
    let entry = IndexEntry {
        sequence: header.sequence,
        window_start: header.window_start,
        window_end: header.window_end,
        hash: header.hash,
        size: header.size,
    };
    let mut entries = state.store.index_entries()?;
    entries.push(entry.clone());
    let index = Index {
        region: state.cfg.region.clone(),
        generated_at: state.clock.now(),
        entries,
    }
    .sign(&state.export_key)?;
    let new_head = ChainHead {
        sequence: header.sequence,
        hash: header.hash,
        window_end: boundary,
        cut: boundary,
    };
    let t2 = std::time::Instant::now();
    state.store.publish(&bytes, &entry, new_head, &index)?;
    let t_store = t2.elapsed();
    let t3 = std::time::Instant::now();
    state.store.flush()?;
    tracing::debug!(read = ?t_read, sign = ?t_sign, store = ?t_store, flush = ?t3.elapsed(), "batch timings");
    state.metrics.batches_published.fetch_add(1, Relaxed);
    tracing::info!(
        sequence = header.sequence,
        keys = n_real,
        padded_to = header.key_count,
        bytes = header.size,
        "batch published"
    );
    Ok(Some(header))
}

/// Deletes expired batches and records; re-signs the index if batches went.
pub fn apply_retention(state: &AppState, now: UnixTime) -> anyhow::Result<()> {
    let oldest = now.minus(state.cfg.config.retention_days * 86_400);
    let removed = state.store.prune(now, oldest)?;
    if removed > 0 {
        let index = Index {
            region: state.cfg.region.clone(),
            generated_at: now,
            entries: state.store.index_entries()?,
        }
        .sign(&state.export_key)?;
        state.store.set_index(&index)?;
        state.store.flush()?;
        tracing::info!(removed, "expired batches deleted");
    }
    Ok(())
}

fn last_boundary(now: UnixTime, period: u64) -> UnixTime {
    UnixTime(now.0 - now.0 % period)
}

/// Runs until `shutdown` fires: at each boundary, close the window and apply retention.
/// On start it catches up on a window missed while the server was down (one batch covering
/// the whole gap, so windows stay contiguous).
pub async fn run(state: Arc<AppState>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let period = state.cfg.config.batch_period_seconds;
    // On the very first start there is no chain yet: the first window is the one that ends
    // at the first boundary after the start (not one that ended before the server existed).
    let started = last_boundary(state.clock.now(), period);
    loop {
        let now = state.clock.now();
        let boundary = last_boundary(now, period);
        if boundary > started || state.store.head().ok().flatten().is_some() {
            let st = state.clone();
            let r = tokio::task::spawn_blocking(move || {
                close_window(&st, boundary)?;
                apply_retention(&st, st.clock.now())
            })
            .await;
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "closing the batch failed; will retry at the next boundary")
                }
                Err(e) => tracing::error!(error = %e, "batch task failed"),
            }
        }
        let now = state.clock.now();
        let next = last_boundary(now, period).0 + period;
        let mut wait = Duration::from_millis((next - now.0) * 1000 + 50);
        if state.clock.is_virtual() {
            wait = wait.min(Duration::from_millis(100));
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}
