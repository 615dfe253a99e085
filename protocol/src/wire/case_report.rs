//! Case report: a health authority's signed statement that these keys belong to a confirmed case.

use super::key::UploadKey;
use super::{
    put_header, put_opt_interval, read_opt_interval, split_signature, AuthorityId, Reader, Region,
    ReportType,
};
use crate::error::{DecodeError, Error};
use crate::keys::{context, SigningKey};
use crate::time::{IntervalNumber, UnixTime};
use crate::verify::{verify_authority, AuthorityRegistry};

/// Magic of a case report.
pub const MAGIC: &[u8; 4] = b"ENCR";
/// Most keys a case report can encode (the server accepts at most 30, see `validate`).
pub const MAX_KEYS: usize = 255;

/// The content of a case report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// Who signs.
    pub authority: AuthorityId,
    /// Where the case was reported.
    pub region: Region,
    /// How the case was established.
    pub report_type: ReportType,
    /// The interval symptoms began, if known.
    pub symptom_onset: Option<IntervalNumber>,
    /// When the authority signed.
    pub issued_at: UnixTime,
    /// Random; the server refuses a nonce it has seen, so a report cannot be replayed.
    pub nonce: [u8; 16],
    /// The patient's keys.
    pub keys: Vec<UploadKey>,
}

impl CaseReport {
    fn encode_body(&self) -> Result<Vec<u8>, Error> {
        if self.keys.len() > MAX_KEYS {
            return Err(Error::Usage("a case report holds at most 255 keys"));
        }
        for k in &self.keys {
            k.check_ranges()?;
        }
        let mut out = Vec::with_capacity(64 + self.keys.len() * super::key::UPLOAD_KEY_LEN);
        put_header(&mut out, MAGIC);
        self.authority.write(&mut out);
        self.region.write(&mut out);
        out.push(self.report_type.code());
        put_opt_interval(&mut out, self.symptom_onset);
        out.extend_from_slice(&self.issued_at.0.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.push(self.keys.len() as u8);
        for k in &self.keys {
            k.write(&mut out);
        }
        Ok(out)
    }

    /// Signs the report with the authority's key and returns its wire encoding.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, Error> {
        let mut out = self.encode_body()?;
        let sig = key.sign(context::CASE_REPORT, &out);
        out.extend_from_slice(&sig);
        Ok(out)
    }
}

/// A decoded case report whose signature has not been checked yet.
#[derive(Debug, Clone)]
pub struct SignedCaseReport {
    report: CaseReport,
    bytes: Vec<u8>,
}

impl SignedCaseReport {
    /// Strictly decodes a case report. The content is not trustworthy until [`Self::verify`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (body, _sig) = split_signature(bytes, "case report")?;
        let mut r = Reader::new(body);
        r.header(MAGIC, "case report")?;
        let authority = AuthorityId::read(&mut r)?;
        let region = Region::read(&mut r)?;
        let report_type = ReportType::from_code(r.u8("report type")?)?;
        let symptom_onset = read_opt_interval(&mut r, "symptom onset")?;
        let issued_at = UnixTime(r.u64("issued at")?);
        let nonce = r.array("nonce")?;
        let n = usize::from(r.u8("key count")?);
        if r.remaining() != n * super::key::UPLOAD_KEY_LEN {
            // Either truncated or trailing data; say which.
            return Err(if r.remaining() < n * super::key::UPLOAD_KEY_LEN {
                DecodeError::Truncated("keys")
            } else {
                DecodeError::TrailingBytes(r.remaining() - n * super::key::UPLOAD_KEY_LEN)
            });
        }
        let keys = (0..n)
            .map(|_| UploadKey::read(&mut r))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(SignedCaseReport {
            report: CaseReport {
                authority,
                region,
                report_type,
                symptom_onset,
                issued_at,
                nonce,
                keys,
            },
            bytes: bytes.to_vec(),
        })
    }

    /// The authority the report claims to come from (unauthenticated until verified).
    pub fn claimed_authority(&self) -> &AuthorityId {
        &self.report.authority
    }

    /// The wire bytes, exactly as decoded.
    pub fn encode(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks the signature against the registry; the only way to reach the report's content.
    pub fn verify(self, registry: &impl AuthorityRegistry) -> Result<VerifiedCaseReport, Error> {
        let (body, sig) = split_signature(&self.bytes, "case report")?;
        verify_authority(
            registry,
            &self.report.authority,
            Some(&self.report.region),
            context::CASE_REPORT,
            body,
            &sig,
        )?;
        Ok(VerifiedCaseReport(self.report))
    }
}

/// A case report whose signature verified under a registered, unrevoked authority.
#[derive(Debug, Clone)]
pub struct VerifiedCaseReport(CaseReport);

impl VerifiedCaseReport {
    /// The verified content.
    pub fn report(&self) -> &CaseReport {
        &self.0
    }
}
