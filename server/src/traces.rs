//! The venue trace chain: at every batch boundary, beside the key batch, the traces accepted
//! since the last trace batch are deduplicated, padded ([`pad_traces`]), signed as a trace
//! batch (`ENTB`), chained and published; the trace index (`ENTX`) is re-signed with the key
//! index; trace batches expire with the retention period.
//!
//! Publication order is the key chain's ([`crate::objects`]): the batch object, then the
//! head in the store (which forgets the published traces), then the index that lists it.
//! A crash before the head moved leaves an unlisted object that the next attempt rebuilds
//! from the same pending traces.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use en_protocol::venue::{pad_traces, SignedTraceBatch, TraceBatch};
use en_protocol::wire::batch::{BatchHeader, GENESIS_HASH};
use en_protocol::wire::index::{Index, IndexEntry, TRACE_INDEX};
use en_protocol::UnixTime;

use crate::batcher::blocking;
use crate::error::Error;
use crate::state::AppState;
use crate::store::TraceHead;

/// Mixed into a simulation's padding seed so trace padding draws apart from key padding.
const SIMULATION_SALT: u64 = 0x7472_6163_6573; // "traces"

/// Closes the trace window ending at `boundary` if it is due; returns the new trace batch's
/// header. The window is the key chain's (the same period and boundaries), with its own head.
pub async fn close_trace_window(
    state: &AppState,
    boundary: UnixTime,
) -> Result<Option<BatchHeader>, Error> {
    let period = state.cfg.config.batch_period_seconds;
    let head = state.store.trace_head().await?;
    let window_start = head.map_or(UnixTime(boundary.0.saturating_sub(period)), |h| {
        h.window_end
    });
    if boundary <= window_start {
        return Ok(None);
    }
    let pending = state.store.pending_traces().await?;
    let (reports, upto) = (pending.reports, pending.upto);
    let sequence = head.map_or(1, |h| h.sequence + 1);
    let prev_hash = head.map_or(GENESIS_HASH, |h| h.hash);
    let (region, min, key, seed) = (
        state.cfg.region.clone(),
        state.cfg.config.min_trace_batch_size,
        state.export_key.clone(),
        state.padding_seed,
    );
    let (bytes, header) = blocking(move || {
        let entries = match seed {
            Some(s) => {
                use rand::SeedableRng;
                let mut rng =
                    rand_chacha::ChaCha20Rng::seed_from_u64(s ^ SIMULATION_SALT ^ sequence);
                pad_traces(pending.entries, min, boundary, &mut rng)
            }
            None => pad_traces(pending.entries, min, boundary, &mut rand::rngs::OsRng),
        };
        let bytes = TraceBatch {
            region,
            sequence,
            window_start,
            window_end: boundary,
            prev_hash,
            entries,
        }
        .sign(&key)?;
        let header = SignedTraceBatch::decode(&bytes)
            .map_err(en_protocol::Error::from)?
            .header()
            .clone();
        Ok((Bytes::from(bytes), header))
    })
    .await?;
    // A replica that lost the batch lock must not write over the next holder's batch.
    if !state.store.batch_lock().await? {
        return Err(Error::Serve(
            "this replica no longer holds the batch lock".into(),
        ));
    }
    let o = &state.objects;
    o.traces()
        .put_batch(sequence, bytes)
        .await
        .map_err(|e| Error::io("write a trace batch to", o.location(), e))?;
    let entry = IndexEntry {
        sequence: header.sequence,
        window_start: header.window_start,
        window_end: header.window_end,
        hash: header.hash,
        size: header.size,
    };
    let published_upto = upto.max(head.map_or(0, |h| h.published_upto));
    state
        .store
        .publish_traces(
            &entry,
            TraceHead {
                sequence: header.sequence,
                hash: header.hash,
                window_end: boundary,
                published_upto,
            },
        )
        .await?;
    state.refresh_signed().await?;
    let m = &state.metrics;
    m.trace_batches_published.fetch_add(1, Relaxed);
    m.trace_entries_published
        .fetch_add(u64::from(header.key_count), Relaxed);
    tracing::info!(
        sequence = header.sequence,
        reports,
        padded_to = header.key_count,
        bytes = header.size,
        "trace batch published"
    );
    Ok(Some(header))
}

/// Signs the trace index of the retained trace batches at `now` and serves it (called by
/// [`AppState::refresh_signed`] with the key index, so both stay equally fresh).
pub async fn refresh_trace_index(state: &AppState, now: UnixTime) -> Result<(), Error> {
    let entries = state.store.trace_index_entries().await?;
    let listed = entries.iter().map(|e| e.sequence).collect();
    let index = Bytes::from(
        Index {
            region: state.cfg.region.clone(),
            generated_at: now,
            entries,
        }
        .sign_as(&TRACE_INDEX, &state.export_key)?,
    );
    let o = &state.objects;
    o.traces()
        .put_index(index, listed)
        .await
        .map_err(|e| Error::io("write", o.location(), e))
}

/// Forgets trace batches whose window ended more than the retention period before `now`:
/// the index stops listing them first, then their files go.
pub async fn apply_trace_retention(state: &AppState, now: UnixTime) -> Result<(), Error> {
    let oldest = now.minus(state.cfg.config.retention_days * 86_400);
    let removed = state.store.prune_trace_batches(oldest).await?;
    if removed.is_empty() {
        return Ok(());
    }
    state.refresh_signed().await?;
    let o = &state.objects;
    let n = removed.len();
    for seq in removed {
        o.traces()
            .remove_batch(seq)
            .await
            .map_err(|e| Error::io("delete a trace batch in", o.location(), e))?;
    }
    tracing::info!(removed = n, "expired trace batches deleted");
    Ok(())
}
