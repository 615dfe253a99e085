//! The batch worker: closes a batch at every period boundary (pads, signs, chains, publishes),
//! and a venue trace batch beside it ([`crate::traces`]), re-signs the indexes and the risk
//! configuration so they stay fresh, and applies retention.
//!
//! Publication order makes what phones see durable ([`crate::objects`]): the batch object,
//! then the chain head in the store, then the index that lists the batch. An attempt that dies
//! in between leaves a batch object that no index lists; the next attempt (in this process
//! after a restart, or in the replica that takes the batch lock) adopts it as it is, so a
//! batch object is written once and a web server or CDN in front never sees two versions.
//!
//! With several replicas, only the one holding the batch lock
//! ([`crate::store::Store::batch_lock`]) runs this worker's publishing side; the others serve
//! what it publishes.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use en_protocol::validate::padding;
use en_protocol::wire::batch::{Batch, BatchHeader, SignedBatch, GENESIS_HASH};
use en_protocol::wire::index::IndexEntry;
use en_protocol::UnixTime;

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

/// Publishes `header`'s batch, whose object is written: moves the chain head (from the head
/// it was built on only), then signs and writes the index that lists it.
async fn publish(state: &AppState, header: &BatchHeader) -> Result<(), Error> {
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
                window_end: header.window_end,
                cut: header.window_end,
            },
        )
        .await?;
    publish_index(state).await
}

/// The batch object of `sequence` that an interrupted attempt wrote, if it is exactly the
/// next batch: it verifies, chains onto `head`, starts at `window_start`, and holds every key
/// released by its window end. (The cut moved to that window end, durably, before the attempt
/// read the keys, so no key released by then can have arrived since.)
async fn written_before(
    state: &AppState,
    sequence: u64,
    prev_hash: [u8; 32],
    window_start: UnixTime,
) -> Result<Option<BatchHeader>, Error> {
    let Some(bytes) = state
        .objects
        .stored_batch(sequence)
        .await
        .map_err(|e| Error::io("read a batch from", state.objects.location(), e))?
    else {
        return Ok(None);
    };
    let trusted = en_protocol::verify::ExportKeys::new(state.export_public_keys.clone());
    let batch = match SignedBatch::decode(&bytes)
        .map_err(en_protocol::Error::from)
        .and_then(|b| b.verify(&trusted))
    {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(sequence, error = %e, "an unlisted batch object does not verify; building the batch again");
            return Ok(None);
        }
    };
    let h = batch.header().clone();
    if h.sequence != sequence || h.prev_hash != prev_hash || h.window_start != window_start {
        tracing::warn!(
            sequence,
            "an unlisted batch object does not follow the chain head; building the batch again"
        );
        return Ok(None);
    }
    let inside: std::collections::HashSet<[u8; 16]> =
        batch.keys().iter().map(|k| *k.key.as_bytes()).collect();
    let released = state.store.released_before(h.window_end).await?;
    if !released.iter().all(|k| inside.contains(k.key.as_bytes())) {
        tracing::warn!(
            sequence,
            "an unlisted batch object lacks keys of its window; building the batch again"
        );
        return Ok(None);
    }
    Ok(Some(h))
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
/// First moves the publication cut to `boundary`, durably: once the store has done so, every
/// upload released before the boundary is stored, and every later one is released after it
/// (in the next window). Then reads the window's keys, pads, signs and publishes. If
/// publishing fails, the next attempt adopts the batch object already written (see
/// [`written_before`]), or reads the same keys again.
async fn close_key_window(
    state: &AppState,
    boundary: UnixTime,
) -> Result<Option<BatchHeader>, Error> {
    let period = state.cfg.config.batch_period_seconds;
    let mut head = state.store.head().await?;
    let mut window_start = head.map_or(UnixTime(boundary.0.saturating_sub(period)), |h| {
        h.window_end
    });
    if boundary <= window_start {
        return Ok(None);
    }
    let sequence = head.map_or(1, |h| h.sequence + 1);
    let prev_hash = head.map_or(GENESIS_HASH, |h| h.hash);
    if let Some(h) = written_before(state, sequence, prev_hash, window_start).await? {
        publish(state, &h).await?;
        tracing::info!(
            sequence,
            "published a batch an interrupted attempt had written"
        );
        if h.window_end >= boundary {
            return Ok(Some(h));
        }
        head = state.store.head().await?;
        window_start = h.window_end;
    }
    state.store.advance_cut(boundary).await?;
    let released = one_per_key(state.store.released_destined(boundary).await?);
    // The federation chains' batches of this window first: once the own batch is published
    // these keys are no longer pending (spec/federation.md §2).
    crate::federation::outbound::close_windows(state, window_start, boundary, &released).await?;
    let real: Vec<_> = released.into_iter().map(|(k, _)| k).collect();
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
    // A replica that lost the batch lock must not write over the next holder's batch.
    if !state.store.batch_lock().await? {
        return Err(Error::Serve(
            "this replica no longer holds the batch lock".into(),
        ));
    }
    state
        .objects
        .put_batch(sequence, bytes)
        .await
        .map_err(|e| Error::io("write a batch to", state.objects.location(), e))?;
    publish(state, &header).await?;
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
    crate::federation::outbound::apply_retention(state, oldest).await?;
    let removed = state.store.prune(now, oldest).await?;
    if removed.is_empty() {
        return Ok(());
    }
    // The index stops listing them first, then their objects go.
    publish_index(state).await?;
    let n = removed.len();
    for seq in removed {
        state
            .objects
            .remove_batch(seq)
            .await
            .map_err(|e| Error::io("delete a batch in", state.objects.location(), e))?;
    }
    tracing::info!(removed = n, "expired batches deleted");
    Ok(())
}

fn last_boundary(now: UnixTime, period: u64) -> UnixTime {
    UnixTime(now.0 - now.0 % period)
}

/// How often a replica that does not hold the batch lock tries to take it and reloads what
/// the holder published.
const FOLLOWER_POLL: Duration = Duration::from_secs(1);

/// Runs until `shutdown` fires: at each boundary, close the window and apply retention; in
/// between, re-sign the index and risk configuration every `index_refresh_seconds`.
/// On start it catches up on a window missed while the server was down (one batch covering
/// the whole gap, so windows stay contiguous).
///
/// With several replicas, only the holder of the batch lock does this; the others try to
/// take the lock every second and meanwhile serve what the holder published. A
/// replica that takes the lock over closes the window that is due and re-signs the index.
pub async fn run(state: Arc<AppState>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let period = state.cfg.config.batch_period_seconds;
    let refresh = state.cfg.config.index_refresh_seconds;
    // On the very first start there is no chain yet: the first window is the one that ends
    // at the first boundary after the start (not one that ended before the server existed).
    let started = last_boundary(state.clock.now(), period);
    let mut signed_at = state.clock.now();
    let mut leading = true;
    loop {
        let was_leading = leading;
        leading = match state.store.batch_lock().await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check the batch lock; not publishing");
                false
            }
        };
        state
            .metrics
            .batch_lock_held
            .store(u64::from(leading), Relaxed);
        if leading && !was_leading {
            signed_at = UnixTime(0); // taken over: sign a fresh index now
        }
        if leading {
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
                    Err(e) => {
                        tracing::error!(error = %e, "re-signing the index failed; will retry")
                    }
                }
            }
        } else if let Err(e) = state.reload_published().await {
            tracing::warn!(error = %e, "reading the published index failed; will retry");
        }
        let now = state.clock.now();
        let next = (last_boundary(now, period).0 + period).min(signed_at.0 + refresh);
        let mut wait = Duration::from_millis(next.saturating_sub(now.0) * 1000 + 50);
        if !leading {
            wait = wait.min(FOLLOWER_POLL);
        }
        if state.clock.is_virtual() {
            wait = wait.min(Duration::from_millis(100));
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Keeps one entry per key, the last (stores list keys in the order they were written, so a
/// later revision's metadata wins): a batch never carries a key twice. Stores keep one
/// entry per key already; this holds whatever a store (or a future importer) hands over.
fn one_per_key<T>(
    released: Vec<(en_protocol::wire::key::DiagnosisKey, T)>,
) -> Vec<(en_protocol::wire::key::DiagnosisKey, T)> {
    let mut seen = std::collections::HashSet::with_capacity(released.len());
    let mut out: Vec<_> = released
        .into_iter()
        .rev()
        .filter(|(k, _)| seen.insert(*k.key.as_bytes()))
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod one_per_key_tests {
    use en_protocol::keys::TemporaryExposureKey;
    use en_protocol::wire::key::{DiagnosisKey, KeyMetadata};
    use en_protocol::wire::ReportType;
    use en_protocol::IntervalNumber;

    fn key(b: u8, t: ReportType) -> DiagnosisKey {
        DiagnosisKey {
            key: TemporaryExposureKey::from_bytes([b; 16]),
            meta: KeyMetadata {
                rolling_start: IntervalNumber(2_937_600),
                rolling_period: 144,
                transmission_risk: 0,
                report_type: t,
                days_since_onset: None,
            },
        }
    }

    #[test]
    fn a_key_listed_twice_keeps_its_later_metadata() {
        let got = super::one_per_key(vec![
            (key(1, ReportType::SelfReport), 0),
            (key(2, ReportType::SelfReport), 1),
            (key(1, ReportType::ConfirmedTest), 2),
        ]);
        let got: Vec<([u8; 16], ReportType, i32)> = got
            .into_iter()
            .map(|(k, i)| (*k.key.as_bytes(), k.meta.report_type, i))
            .collect();
        assert_eq!(
            got,
            vec![
                ([2; 16], ReportType::SelfReport, 1),
                ([1; 16], ReportType::ConfirmedTest, 2),
            ]
        );
    }
}
