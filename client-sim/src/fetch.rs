//! Phone-side download: index → batches, verifying every signature and the hash chain.

use std::path::Path;

use anyhow::Context;
use en_protocol::hex;
use en_protocol::verify::ExportKeys;
use en_protocol::wire::batch::{BatchHeader, SignedBatch, VerifiedBatch, GENESIS_HASH};
use en_protocol::wire::index::{SignedIndex, VerifiedIndex};
use serde_json::json;

use crate::transport::Client;

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
) -> anyhow::Result<VerifiedBatch> {
    let signed = SignedBatch::decode(bytes).context("the batch is malformed")?;
    if let Some(h) = expected_hash {
        if &signed.header().hash != h {
            anyhow::bail!(
                "batch {} does not have the hash the index announced",
                signed.header().sequence
            );
        }
    }
    let seq = signed.header().sequence;
    let v = signed
        .verify(trusted)
        .with_context(|| format!("batch {seq} failed verification"))?;
    match last {
        Some(prev) if prev.sequence + 1 == v.header().sequence => v
            .check_follows(prev)
            .with_context(|| format!("batch {seq} breaks the hash chain"))?,
        Some(prev) if v.header().sequence <= prev.sequence => anyhow::bail!(
            "batch {seq} is not newer than the last verified batch {}",
            prev.sequence
        ),
        Some(prev) => anyhow::bail!(
            "batch {seq} does not follow batch {}: the chain has a gap",
            prev.sequence
        ),
        None if v.header().sequence == 1 && v.header().prev_hash != GENESIS_HASH => {
            anyhow::bail!("batch 1 must start the chain (previous hash all zeros)")
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
) -> anyhow::Result<Synced> {
    let raw = client.get("/v1/index").await?;
    let index = SignedIndex::decode(&raw)
        .context("the index is malformed")?
        .verify(trusted)
        .context("the index failed verification")?;
    let entries = &index.index().entries;
    if let (Some(prev), Some(first)) = (&last, entries.first()) {
        if prev.sequence + 1 < first.sequence {
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
) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut newest: Option<(u64, std::path::PathBuf)> = None;
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
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
            let b = std::fs::read(&p)?;
            Some(
                accept_batch(&b, None, trusted, None)
                    .with_context(|| {
                        format!("{} (already downloaded) does not verify", p.display())
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
        std::fs::write(batch_file(dir, b.header().sequence), bytes)?;
        keys += b.keys().len();
    }
    Ok(format!(
        "{} new batch(es), {} keys (padding included), verified and chained; index lists {} batch(es)",
        synced.batches.len(),
        keys,
        synced.index.index().entries.len()
    ))
}

/// Keys as JSON, in the form `inspect` prints them.
fn keys_json(keys: &[en_protocol::wire::key::DiagnosisKey]) -> Vec<serde_json::Value> {
    keys.iter()
        .map(|k| {
            json!({
                "key": hex::encode(k.key.as_bytes()),
                "rolling_start": k.meta.rolling_start.0,
                "rolling_period": k.meta.rolling_period,
                "transmission_risk": k.meta.transmission_risk,
                "report_type": k.meta.report_type.name(),
                "days_since_onset": k.meta.days_since_onset,
            })
        })
        .collect()
}

/// `en-sim inspect`: verifies one batch file and describes it as JSON.
pub fn inspect_batch(bytes: &[u8], trusted: &ExportKeys) -> anyhow::Result<serde_json::Value> {
    let v = accept_batch(bytes, None, trusted, None)?;
    let h = v.header();
    Ok(json!({
        "format": "en-batch-v1",
        "region": h.region.as_str(),
        "sequence": h.sequence,
        "window_start": h.window_start.0,
        "window_end": h.window_end.0,
        "prev_hash": hex::encode(&h.prev_hash),
        "hash": hex::encode(&h.hash),
        "signer_key_id": h.key_id.to_string(),
        "size_bytes": h.size,
        "key_count": h.key_count,
        "keys": keys_json(v.keys()),
    }))
}

/// `en-sim inspect` for a GAEN `export.zip`: unpacks `export.bin` and `export.sig`, checks the
/// ECDSA P-256 signature with the PEM public key, and describes the keys as JSON.
pub fn inspect_gaen_zip(
    zip_bytes: &[u8],
    public_key_pem: &str,
) -> anyhow::Result<serde_json::Value> {
    let mut z =
        zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).context("not a valid zip archive")?;
    let mut read = |name: &str| -> anyhow::Result<Vec<u8>> {
        let f = z
            .by_name(name)
            .with_context(|| format!("the archive has no {name}"))?;
        // export.bin is bounded by the decoder; refuse absurd sizes before inflating.
        anyhow::ensure!(
            f.size() <= en_protocol::gaen::MAX_EXPORT_LEN as u64,
            "{name} is too large"
        );
        let mut v = Vec::with_capacity(f.size() as usize);
        std::io::Read::read_to_end(
            &mut std::io::Read::take(f, en_protocol::gaen::MAX_EXPORT_LEN as u64 + 1),
            &mut v,
        )?;
        Ok(v)
    };
    let bin = read("export.bin")?;
    let sig = read("export.sig")?;
    let v = en_protocol::gaen::verify_export(&bin, &sig, public_key_pem)
        .context("export.sig does not verify export.bin with this public key")?;
    let e = &v.export;
    let (keys, skipped) = e.diagnosis_keys();
    Ok(json!({
        "format": "gaen-export-v1",
        "region": e.region,
        "start_timestamp": e.start_timestamp,
        "end_timestamp": e.end_timestamp,
        "batch_num": e.batch_num,
        "batch_size": e.batch_size,
        "signer_key_id": v.key_id,
        "signature_algorithm": e.signature_infos.first().and_then(|s| s.signature_algorithm.clone()),
        "key_count": e.keys.len(),
        "revised_key_count": e.revised_keys.len(),
        "keys_usable_by_matcher": keys.len(),
        "keys_skipped": skipped,
        "keys": keys_json(&keys),
    }))
}
