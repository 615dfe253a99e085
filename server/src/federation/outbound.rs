//! The federation chains: for each outbound region R, ordinary signed batches with
//! `region = R`, chained on their own, holding the keys of the window that were uploaded here
//! with R among their destinations (spec/federation.md §2).
//!
//! Each chain's window is closed with the server's own batch of the same window, before it:
//! the batcher reads the window's keys once (after the cut moved), closes every federation
//! chain from them, then publishes its own batch. A chain whose last batch already reaches
//! the boundary is left alone, so a close that failed half way is simply repeated; once the
//! own batch is published the window's keys are no longer pending, so the federation batches
//! of a window are made exactly once.

use std::collections::BTreeSet;

use bytes::Bytes;
use en_protocol::validate::padding;
use en_protocol::wire::batch::{Batch, SignedBatch, GENESIS_HASH};
use en_protocol::wire::index::{Index, IndexEntry};
use en_protocol::wire::key::DiagnosisKey;
use en_protocol::wire::Region;
use en_protocol::UnixTime;

use crate::batcher::blocking;
use crate::error::Error;
use crate::state::AppState;

/// Opens the objects of every configured outbound region's chain (at start).
pub async fn open_chains(state: &AppState) -> Result<(), Error> {
    for r in &state.cfg.federation.outbound {
        state
            .objects
            .add_federation_chain(r)
            .await
            .map_err(|e| Error::io("read", state.objects.location(), e))?;
    }
    Ok(())
}

/// Closes the window `[own_window_start, boundary)` of every outbound region's chain from
/// `released` (the window's keys with their destinations).
pub async fn close_windows(
    state: &AppState,
    own_window_start: UnixTime,
    boundary: UnixTime,
    released: &[(DiagnosisKey, Vec<Region>)],
) -> Result<(), Error> {
    for region in &state.cfg.federation.outbound {
        let keys: Vec<DiagnosisKey> = released
            .iter()
            .filter(|(_, d)| d.contains(region))
            .map(|(k, _)| k.clone())
            .collect();
        close_one(state, region, own_window_start, boundary, keys).await?;
    }
    Ok(())
}

async fn close_one(
    state: &AppState,
    region: &Region,
    own_window_start: UnixTime,
    boundary: UnixTime,
    real: Vec<DiagnosisKey>,
) -> Result<(), Error> {
    let last = state.store.federation_entries(region).await?.pop();
    if last.as_ref().is_some_and(|e| e.window_end >= boundary) {
        return Ok(());
    }
    let chain = state
        .objects
        .add_federation_chain(region)
        .await
        .map_err(|e| Error::io("read", state.objects.location(), e))?;
    let sequence = last.as_ref().map_or(1, |e| e.sequence + 1);
    let prev_hash = last.as_ref().map_or(GENESIS_HASH, |e| e.hash);
    let window_start = last.as_ref().map_or(own_window_start, |e| e.window_end);
    let n_real = real.len();
    let (r, min, key, seed) = (
        region.clone(),
        state.cfg.config.min_batch_size,
        state.export_key.clone(),
        state.padding_seed,
    );
    let (bytes, header) = blocking(move || {
        let mut keys = real;
        let day = (boundary.0.saturating_sub(1) / 86_400) as u32;
        let pad = match seed {
            Some(s) => {
                use rand::SeedableRng;
                let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(s ^ sequence ^ 0x6665_6400);
                padding(keys.len(), min, day, &mut rng)
            }
            None => padding(keys.len(), min, day, &mut rand::rngs::OsRng),
        };
        keys.extend(pad);
        let bytes = Batch {
            region: r,
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
    chain
        .put_batch(sequence, bytes)
        .await
        .map_err(|e| Error::io("write a federation batch to", state.objects.location(), e))?;
    let entry = IndexEntry {
        sequence,
        window_start,
        window_end: boundary,
        hash: header.hash,
        size: header.size,
    };
    state.store.federation_publish(region, &entry).await?;
    sign_index(state, region, state.clock.now()).await?;
    tracing::info!(
        %region,
        sequence,
        keys = n_real,
        padded_to = header.key_count,
        "federation batch published"
    );
    Ok(())
}

/// Signs and publishes the index of `region`'s federation chain.
async fn sign_index(state: &AppState, region: &Region, now: UnixTime) -> Result<(), Error> {
    let chain = state
        .objects
        .add_federation_chain(region)
        .await
        .map_err(|e| Error::io("read", state.objects.location(), e))?;
    let entries = state.store.federation_entries(region).await?;
    let listed: BTreeSet<u64> = entries.iter().map(|e| e.sequence).collect();
    let index = Bytes::from(
        Index {
            region: region.clone(),
            generated_at: now,
            entries,
        }
        .sign(&state.export_key)?,
    );
    chain
        .put_index(index, listed)
        .await
        .map_err(|e| Error::io("write", state.objects.location(), e))
}

/// Signs every outbound region's index again (with the server's own index).
pub async fn refresh_indexes(state: &AppState, now: UnixTime) -> Result<(), Error> {
    for region in &state.cfg.federation.outbound {
        sign_index(state, region, now).await?;
    }
    Ok(())
}

/// Forgets federation batches whose window ended before `oldest`: the index stops listing
/// them, then their objects go.
pub async fn apply_retention(state: &AppState, oldest: UnixTime) -> Result<(), Error> {
    let removed = state.store.federation_prune(oldest).await?;
    if removed.is_empty() {
        return Ok(());
    }
    refresh_indexes(state, state.clock.now()).await?;
    for (region, seq) in removed {
        if let Some(chain) = state.objects.federation_chain(&region) {
            chain
                .remove_batch(seq)
                .await
                .map_err(|e| Error::io("delete a batch in", state.objects.location(), e))?;
        }
    }
    Ok(())
}
