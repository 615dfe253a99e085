//! Batch building (the server's `close_window` for a day of keys) and the wire size of a
//! daily batch against GAEN's export format.

use std::time::Instant;

use en_protocol::keys::TemporaryExposureKey;
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata};
use en_protocol::{IntervalNumber, UnixTime};
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::fixtures::{bench_server_on, daily_case, fill_pending};
use super::{bench_now, runtime, TODAY};

/// The keys of `n / 14` cases as a batch holds them (14 daily keys each), with the metadata
/// the accepted uploads of [`fill_pending`] get.
fn daily_keys(n: usize, today: u32, rng: &mut rand_chacha::ChaCha20Rng) -> Vec<DiagnosisKey> {
    (0..n)
        .map(|i| {
            let (report_type, transmission_risk, onset_age) = daily_case(i / 14);
            let age = (i % 14) as u32 + 1;
            DiagnosisKey {
                key: TemporaryExposureKey::from_bytes(rng.gen()),
                meta: KeyMetadata {
                    rolling_start: IntervalNumber((today - age) * 144),
                    rolling_period: 144,
                    transmission_risk,
                    report_type,
                    days_since_onset: Some((onset_age as i32 - age as i32) as i8),
                },
            }
        })
        .collect()
}

/// Batch building: read the pending keys, pad, sort, sign and publish durably.
#[derive(Debug, Clone, Serialize)]
pub struct BatchResult {
    /// Keys in the batch.
    pub keys: usize,
    /// Seconds for the server's close_window (read pending, pad, sort, encode, sign, write
    /// the batch object and the index with fsync, move the chain head with fsync).
    pub seconds: f64,
    /// Keys per second.
    pub keys_per_second: f64,
    /// Seconds for the protocol part alone (sort, encode, sign).
    pub encode_sign_seconds: f64,
    /// Batch size in bytes.
    pub bytes: u64,
}

/// Measures batch building for about `n` keys (a whole number of 14-key cases).
pub fn batch_building(n: usize) -> anyhow::Result<BatchResult> {
    batch_building_on(n, en_server::config::StoreSetting::default())
}

/// Measures batch building for about `n` keys pending in `store`.
pub(super) fn batch_building_on(
    n: usize,
    store: en_server::config::StoreSetting,
) -> anyhow::Result<BatchResult> {
    let cases = n.div_ceil(14).max(1);
    let n = cases * 14;
    let (today, now) = (TODAY, bench_now());
    runtime()?.block_on(async {
        let s = bench_server_on(now, store).await?;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let keys = daily_keys(n, today, &mut rng);
        let t = Instant::now();
        let protocol_batch = en_protocol::wire::batch::Batch {
            region: en_protocol::wire::Region::new("VN").expect("valid region"),
            sequence: 1,
            window_start: UnixTime(now.0 - 86_400),
            window_end: now,
            prev_hash: [0; 32],
            keys,
        }
        .sign(&s.server.state.export_key)?;
        let encode_sign_seconds = t.elapsed().as_secs_f64();
        drop(protocol_batch);
        fill_pending(&s, cases, now).await?;
        let t = Instant::now();
        let h = en_server::batcher::close_window(
            &s.server.state,
            UnixTime(now.0 - now.0 % 86_400 + 86_400),
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("no batch"))?;
        let seconds = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            h.key_count as usize == n,
            "batch has {} keys, expected {n}",
            h.key_count
        );
        s.server.stop().await?;
        Ok(BatchResult {
            keys: n,
            seconds,
            keys_per_second: n as f64 / seconds,
            encode_sign_seconds,
            bytes: h.size,
        })
    })
}

/// Wire size of a daily batch against GAEN's export format for the same keys.
#[derive(Debug, Clone, Serialize)]
pub struct WireResult {
    /// Keys.
    pub keys: usize,
    /// Our batch, bytes.
    pub batch_bytes: usize,
    /// Bytes per key.
    pub batch_bytes_per_key: f64,
    /// GAEN export.bin + export.sig (one signature), bytes.
    pub gaen_bytes: usize,
    /// Bytes per key.
    pub gaen_bytes_per_key: f64,
}

/// Compares sizes for `n` keys.
pub fn wire_size(n: usize) -> anyhow::Result<WireResult> {
    let today = TODAY;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(6);
    let keys = daily_keys(n, today, &mut rng);
    let sk = en_protocol::keys::SigningKey::from_seed(&[1; 32]);
    let ours = en_protocol::wire::batch::Batch {
        region: en_protocol::wire::Region::new("VN").unwrap(),
        sequence: 9,
        window_start: UnixTime(u64::from(today) * 86_400),
        window_end: UnixTime(u64::from(today + 1) * 86_400),
        prev_hash: [7; 32],
        keys: keys.clone(),
    }
    .sign(&sk)?;
    let gaen = en_protocol::gaen::Export {
        start_timestamp: Some(u64::from(today) * 86_400),
        end_timestamp: Some(u64::from(today + 1) * 86_400),
        region: Some("VN".into()),
        batch_num: Some(1),
        batch_size: Some(1),
        signature_infos: vec![en_protocol::gaen::SignatureInfo {
            verification_key_version: Some("v1".into()),
            verification_key_id: Some("452".into()),
            signature_algorithm: Some("1.2.840.10045.4.3.2".into()),
        }],
        keys: keys
            .iter()
            .map(|k| en_protocol::gaen::GaenKey {
                key_data: k.key.as_bytes().to_vec(),
                transmission_risk_level: Some(i32::from(k.meta.transmission_risk)),
                rolling_start_interval_number: Some(k.meta.rolling_start.0 as i32),
                rolling_period: (k.meta.rolling_period != 144)
                    .then_some(i32::from(k.meta.rolling_period)),
                report_type: Some(i32::from(k.meta.report_type.code())),
                days_since_onset_of_symptoms: k.meta.days_since_onset.map(i32::from),
            })
            .collect(),
        revised_keys: vec![],
    }
    .encode();
    // export.sig with one DER ECDSA signature (≈72 bytes) and its signature info: ~120 bytes.
    let gaen_total = gaen.len() + 120;
    Ok(WireResult {
        keys: n,
        batch_bytes: ours.len(),
        batch_bytes_per_key: ours.len() as f64 / n as f64,
        gaen_bytes: gaen_total,
        gaen_bytes_per_key: gaen_total as f64 / n as f64,
    })
}
