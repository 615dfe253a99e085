//! The `uploads` record: everything one accepted request stored, in one sled value.
//!
//! ```text
//! record := version (1) ‖ entries u16 ‖ entry*
//! entry  := authority_len u8 ‖ authority ‖ day u64 ‖ replay_len u16 ‖ replay ‖ replay_expiry u64
//!           ‖ key_expiry u64 ‖ keys u16 ‖ (TEK 16 ‖ metadata 8 ‖ release window end u64)*
//! ```
//!
//! Integers are big-endian; metadata is wire-format §2.1. The decoder is strict: a record
//! that does not parse exactly is reported as corrupt rather than half-read.

use en_protocol::keys::{TemporaryExposureKey, TEK_LEN};
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata, METADATA_LEN};

const VERSION: u8 = 1;

/// One accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// One entry per case report or certified upload in the request.
    pub entries: Vec<Entry>,
}

/// One case report or certified upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Uploading authority.
    pub authority: String,
    /// UTC day of the upload (for the quota).
    pub day: u64,
    /// Replay record key (nonce or certificate id).
    pub replay: Vec<u8>,
    /// When the replay record may be dropped (Unix seconds).
    pub replay_expiry: u64,
    /// When the keys' duplicate records may be dropped (Unix seconds).
    pub key_expiry: u64,
    /// Keys with the end of the publication window they are released in.
    pub keys: Vec<(DiagnosisKey, u64)>,
}

impl Record {
    /// When the whole record may be deleted: after its keys are published and every record
    /// it carries has expired.
    pub fn expiry(&self) -> u64 {
        self.entries
            .iter()
            .flat_map(|e| {
                [e.replay_expiry, e.key_expiry]
                    .into_iter()
                    .chain(e.keys.iter().map(|(_, s)| *s))
            })
            .max()
            .unwrap_or(0)
    }

    /// Encodes the record.
    pub fn encode(&self) -> Vec<u8> {
        let keys: usize = self.entries.iter().map(|e| e.keys.len()).sum();
        let mut out = Vec::with_capacity(3 + self.entries.len() * 64 + keys * 32);
        out.push(VERSION);
        out.extend_from_slice(&(self.entries.len() as u16).to_be_bytes());
        for e in &self.entries {
            out.push(e.authority.len() as u8);
            out.extend_from_slice(e.authority.as_bytes());
            out.extend_from_slice(&e.day.to_be_bytes());
            out.extend_from_slice(&(e.replay.len() as u16).to_be_bytes());
            out.extend_from_slice(&e.replay);
            out.extend_from_slice(&e.replay_expiry.to_be_bytes());
            out.extend_from_slice(&e.key_expiry.to_be_bytes());
            out.extend_from_slice(&(e.keys.len() as u16).to_be_bytes());
            for (k, slot) in &e.keys {
                out.extend_from_slice(k.key.as_bytes());
                out.extend_from_slice(&k.meta.to_bytes());
                out.extend_from_slice(&slot.to_be_bytes());
            }
        }
        out
    }

    /// Strictly decodes a record; `None` if it is not exactly one valid record.
    pub fn decode(b: &[u8]) -> Option<Record> {
        let mut r = Cursor(b);
        if r.u8()? != VERSION {
            return None;
        }
        let n = r.u16()?;
        let mut entries = Vec::with_capacity(usize::from(n).min(1024));
        for _ in 0..n {
            let len = r.u8()?;
            let authority = String::from_utf8(r.take(usize::from(len))?.to_vec()).ok()?;
            let day = r.u64()?;
            let len = r.u16()?;
            let replay = r.take(usize::from(len))?.to_vec();
            let replay_expiry = r.u64()?;
            let key_expiry = r.u64()?;
            let k = r.u16()?;
            let mut keys = Vec::with_capacity(usize::from(k).min(1024));
            for _ in 0..k {
                let key = TemporaryExposureKey::from_bytes(r.take(TEK_LEN)?.try_into().ok()?);
                let meta = KeyMetadata::from_bytes(r.take(METADATA_LEN)?.try_into().ok()?).ok()?;
                keys.push((DiagnosisKey { key, meta }, r.u64()?));
            }
            entries.push(Entry {
                authority,
                day,
                replay,
                replay_expiry,
                key_expiry,
                keys,
            });
        }
        r.0.is_empty().then_some(Record { entries })
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
            entries: vec![
                Entry {
                    authority: "moh-vn".into(),
                    day: 20_400,
                    replay: vec![b'n', 1, 2, 3],
                    replay_expiry: 1_700_000_000,
                    key_expiry: 1_800_000_000,
                    keys: vec![(key(1), 1_762_560_000), (key(2), 1_762_646_400)],
                },
                Entry {
                    authority: "hcdc".into(),
                    day: 20_401,
                    replay: vec![b'c'; 17],
                    replay_expiry: 1_900_000_000,
                    key_expiry: 5,
                    keys: vec![],
                },
            ],
        }
    }

    #[test]
    fn round_trip_and_expiry() {
        let r = sample();
        assert_eq!(Record::decode(&r.encode()), Some(r.clone()));
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
        v[0] = 2;
        assert_eq!(Record::decode(&v), None, "unknown version");
    }
}
