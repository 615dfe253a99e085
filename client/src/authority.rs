//! A health authority's side: case reports, verification certificates, and their upload.

use base64::Engine;
use en_api::json::{BulkAccepted, BulkCaseUpload, CaseUpload, UploadAccepted};
use en_protocol::keys::SigningKey;
use en_protocol::wire::case_report::CaseReport;
use en_protocol::wire::certificate::Certificate;
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::{Audience, AuthorityId, Region, ReportType};
use en_protocol::{IntervalNumber, UnixTime};
use rand_core::CryptoRngCore;

use crate::transport::Client;
use crate::Error;

pub(crate) fn authority_id(s: &str) -> Result<AuthorityId, Error> {
    AuthorityId::new(s)
        .map_err(|_| Error::Invalid("--authority must be 1-64 of a-z 0-9 . _ -".into()))
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
) -> Result<Vec<u8>, Error> {
    let mut nonce = [0u8; 16];
    rng.fill_bytes(&mut nonce);
    let r = CaseReport {
        authority: authority_id(authority)?,
        region: Region::new(region)
            .map_err(|_| Error::Invalid("--region must be 1-16 of A-Z 0-9 -".into()))?,
        report_type,
        symptom_onset: onset,
        issued_at: now,
        nonce,
        keys,
    };
    r.sign(key)
        .map_err(|e| Error::protocol("the case report", e))
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
) -> Result<Vec<u8>, Error> {
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    let c = Certificate {
        authority: authority_id(authority)?,
        report_type,
        symptom_onset: onset,
        issued_at: now,
        expires_at: now.plus(valid_for.max(1)),
        audience: Audience::new(audience).map_err(|_| {
            Error::Invalid("--audience must be 1-128 printable ASCII characters".into())
        })?,
        id,
        tekmac,
    };
    c.sign(key)
        .map_err(|e| Error::protocol("the certificate", e))
}

/// What an upload of signed case reports stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Reports stored.
    pub reports: usize,
    /// Keys stored.
    pub keys: usize,
}

/// Uploads signed case reports: one through `POST /v1/cases`, several through
/// `POST /v1/cases/bulk` (stored all together or not at all).
pub async fn upload(client: &Client, reports: &[Vec<u8>]) -> Result<Stored, Error> {
    let b64 = base64::engine::general_purpose::STANDARD;
    match reports {
        [] => Err(Error::Invalid("no case report to upload".into())),
        [one] => {
            let body = CaseUpload {
                report: b64.encode(one),
                padding: None,
            };
            let r: UploadAccepted = client.post_json("/v1/cases", &body).await?;
            Ok(Stored {
                reports: 1,
                keys: r.accepted_keys,
            })
        }
        many => {
            let body = BulkCaseUpload {
                reports: many.iter().map(|r| b64.encode(r)).collect(),
            };
            let r: BulkAccepted = client.post_json("/v1/cases/bulk", &body).await?;
            Ok(Stored {
                reports: r.accepted_reports,
                keys: r.accepted_keys,
            })
        }
    }
}
