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
    /// Regions the person visited in the last 14 days (spec/federation.md §1): at most
    /// [`MAX_VISITED_REGIONS`] distinct region codes, not the server's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visited_regions: Vec<String>,
    /// Ignored; lets clients make every request the same size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<String>,
}

/// Most entries of [`PublishUpload::visited_regions`].
pub const MAX_VISITED_REGIONS: usize = 16;

/// Why `visited_regions` is refused (the message names the entry, never a key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VisitedRegionsError {
    /// More than [`MAX_VISITED_REGIONS`] entries.
    #[error("at most {MAX_VISITED_REGIONS} visited regions are accepted, the upload names {0}")]
    TooMany(usize),
    /// An entry is not a region code.
    #[error("visited region {0} is not a region code (1-16 of A-Z 0-9 -)")]
    Invalid(usize),
    /// An entry appears twice.
    #[error("visited region {0} is listed twice")]
    Duplicate(usize),
    /// An entry is the server's own region.
    #[error("visited region {0} is this server's own region")]
    OwnRegion(usize),
}

/// Checks `visited` (the upload's `visited_regions`) against the rules of spec/federation.md
/// §1 and returns the regions sorted (the canonical stored form).
pub fn check_visited_regions(
    visited: &[String],
    own: &en_protocol::wire::Region,
) -> Result<Vec<en_protocol::wire::Region>, VisitedRegionsError> {
    if visited.len() > MAX_VISITED_REGIONS {
        return Err(VisitedRegionsError::TooMany(visited.len()));
    }
    let mut out = Vec::with_capacity(visited.len());
    for (i, r) in visited.iter().enumerate() {
        let region =
            en_protocol::wire::Region::new(r).map_err(|_| VisitedRegionsError::Invalid(i))?;
        if &region == own {
            return Err(VisitedRegionsError::OwnRegion(i));
        }
        if out.contains(&region) {
            return Err(VisitedRegionsError::Duplicate(i));
        }
        out.push(region);
    }
    out.sort();
    Ok(out)
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

/// `POST /v1/revisions`: keys uploaded earlier as clinical or self-report, with a new
/// certificate (type confirmed or revoked, its tekmac over the same keys) and the revision
/// token the upload's answer carried. Padded like [`PublishUpload`] (same fixed size).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevisionUpload {
    /// The new verification certificate (wire-format §4), standard base64.
    pub certificate: String,
    /// The phone's HMAC key for the tekmac, standard base64 (16 to 64 bytes).
    pub hmac_key: String,
    /// The keys, as uploaded.
    pub keys: Vec<JsonKey>,
    /// The revision token (wire-format §11), standard base64.
    pub revision_token: String,
    /// A chaff revision: answered like a real one, stores nothing.
    #[serde(default)]
    pub fake: bool,
    /// Ignored; lets clients make every request the same size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<String>,
}

/// Answer to an accepted upload (padded to a fixed size).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadAccepted {
    /// Keys accepted.
    pub accepted_keys: usize,
    /// For an upload of a revisable type (clinical, self-report): the revision token
    /// (spec/wire-format.md §11), standard base64. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_token: Option<String>,
    /// Filler that makes every answer the same length.
    pub padding: String,
}

/// `POST /v1/traces`: a health authority's signed venue trace report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceUpload {
    /// The signed trace report (spec/venue.md §8.6), standard base64.
    pub report: String,
    /// Ignored; lets clients make every request the same size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<String>,
}

/// Answer to an accepted trace report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceAccepted {
    /// Venue-hours stored (the report's entries).
    pub accepted_hours: usize,
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use en_protocol::keys::PublicKey;
    use en_protocol::verify::AuthorityInfo;
    use en_protocol::wire::case_report::SignedCaseReport;
    use en_protocol::wire::certificate::SignedCertificate;
    use en_protocol::wire::{Audience, AuthorityId, Region};
    use en_protocol::UnixTime;
    use serde_json::{Map, Value};

    use super::*;

    /// The authority that signed the examples of spec/openapi.yaml, as the spec names it.
    const EXAMPLE_AUTHORITY: (&str, &str) = (
        "moh.vn",
        "6fa4ff6b647c6415fdabe78d098f60bd4d773f7b616c61db415df5f66944a2fc",
    );
    /// The authority key that signed the trace report example (`moh.vn`, region VN).
    const TRACE_EXAMPLE_KEY: &str =
        "540ddd959c564277859e6a02e75f96a39a9653967d0ccf3b2fe833690279272f";
    /// When the examples were captured (inside the certificate's hour of validity).
    const CAPTURED_AT: UnixTime = UnixTime(1_795_397_400);

    /// The request example of the operation whose body is `schema`. The file writes it as one
    /// line of JSON, or as `key: <JSON>` lines and `- <JSON>` list items (the only YAML this
    /// reads).
    fn example(spec: &str, schema: &str) -> Value {
        let marker = format!("schemas/{schema}' }}");
        let mut lines = spec.lines().skip_while(|l| !l.contains(&marker)).skip(1);
        let first = lines.next().expect("an example follows the schema");
        let indent = first.len() - first.trim_start().len();
        let rest = first
            .trim()
            .strip_prefix("example:")
            .expect("example:")
            .trim();
        if !rest.is_empty() {
            return serde_json::from_str(rest).expect("a JSON example");
        }
        let mut out = Map::new();
        let mut list: Option<String> = None;
        for l in lines.take_while(|l| l.len() - l.trim_start().len() > indent) {
            let t = l.trim();
            if t.starts_with('#') {
                continue;
            }
            if let Some(item) = t.strip_prefix("- ") {
                let key = list.as_ref().expect("a list item under a key");
                let v: Value = serde_json::from_str(item).expect("a JSON item");
                out[key].as_array_mut().expect("a list").push(v);
            } else if let Some(key) = t.strip_suffix(':') {
                out.insert(key.into(), Value::Array(vec![]));
                list = Some(key.into());
            } else {
                let (key, v) = t.split_once(": ").expect("key: value");
                out.insert(key.into(), serde_json::from_str(v).expect("a JSON value"));
            }
        }
        Value::Object(out)
    }

    fn registry(spec: &str) -> BTreeMap<AuthorityId, AuthorityInfo> {
        let (id, key) = EXAMPLE_AUTHORITY;
        assert!(
            spec.contains(key),
            "the spec names the examples' authority key"
        );
        BTreeMap::from([(
            AuthorityId::new(id).unwrap(),
            AuthorityInfo {
                public_key: PublicKey::from_hex(key).unwrap(),
                region: Some(Region::new("VN").unwrap()),
                revoked: false,
            },
        )])
    }

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    /// The examples of spec/openapi.yaml are real uploads, not invented bytes: their
    /// signatures verify with the keys the spec names, the certificate covers the keys, the
    /// phone upload is padded as phones pad it, and the trace report has the hour its
    /// example answer counts.
    #[test]
    fn the_openapi_examples_are_real_uploads() {
        let spec =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/openapi.yaml"))
                .expect("spec/openapi.yaml");
        let registry = registry(&spec);

        let case: CaseUpload = serde_json::from_value(example(&spec, "CaseUpload")).unwrap();
        let bulk: BulkCaseUpload =
            serde_json::from_value(example(&spec, "BulkCaseUpload")).unwrap();
        assert_eq!(bulk.reports.len(), 2);
        for report in std::iter::once(&case.report).chain(&bulk.reports) {
            let signed = SignedCaseReport::decode(&b64(report)).unwrap();
            signed.verify(&registry).expect("a signed case report");
        }

        let publish: PublishUpload =
            serde_json::from_value(example(&spec, "PublishUpload")).unwrap();
        assert_eq!(
            Some(serde_json::to_vec(&publish).unwrap()),
            publish.to_padded_json(PUBLISH_BODY_BYTES),
            "the example is padded to exactly {PUBLISH_BODY_BYTES} bytes"
        );
        let keys = publish
            .keys
            .iter()
            .map(JsonKey::to_upload_key)
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        SignedCertificate::decode(&b64(&publish.certificate))
            .unwrap()
            .verify(
                &registry,
                &Audience::new("en-server:VN").unwrap(),
                CAPTURED_AT,
                0,
            )
            .expect("a signed certificate")
            .bind(keys, &b64(&publish.hmac_key))
            .expect("the certificate covers the keys");

        assert!(
            spec.contains(TRACE_EXAMPLE_KEY),
            "the spec names the trace example's key"
        );
        let trace: TraceUpload = serde_json::from_value(example(&spec, "TraceUpload")).unwrap();
        let registry = BTreeMap::from([(
            AuthorityId::new(EXAMPLE_AUTHORITY.0).unwrap(),
            AuthorityInfo {
                public_key: PublicKey::from_hex(TRACE_EXAMPLE_KEY).unwrap(),
                region: Some(Region::new("VN").unwrap()),
                revoked: false,
            },
        )]);
        let report = en_protocol::venue::SignedTraceReport::decode(&b64(&trace.report))
            .unwrap()
            .verify(&registry)
            .expect("a signed trace report");
        assert_eq!(
            report.report().entries().len(),
            1,
            "the example's answer says 1 hour"
        );
    }
}
