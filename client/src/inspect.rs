//! Verifies a downloaded batch, or a GAEN `export.zip`, and describes it as JSON.

use en_protocol::hex;
use en_protocol::verify::ExportKeys;
use serde_json::json;

use crate::Error;

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
pub fn inspect_batch(bytes: &[u8], trusted: &ExportKeys) -> Result<serde_json::Value, Error> {
    let v = en_protocol::wire::batch::SignedBatch::decode(bytes)
        .map_err(|e| Error::protocol("the batch", e))?
        .verify(trusted)
        .map_err(|e| Error::protocol("the batch", e))?;
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
) -> Result<serde_json::Value, Error> {
    let bad = |m: String| Error::Invalid(m);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))
        .map_err(|_| bad("not a valid zip archive".into()))?;
    let mut read = |name: &str| -> Result<Vec<u8>, Error> {
        let f = z
            .by_name(name)
            .map_err(|_| bad(format!("the archive has no {name}")))?;
        // export.bin is bounded by the decoder; refuse absurd sizes before inflating.
        if f.size() > en_protocol::gaen::MAX_EXPORT_LEN as u64 {
            return Err(bad(format!("{name} is too large")));
        }
        let mut v = Vec::with_capacity(f.size() as usize);
        std::io::Read::read_to_end(
            &mut std::io::Read::take(f, en_protocol::gaen::MAX_EXPORT_LEN as u64 + 1),
            &mut v,
        )
        .map_err(|_| bad(format!("{name} cannot be inflated")))?;
        Ok(v)
    };
    let bin = read("export.bin")?;
    let sig = read("export.sig")?;
    let v = en_protocol::gaen::verify_export(&bin, &sig, public_key_pem).map_err(|e| {
        Error::protocol(
            "export.sig does not verify export.bin with this public key",
            e,
        )
    })?;
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
