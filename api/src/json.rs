//! JSON bodies of the HTTP API (`spec/api.md`), shared by the server and its clients.

use base64::Engine;
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::wire::key::UploadKey;
use en_protocol::IntervalNumber;
use serde::{Deserialize, Serialize};

/// `POST /v1/cases`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseUpload {
    /// The signed case report (wire-format §3), standard base64.
    pub report: String,
    /// Ignored; lets clients make every request the same size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<String>,
}

/// `POST /v1/cases/bulk`: many signed case reports, stored all together or not at all.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkCaseUpload {
    /// Signed case reports (wire-format §3), standard base64 each.
    pub reports: Vec<String>,
}

/// Answer to an accepted bulk upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BulkAccepted {
    /// Case reports stored.
    pub accepted_reports: usize,
    /// Keys stored (all reports together).
    pub accepted_keys: usize,
}

/// One key in a phone upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonKey {
    /// The 16-byte TEK, standard base64.
    pub key: String,
    /// First ENIntervalNumber of validity.
    pub rolling_start: u32,
    /// Intervals of validity, 1..=144.
    pub rolling_period: u8,
    /// 0..=8 (0: derive from the report type).
    pub transmission_risk: u8,
}

/// `POST /v1/publish`: a phone uploads its own keys with a verification certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishUpload {
    /// The verification certificate (wire-format §4), standard base64.
    pub certificate: String,
    /// The phone's HMAC key for the tekmac, standard base64 (16 to 64 bytes).
    pub hmac_key: String,
    /// The keys.
    pub keys: Vec<JsonKey>,
    /// A chaff upload: answered like a real one, stores nothing.
    #[serde(default)]
    pub fake: bool,
    /// Ignored; lets clients make every request the same size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<String>,
}

/// Every `POST /v1/publish` body is padded to exactly this many bytes by default (the
/// server's `publish_body_bytes`): real uploads of any number of keys and fake ones look the
/// same on the wire. 30 keys with a certificate take about 3.5 KiB.
pub const PUBLISH_BODY_BYTES: usize = 8192;

impl PublishUpload {
    /// The JSON body, padded (through `padding`) to exactly `size` bytes; `None` if the upload
    /// does not fit in `size`. With `size` 0, the body unpadded.
    pub fn to_padded_json(&self, size: usize) -> Option<Vec<u8>> {
        let mut body = PublishUpload {
            padding: Some(String::new()),
            ..self.clone()
        };
        let base = serde_json::to_vec(&body).expect("bodies serialize");
        if size == 0 {
            return Some(base);
        }
        // Each '=' adds exactly one byte inside the JSON string.
        body.padding = Some("=".repeat(size.checked_sub(base.len())?));
        let out = serde_json::to_vec(&body).expect("bodies serialize");
        debug_assert_eq!(out.len(), size);
        Some(out)
    }
}

/// Answer to an accepted upload (padded to a fixed size).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadAccepted {
    /// Keys accepted.
    pub accepted_keys: usize,
    /// Filler that makes every answer the same length.
    pub padding: String,
}

/// Error body of every 4xx/5xx.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable error code.
    pub error: String,
    /// A sentence a person understands.
    pub message: String,
    /// In a bulk upload, the index of the report that was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<usize>,
}

impl ErrorBody {
    /// The error code, if it is one of the table's.
    pub fn code(&self) -> Option<crate::ErrorCode> {
        crate::ErrorCode::from_str(&self.error)
    }
}

/// A JSON key that is not a valid upload key (the message never contains key material).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// `key` is not 16 bytes of standard base64.
    #[error("a key is not 16 bytes of standard base64")]
    NotSixteenBytes,
    /// A field is out of its range.
    #[error("a key is invalid: {0}")]
    OutOfRange(en_protocol::DecodeError),
}

impl JsonKey {
    /// The protocol value, with every field's range checked.
    pub fn to_upload_key(&self) -> Result<UploadKey, KeyError> {
        let raw: [u8; 16] = base64::engine::general_purpose::STANDARD
            .decode(&self.key)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(KeyError::NotSixteenBytes)?;
        let u = UploadKey {
            key: TemporaryExposureKey::from_bytes(raw),
            rolling_start: IntervalNumber(self.rolling_start),
            rolling_period: self.rolling_period,
            transmission_risk: self.transmission_risk,
        };
        u.check_ranges().map_err(KeyError::OutOfRange)?;
        Ok(u)
    }

    /// The JSON form of an upload key.
    pub fn from_upload_key(k: &UploadKey) -> Self {
        JsonKey {
            key: base64::engine::general_purpose::STANDARD.encode(k.key.as_bytes()),
            rolling_start: k.rolling_start.0,
            rolling_period: k.rolling_period,
            transmission_risk: k.transmission_risk,
        }
    }
}
