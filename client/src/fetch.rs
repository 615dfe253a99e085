//! Phone-side download: index → batches, verifying every signature and the hash chain.

use std::path::Path;

use en_protocol::verify::ExportKeys;
use en_protocol::wire::batch::{BatchHeader, SignedBatch, VerifiedBatch, GENESIS_HASH};
use en_protocol::wire::index::{SignedIndex, VerifiedIndex};

use crate::transport::Client;
use crate::Error;

/// What one sync downloaded.
pub struct Synced {
    /// The verified index.
    pub index: VerifiedIndex,
    /// New batches, verified and chained, oldest first, with their bytes.
    pub batches: Vec<(VerifiedBatch, bytes::Bytes)>,
}

/// Verifies `bytes` as the batch the index announced and as the successor of `last`.
pub fn accept_batch(
    bytes: &[u8],
    expected_hash: Option<&[u8; 32]>,
    trusted: &ExportKeys,
    last: Option<&BatchHeader>,
) -> Result<VerifiedBatch, Error> {
    let signed = SignedBatch::decode(bytes).map_err(|e| Error::protocol("the batch", e))?;
    if let Some(h) = expected_hash {
        if &signed.header().hash != h {
            return Err(Error::Invalid(format!(
                "batch {} does not have the hash the index announced",
                signed.header().sequence
            )));
        }
    }
    let seq = signed.header().sequence;
    let v = signed
        .verify(trusted)
        .map_err(|e| Error::protocol(format!("batch {seq}"), e))?;
    match last {
        Some(prev) if prev.sequence.checked_add(1) == Some(v.header().sequence) => v
            .check_follows(prev)
            .map_err(|e| Error::protocol(format!("batch {seq}"), e))?,
        Some(prev) if v.header().sequence <= prev.sequence => {
            return Err(Error::Invalid(format!(
                "batch {seq} is not newer than the last verified batch {}",
                prev.sequence
            )))
        }
        Some(prev) => {
            return Err(Error::Invalid(format!(
                "batch {seq} does not follow batch {}: the chain has a gap",
                prev.sequence
            )))
        }
        None if v.header().sequence == 1 && v.header().prev_hash != GENESIS_HASH => {
            return Err(Error::Invalid(
                "batch 1 must start the chain (previous hash all zeros)".into(),
            ))
        }
        None => {}
    }
    Ok(v)
}

/// Downloads the index and every batch newer than `last`, verifying signatures and the chain.
///
/// If the phone was offline longer than the retention period, its last batch has expired from
/// the server; it then restarts from the oldest batch still listed.
pub async fn sync(
    client: &Client,
    trusted: &ExportKeys,
    mut last: Option<BatchHeader>,
) -> Result<Synced, Error> {
    let raw = client.get("/v1/index").await?;
    let index = SignedIndex::decode(&raw)
        .map_err(|e| Error::protocol("the index", e))?
        .verify(trusted)
        .map_err(|e| Error::protocol("the index", e))?;
    let entries = &index.index().entries;
    if let (Some(prev), Some(first)) = (&last, entries.first()) {
        if prev.sequence.saturating_add(1) < first.sequence {
            last = None; // the batches in between expired
        }
    }
    let mut batches = Vec::new();
    let from = last.as_ref().map_or(0, |l| l.sequence);
    for e in entries.iter().filter(|e| e.sequence > from) {
        let bytes = client.get(&format!("/v1/batches/{}", e.sequence)).await?;
        let v = accept_batch(&bytes, Some(&e.hash), trusted, last.as_ref())?;
        last = Some(v.header().clone());
        batches.push((v, bytes));
    }
    Ok(Synced { index, batches })
}

fn batch_file(dir: &Path, seq: u64) -> std::path::PathBuf {
    dir.join(format!("batch-{seq:08}.bin"))
}

/// `en-sim fetch`: sync into `dir`, continuing from the newest batch already there.
pub async fn fetch_to_dir(
    client: &Client,
    trusted: &ExportKeys,
    dir: &Path,
) -> Result<String, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let mut newest: Option<(u64, std::path::PathBuf)> = None;
    for e in std::fs::read_dir(dir).map_err(|e| Error::io("read", dir, e))? {
        let p = e.map_err(|e| Error::io("read", dir, e))?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(seq) = name
            .strip_prefix("batch-")
            .and_then(|s| s.strip_suffix(".bin"))
            .and_then(|s| s.parse::<u64>().ok())
        {
            if newest.as_ref().is_none_or(|(n, _)| seq > *n) {
                newest = Some((seq, p));
            }
        }
    }
    let last = match newest {
        Some((_, p)) => {
            let b = std::fs::read(&p).map_err(|e| Error::io("read", &p, e))?;
            Some(
                accept_batch(&b, None, trusted, None)
                    .map_err(|e| {
                        Error::Invalid(format!("{} (already downloaded): {e}", p.display()))
                    })?
                    .header()
                    .clone(),
            )
        }
        None => None,
    };
    let synced = sync(client, trusted, last).await?;
    let mut keys = 0;
    for (b, bytes) in &synced.batches {
        let file = batch_file(dir, b.header().sequence);
        std::fs::write(&file, bytes).map_err(|e| Error::io("write", &file, e))?;
        keys += b.keys().len();
    }
    Ok(format!(
        "{} new batch(es), {} keys (padding included), verified and chained; index lists {} batch(es)",
        synced.batches.len(),
        keys,
        synced.index.index().entries.len()
    ))
}
