//! Diagnosis keys and upload keys.
//!
//! An [`UploadKey`] is what a phone or authority sends: TEK, interval, period, transmission
//! risk. A [`DiagnosisKey`] is what the server publishes: the same plus the report type and
//! days since symptom onset, which come only from the authority's signature.

use std::fmt;

use super::{put_header, Reader, ReportType};
use crate::error::DecodeError;
use crate::keys::{TemporaryExposureKey, TEK_LEN};
use crate::time::{IntervalNumber, TEK_ROLLING_PERIOD};

/// Magic of a standalone diagnosis key.
pub const MAGIC: &[u8; 4] = b"ENDK";
/// Encoded length of a standalone diagnosis key.
pub const ENCODED_LEN: usize = 5 + TEK_LEN + 8;
/// Encoded length of an upload key inside a case report.
pub const UPLOAD_KEY_LEN: usize = TEK_LEN + 6;
/// Largest transmission risk level (GAEN: 0..=8).
pub const MAX_TRANSMISSION_RISK: u8 = 8;
/// Largest |days since onset| (GAEN: -14..=14).
pub const MAX_DAYS_SINCE_ONSET: i8 = 14;
/// Wire value meaning "days since onset unknown".
const DSOS_ABSENT: u8 = 0x80;

/// A key as uploaded: the TEK and when it was valid.
#[derive(Clone, PartialEq, Eq)]
pub struct UploadKey {
    /// The temporary exposure key.
    pub key: TemporaryExposureKey,
    /// First interval of validity.
    pub rolling_start: IntervalNumber,
    /// Number of intervals of validity, 1..=144.
    pub rolling_period: u8,
    /// Transmission risk 0..=8 (0: derive from the report type).
    pub transmission_risk: u8,
}

impl fmt::Debug for UploadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadKey")
            .field("rolling_start", &self.rolling_start.0)
            .field("rolling_period", &self.rolling_period)
            .field("transmission_risk", &self.transmission_risk)
            .finish_non_exhaustive()
    }
}

impl UploadKey {
    /// First interval after the key's validity.
    pub fn end(&self) -> IntervalNumber {
        IntervalNumber(
            self.rolling_start
                .0
                .saturating_add(u32::from(self.rolling_period)),
        )
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let key = TemporaryExposureKey::from_bytes(r.array("key")?);
        let rolling_start = IntervalNumber(r.u32("rolling start")?);
        let rolling_period = check_period(r.u8("rolling period")?)?;
        let transmission_risk = check_risk(r.u8("transmission risk")?)?;
        Ok(UploadKey {
            key,
            rolling_start,
            rolling_period,
            transmission_risk,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.key.as_bytes());
        out.extend_from_slice(&self.rolling_start.0.to_be_bytes());
        out.push(self.rolling_period);
        out.push(self.transmission_risk);
    }

    /// Checks the field ranges (for keys that arrive as JSON rather than bytes).
    pub fn check_ranges(&self) -> Result<(), DecodeError> {
        check_period(self.rolling_period)?;
        check_risk(self.transmission_risk)?;
        Ok(())
    }
}

pub(crate) fn check_period(p: u8) -> Result<u8, DecodeError> {
    if p == 0 || u32::from(p) > TEK_ROLLING_PERIOD {
        return Err(DecodeError::OutOfRange("rolling period"));
    }
    Ok(p)
}

pub(crate) fn check_risk(t: u8) -> Result<u8, DecodeError> {
    if t > MAX_TRANSMISSION_RISK {
        return Err(DecodeError::OutOfRange("transmission risk"));
    }
    Ok(t)
}

/// The metadata a published key carries besides its bytes. Keys in a batch that share it
/// share one table entry, which is what keeps batches compact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyMetadata {
    /// First interval of validity.
    pub rolling_start: IntervalNumber,
    /// Intervals of validity, 1..=144.
    pub rolling_period: u8,
    /// Transmission risk, 0..=8.
    pub transmission_risk: u8,
    /// How the case was established (from the authority's signature).
    pub report_type: ReportType,
    /// Days from symptom onset to the key's day, -14..=14, if known.
    pub days_since_onset: Option<i8>,
}

/// Encoded length of [`KeyMetadata`].
pub const METADATA_LEN: usize = 8;

impl KeyMetadata {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let rolling_start = IntervalNumber(r.u32("rolling start")?);
        let rolling_period = check_period(r.u8("rolling period")?)?;
        let transmission_risk = check_risk(r.u8("transmission risk")?)?;
        let report_type = ReportType::from_code(r.u8("report type")?)?;
        let d = r.u8("days since onset")?;
        let days_since_onset = if d == DSOS_ABSENT {
            None
        } else {
            let d = d as i8;
            if !(-MAX_DAYS_SINCE_ONSET..=MAX_DAYS_SINCE_ONSET).contains(&d) {
                return Err(DecodeError::OutOfRange("days since onset"));
            }
            Some(d)
        };
        Ok(KeyMetadata {
            rolling_start,
            rolling_period,
            transmission_risk,
            report_type,
            days_since_onset,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.rolling_start.0.to_be_bytes());
        out.push(self.rolling_period);
        out.push(self.transmission_risk);
        out.push(self.report_type.code());
        out.push(self.days_since_onset.map_or(DSOS_ABSENT, |d| d as u8));
    }

    /// The 8-byte encoding (wire-format §2.1).
    pub fn to_bytes(&self) -> [u8; METADATA_LEN] {
        let mut v = Vec::with_capacity(METADATA_LEN);
        self.write(&mut v);
        v.try_into().expect("metadata is 8 bytes")
    }

    /// Strictly decodes the 8-byte encoding.
    pub fn from_bytes(bytes: &[u8; METADATA_LEN]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let m = KeyMetadata::read(&mut r)?;
        r.finish()?;
        Ok(m)
    }

    /// Checks every field's range (for metadata built in code rather than decoded).
    pub fn check(&self) -> Result<(), DecodeError> {
        let mut v = Vec::with_capacity(METADATA_LEN);
        self.write(&mut v);
        KeyMetadata::read(&mut Reader::new(&v)).map(|_| ())
    }

    /// First interval after validity.
    pub fn end(&self) -> IntervalNumber {
        IntervalNumber(
            self.rolling_start
                .0
                .saturating_add(u32::from(self.rolling_period)),
        )
    }
}

/// A published diagnosis key: a TEK of a confirmed case with its metadata.
///
/// Its `Debug` omits the key bytes: logs never carry key material, even of published keys.
#[derive(Clone, PartialEq, Eq)]
pub struct DiagnosisKey {
    /// The temporary exposure key.
    pub key: TemporaryExposureKey,
    /// Validity, risk, report type and onset.
    pub meta: KeyMetadata,
}

impl fmt::Debug for DiagnosisKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiagnosisKey")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl DiagnosisKey {
    /// Encodes the standalone form: magic, version, key, metadata (29 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENCODED_LEN);
        put_header(&mut out, MAGIC);
        out.extend_from_slice(self.key.as_bytes());
        self.meta.write(&mut out);
        out
    }

    /// Strictly decodes the standalone form.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC, "diagnosis key")?;
        let key = TemporaryExposureKey::from_bytes(r.array("key")?);
        let meta = KeyMetadata::read(&mut r)?;
        r.finish()?;
        Ok(DiagnosisKey { key, meta })
    }
}
