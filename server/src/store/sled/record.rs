//! The `uploads` record: the keys one accepted request stored, and nothing about who sent them.
//!
//! ```text
//! record := version 2 ‖ key_expiry u64 ‖ keys u16 ‖ (TEK 16 ‖ metadata 8 ‖ release window end u64)*
//!           | version 3 ‖ the same ‖ (len u16 ‖ destinations)*   -- one per key
//! ```
//!
//! Version 3 adds each key's federation destinations (spec/federation.md), as sorted region
//! codes joined by `,`; it is written only when some key has one, so a store without
//! federation keeps writing version 2.
//!
//! Integers are big-endian; metadata is wire-format §2.1. The authority, the day (for the
//! quota) and the single-use token are not here: quota counts and keyed token hashes live in
//! their own trees and are dropped on their own schedule. The decoder is strict: a record
//! that does not parse exactly is reported as corrupt rather than half-read.

use en_protocol::keys::{TemporaryExposureKey, TEK_LEN};
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata, METADATA_LEN};
use en_protocol::wire::Region;

use crate::store::{destinations_text, parse_destinations};

/// Version of the layout without destinations (1 was the earlier layout with tokens beside
/// the keys).
pub const VERSION: u8 = 2;
/// Version of the layout with destinations.
pub const VERSION_DESTINED: u8 = 3;

/// One accepted request's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// When the keys' duplicate records may be dropped (Unix seconds).
    pub key_expiry: u64,
    /// Keys with the end of the publication window they are released in.
    pub keys: Vec<(DiagnosisKey, u64)>,
    /// Each key's federation destinations, in `keys` order; empty if no key has any.
    pub destinations: Vec<Vec<Region>>,
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

    /// Per-key destinations of uploads given as (number of keys, destinations): empty if
    /// none has any (the canonical form).
    pub fn per_key<'a>(uploads: impl Iterator<Item = (usize, &'a [Region])>) -> Vec<Vec<Region>> {
        let v: Vec<Vec<Region>> = uploads
            .flat_map(|(n, d)| std::iter::repeat_n(d.to_vec(), n))
            .collect();
        if v.iter().all(Vec::is_empty) {
            Vec::new()
        } else {
            v
        }
    }

    /// Encodes the record.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(11 + self.keys.len() * 32);
        let destined = !self.destinations.is_empty();
        out.push(if destined { VERSION_DESTINED } else { VERSION });
        out.extend_from_slice(&self.key_expiry.to_be_bytes());
        out.extend_from_slice(&(self.keys.len() as u16).to_be_bytes());
        for (k, slot) in &self.keys {
            out.extend_from_slice(k.key.as_bytes());
            out.extend_from_slice(&k.meta.to_bytes());
            out.extend_from_slice(&slot.to_be_bytes());
        }
        if destined {
            for d in &self.destinations {
                let t = destinations_text(d);
                out.extend_from_slice(&(t.len() as u16).to_be_bytes());
                out.extend_from_slice(t.as_bytes());
            }
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
        let version = r.u8()?;
        if version != VERSION && version != VERSION_DESTINED {
            return None;
        }
        let key_expiry = r.u64()?;
        let n = usize::from(r.u16()?);
        let fixed = n * (TEK_LEN + METADATA_LEN + 8);
        if (version == VERSION && r.0.len() != fixed) || r.0.len() < fixed {
            return None;
        }
        let mut keys = Vec::with_capacity(n);
        for _ in 0..n {
            let key = TemporaryExposureKey::from_bytes(r.take(TEK_LEN)?.try_into().ok()?);
            let meta = KeyMetadata::from_bytes(r.take(METADATA_LEN)?.try_into().ok()?).ok()?;
            keys.push((DiagnosisKey { key, meta }, r.u64()?));
        }
        let mut destinations = Vec::new();
        if version == VERSION_DESTINED {
            for _ in 0..n {
                let len = usize::from(r.u16()?);
                let text = std::str::from_utf8(r.take(len)?).ok()?;
                destinations.push(parse_destinations(text)?);
            }
            if destinations.iter().all(Vec::is_empty) {
                return None; // not canonical: version 2 holds this
            }
        }
        r.0.is_empty().then_some(Record {
            key_expiry,
            keys,
            destinations,
        })
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
            destinations: Vec::new(),
        }
    }

    fn destined() -> Record {
        let r = |s: &str| Region::new(s).unwrap();
        Record {
            destinations: vec![vec![r("VN-HN"), r("VN-KG")], vec![]],
            ..sample()
        }
    }

    #[test]
    fn destinations_round_trip_and_are_strict() {
        let d = destined();
        let b = d.encode();
        assert_eq!(b[0], VERSION_DESTINED);
        assert_eq!(Record::decode(&b), Some(d.clone()));
        for n in 0..b.len() {
            assert_eq!(Record::decode(&b[..n]), None, "prefix of {n} bytes decoded");
        }
        // Unsorted destinations are not canonical.
        let text = b"VN-HN,VN-KG";
        let at = b.windows(text.len()).position(|w| w == text).unwrap();
        let mut swapped = b.clone();
        swapped[at..at + text.len()].copy_from_slice(b"VN-KG,VN-HN");
        assert_eq!(Record::decode(&swapped), None);
        // Version 3 with no destination at all is not canonical.
        let mut empty = sample().encode();
        empty[0] = VERSION_DESTINED;
        empty.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(Record::decode(&empty), None);
        assert_eq!(
            Record::per_key([(2usize, &[][..]), (1, &[][..])].into_iter()),
            Vec::<Vec<Region>>::new()
        );
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
