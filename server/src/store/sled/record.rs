//! The `uploads` record: the keys one accepted request stored, and nothing about who sent them.
//!
//! ```text
//! record := version 2 ‖ key_expiry u64 ‖ keys u16 ‖ (TEK 16 ‖ metadata 8 ‖ release window end u64)*
//! ```
//!
//! Integers are big-endian; metadata is wire-format §2.1. The authority, the day (for the
//! quota) and the single-use token are not here: quota counts and keyed token hashes live in
//! their own trees and are dropped on their own schedule. The decoder is strict: a record
//! that does not parse exactly is reported as corrupt rather than half-read.

use en_protocol::keys::{TemporaryExposureKey, TEK_LEN};
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata, METADATA_LEN};

/// Version of the current layout (1 was the earlier layout with tokens beside the keys).
pub const VERSION: u8 = 2;

/// One accepted request's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// When the keys' duplicate records may be dropped (Unix seconds).
    pub key_expiry: u64,
    /// Keys with the end of the publication window they are released in.
    pub keys: Vec<(DiagnosisKey, u64)>,
}

impl Record {
    /// When the record may be deleted: after its keys are published and their duplicate
    /// records have expired.
    pub fn expiry(&self) -> u64 {
        self.keys
            .iter()
            .map(|(_, s)| *s)
            .chain([self.key_expiry])
            .max()
            .unwrap_or(0)
    }

    /// Encodes the record.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(11 + self.keys.len() * 32);
        out.push(VERSION);
        out.extend_from_slice(&self.key_expiry.to_be_bytes());
        out.extend_from_slice(&(self.keys.len() as u16).to_be_bytes());
        for (k, slot) in &self.keys {
            out.extend_from_slice(k.key.as_bytes());
            out.extend_from_slice(&k.meta.to_bytes());
            out.extend_from_slice(&slot.to_be_bytes());
        }
        out
    }

    /// Encoded length of a record of `keys` keys (a fake upload writes as many bytes).
    pub fn encoded_len(keys: usize) -> usize {
        11 + keys * (TEK_LEN + METADATA_LEN + 8)
    }

    /// Strictly decodes a record; `None` if it is not exactly one valid record.
    pub fn decode(b: &[u8]) -> Option<Record> {
        let mut r = Cursor(b);
        if r.u8()? != VERSION {
            return None;
        }
        let key_expiry = r.u64()?;
        let n = usize::from(r.u16()?);
        if r.0.len() != n * (TEK_LEN + METADATA_LEN + 8) {
            return None;
        }
        let mut keys = Vec::with_capacity(n);
        for _ in 0..n {
            let key = TemporaryExposureKey::from_bytes(r.take(TEK_LEN)?.try_into().ok()?);
            let meta = KeyMetadata::from_bytes(r.take(METADATA_LEN)?.try_into().ok()?).ok()?;
            keys.push((DiagnosisKey { key, meta }, r.u64()?));
        }
        r.0.is_empty().then_some(Record { key_expiry, keys })
    }

    /// The layout version of stored bytes, if any.
    pub fn version_of(b: &[u8]) -> Option<u8> {
        b.first().copied()
    }
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use en_protocol::wire::ReportType;
    use en_protocol::IntervalNumber;

    fn sample() -> Record {
        let key = |b: u8| DiagnosisKey {
            key: TemporaryExposureKey::from_bytes([b; 16]),
            meta: KeyMetadata {
                rolling_start: IntervalNumber(2_937_600 + u32::from(b) * 144),
                rolling_period: 144,
                transmission_risk: 4,
                report_type: ReportType::ConfirmedTest,
                days_since_onset: Some(-2),
            },
        };
        Record {
            key_expiry: 1_800_000_000,
            keys: vec![(key(1), 1_762_560_000), (key(2), 1_900_000_000)],
        }
    }

    #[test]
    fn round_trip_length_and_expiry() {
        let r = sample();
        let b = r.encode();
        assert_eq!(b.len(), Record::encoded_len(2));
        assert_eq!(Record::decode(&b), Some(r.clone()));
        assert_eq!(r.expiry(), 1_900_000_000);
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_rejected() {
        let b = sample().encode();
        for n in 0..b.len() {
            assert_eq!(Record::decode(&b[..n]), None, "prefix of {n} bytes decoded");
        }
        let mut long = b.clone();
        long.push(0);
        assert_eq!(Record::decode(&long), None);
        let mut v = b;
        v[0] = 1;
        assert_eq!(Record::decode(&v), None, "the earlier layout");
    }
}
