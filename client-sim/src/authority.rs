//! Health-authority side: key generation, case reports, verification certificates.

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use en_protocol::keys::{SigningKey, TemporaryExposureKey};
use en_protocol::wire::case_report::CaseReport;
use en_protocol::wire::certificate::Certificate;
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::{Audience, AuthorityId, Region, ReportType};
use en_protocol::{IntervalNumber, UnixTime};
use en_server::api::JsonKey;
use rand_core::CryptoRngCore;

/// Reads a KEYS.json file: a JSON array of `{"key": base64, "rolling_start", "rolling_period",
/// "transmission_risk"}` (the same shape as `/v1/publish`'s `keys`).
pub fn read_keys(path: &Path) -> anyhow::Result<Vec<UploadKey>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let keys: Vec<JsonKey> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON array of keys", path.display()))?;
    keys.iter().map(from_json).collect()
}

/// Converts one JSON key, checking its ranges.
pub fn from_json(k: &JsonKey) -> anyhow::Result<UploadKey> {
    let raw: [u8; 16] = base64::engine::general_purpose::STANDARD
        .decode(&k.key)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("key {:?} is not 16 bytes of base64", k.key))?;
    let u = UploadKey {
        key: TemporaryExposureKey::from_bytes(raw),
        rolling_start: IntervalNumber(k.rolling_start),
        rolling_period: k.rolling_period,
        transmission_risk: k.transmission_risk,
    };
    u.check_ranges()?;
    Ok(u)
}

/// The JSON form of a key.
pub fn to_json(k: &UploadKey) -> JsonKey {
    JsonKey {
        key: base64::engine::general_purpose::STANDARD.encode(k.key.as_bytes()),
        rolling_start: k.rolling_start.0,
        rolling_period: k.rolling_period,
        transmission_risk: k.transmission_risk,
    }
}

/// Reads an authority key file (64 hex characters).
pub fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    en_server::config::read_signing_key(path)
}

/// Builds and signs a case report.
#[allow(clippy::too_many_arguments)]
pub fn case_report(
    authority: &str,
    region: &str,
    key: &SigningKey,
    keys: Vec<UploadKey>,
    report_type: ReportType,
    onset: Option<IntervalNumber>,
    now: UnixTime,
    rng: &mut impl CryptoRngCore,
) -> anyhow::Result<Vec<u8>> {
    let mut nonce = [0u8; 16];
    rng.fill_bytes(&mut nonce);
    let r = CaseReport {
        authority: AuthorityId::new(authority)
            .map_err(|_| anyhow::anyhow!("--authority must be 1-64 of a-z 0-9 . _ -"))?,
        region: Region::new(region)
            .map_err(|_| anyhow::anyhow!("--region must be 1-16 of A-Z 0-9 -"))?,
        report_type,
        symptom_onset: onset,
        issued_at: now,
        nonce,
        keys,
    };
    Ok(r.sign(key)?)
}

/// Issues a verification certificate for a phone's tekmac.
#[allow(clippy::too_many_arguments)]
pub fn certify(
    authority: &str,
    key: &SigningKey,
    tekmac: [u8; 32],
    audience: &str,
    report_type: ReportType,
    onset: Option<IntervalNumber>,
    now: UnixTime,
    valid_for: u64,
    rng: &mut impl CryptoRngCore,
) -> anyhow::Result<Vec<u8>> {
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    let c = Certificate {
        authority: AuthorityId::new(authority)
            .map_err(|_| anyhow::anyhow!("--authority must be 1-64 of a-z 0-9 . _ -"))?,
        report_type,
        symptom_onset: onset,
        issued_at: now,
        expires_at: now.plus(valid_for.max(1)),
        audience: Audience::new(audience)
            .map_err(|_| anyhow::anyhow!("--audience must be 1-128 printable ASCII characters"))?,
        id,
        tekmac,
    };
    Ok(c.sign(key)?)
}

/// A phone's keys for the `days` days before `now` (day-aligned, 144 intervals each).
pub fn phone_keys(days: u32, now: UnixTime, rng: &mut impl CryptoRngCore) -> Vec<UploadKey> {
    let today = now.interval().day_start().0;
    (1..=days)
        .map(|d| UploadKey {
            key: TemporaryExposureKey::generate(rng),
            rolling_start: IntervalNumber(today - 144 * d),
            rolling_period: 144,
            transmission_risk: 0,
        })
        .collect()
}
