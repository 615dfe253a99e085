//! A phone's side of uploads: its keys, the tekmac it shows its health authority, and the
//! certified upload (or a fake one).

use base64::Engine;
use en_api::json::{JsonKey, PublishUpload, UploadAccepted, PUBLISH_BODY_BYTES};
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::wire::key::UploadKey;
use en_protocol::{IntervalNumber, UnixTime};
use rand_core::CryptoRngCore;

use crate::transport::Client;
use crate::Error;

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

/// Uploads keys with the authority's certificate (base64) and the phone's HMAC key (base64).
/// Returns the number of keys stored.
pub async fn upload(
    client: &Client,
    keys: &[UploadKey],
    certificate_b64: &str,
    hmac_key_b64: &str,
) -> Result<usize, Error> {
    upload_visiting(client, keys, certificate_b64, hmac_key_b64, &[]).await
}

/// [`upload`], naming the regions the person visited in the last 14 days (from the phone's
/// own record, e.g. [`en_protocol::phone::Phone::visited_regions`]): the server shares the
/// keys with those of them it federates with, if the certifying authority may share
/// (spec/federation.md §1).
pub async fn upload_visiting(
    client: &Client,
    keys: &[UploadKey],
    certificate_b64: &str,
    hmac_key_b64: &str,
    visited: &[en_protocol::wire::Region],
) -> Result<usize, Error> {
    let body = PublishUpload {
        certificate: certificate_b64.trim().to_string(),
        hmac_key: hmac_key_b64.trim().to_string(),
        keys: keys.iter().map(JsonKey::from_upload_key).collect(),
        fake: false,
        visited_regions: visited.iter().map(|r| r.as_str().to_string()).collect(),
        padding: None,
    };
    let r: UploadAccepted = client.post_raw("/v1/publish", padded(&body)?).await?;
    Ok(r.accepted_keys)
}

/// The body padded to the fixed size every phone upload has ([`PUBLISH_BODY_BYTES`]).
fn padded(body: &PublishUpload) -> Result<Vec<u8>, Error> {
    body.to_padded_json(PUBLISH_BODY_BYTES).ok_or_else(|| {
        Error::Invalid(format!(
            "the upload does not fit in {PUBLISH_BODY_BYTES} bytes (too many keys)"
        ))
    })
}

/// Sends a fake (chaff) upload: the same size on the wire as a real one (every upload is
/// padded to [`PUBLISH_BODY_BYTES`]), answered like one, and stores nothing.
pub async fn chaff(
    client: &Client,
    now: UnixTime,
    rng: &mut impl CryptoRngCore,
) -> Result<(), Error> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let keys = phone_keys(14, now, rng);
    let mut cert = [0u8; 160];
    rng.fill_bytes(&mut cert);
    let mut hmac_key = [0u8; 32];
    rng.fill_bytes(&mut hmac_key);
    let body = PublishUpload {
        certificate: b64.encode(cert),
        hmac_key: b64.encode(hmac_key),
        keys: keys.iter().map(JsonKey::from_upload_key).collect(),
        fake: true,
        visited_regions: Vec::new(),
        padding: None,
    };
    let _: UploadAccepted = client.post_raw("/v1/publish", padded(&body)?).await?;
    Ok(())
}
