//! Check-in records and the phone's store of them (`ENVS`, part of the phone's persisted
//! state).
//!
//! A record is an hour label, a 4-bit tag and an IBE ciphertext of (arrival, departure,
//! notification key) under the venue's identity for that hour. It names no venue: without
//! a matching published key, or the venue's QR code to test against, the store shows only
//! the hours its owner was checked in somewhere (spec/threat-model.md §8).

use rand_core::CryptoRngCore;

use super::entry::EntryPayload;
use super::ibe::{self, Ciphertext, CIPHERTEXT_LEN, PLAINTEXT_LEN};
use super::ids::{self, VenueSecrets};
use super::{Hour, RETENTION_HOURS};
use crate::error::{DecodeError, Error};
use crate::time::UnixTime;
use crate::wire::{put_header, Reader};

/// Magic of a check-in store.
pub const MAGIC: &[u8; 4] = b"ENVS";
/// Bytes of one record: hour (4) ‖ tag (1) ‖ ciphertext (192).
pub const RECORD_LEN: usize = 4 + 1 + CIPHERTEXT_LEN;
/// Most records a store holds (14 days of 20 check-ins a day need about 460).
pub const MAX_RECORDS: u32 = 65_536;
/// Longest visit one check-in may record.
pub const MAX_VISIT_SECONDS: u64 = 24 * 3600;

/// One hour of one visit, as the phone keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInRecord {
    pub(crate) hour: Hour,
    pub(crate) tag: u8,
    pub(crate) ct: Ciphertext,
}

impl CheckInRecord {
    /// The hour label.
    pub fn hour(&self) -> Hour {
        self.hour
    }
    /// The 4-bit tag of (venue, UTC day of the hour).
    pub fn tag(&self) -> u8 {
        self.tag
    }
    /// The ciphertext bytes.
    pub fn ciphertext(&self) -> &[u8; CIPHERTEXT_LEN] {
        self.ct.bytes()
    }
    /// Encodes one record: hour u32 ‖ tag u8 ‖ ciphertext (192).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECORD_LEN);
        self.write(&mut out);
        out
    }
    /// Strictly decodes one record (as inside a store).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let rec = Self::read(&mut r)?;
        r.finish()?;
        Ok(rec)
    }
    /// Sort key: the record's encoding, hour first, so records of an hour and tag are
    /// contiguous.
    fn sort_key(&self) -> (Hour, u8, &[u8; CIPHERTEXT_LEN]) {
        (self.hour, self.tag, self.ct.bytes())
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hour.0.to_be_bytes());
        out.push(self.tag);
        out.extend_from_slice(self.ct.bytes());
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let hour = Hour(r.u32("hour")?);
        let tag = r.u8("tag")?;
        if tag > 15 {
            return Err(DecodeError::OutOfRange("tag"));
        }
        Ok(CheckInRecord {
            hour,
            tag,
            ct: Ciphertext::read(r)?,
        })
    }
}

/// The records of one visit: one per hour that `[arrival, departure)` overlaps.
/// `departure` must be after `arrival` and at most [`MAX_VISIT_SECONDS`] later.
pub fn records_for_visit(
    payload: &EntryPayload,
    arrival: UnixTime,
    departure: UnixTime,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<CheckInRecord>, Error> {
    if departure <= arrival || departure.0 - arrival.0 > MAX_VISIT_SECONDS {
        return Err(Error::Usage(
            "a visit's departure is after its arrival, by at most 24 hours",
        ));
    }
    let p = payload.encode();
    let secrets = VenueSecrets::derive(p);
    let mut m = zeroize::Zeroizing::new([0u8; PLAINTEXT_LEN]);
    m[..8].copy_from_slice(&arrival.0.to_be_bytes());
    m[8..16].copy_from_slice(&departure.0.to_be_bytes());
    m[16..].copy_from_slice(secrets.notification_key());
    let (first, last) = (
        Hour::containing(arrival),
        Hour::containing(departure.minus(1)),
    );
    Ok((first.0..=last.0)
        .map(|h| {
            let hour = Hour(h);
            CheckInRecord {
                hour,
                tag: ids::tag(p, hour.day()),
                ct: ibe::encrypt(payload.mpk(), &secrets.id(hour), &m, rng),
            }
        })
        .collect())
}

/// The phone's check-in records, kept sorted by (hour, tag, ciphertext).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckInStore {
    records: Vec<CheckInRecord>,
}

impl CheckInStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds records (for example those [`super::visit::VisitTracker`] produced at check-out).
    /// Beyond [`MAX_RECORDS`] the oldest are dropped (they would be pruned first anyway);
    /// returns how many were.
    pub fn insert(&mut self, records: impl IntoIterator<Item = CheckInRecord>) -> usize {
        self.records.extend(records);
        self.records
            .sort_unstable_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.records.dedup();
        let excess = self.records.len().saturating_sub(MAX_RECORDS as usize);
        self.records.drain(..excess);
        excess
    }

    /// Records one visit: one record per hour it overlaps (see [`records_for_visit`]).
    pub fn insert_visit(
        &mut self,
        payload: &EntryPayload,
        arrival: UnixTime,
        departure: UnixTime,
        rng: &mut impl CryptoRngCore,
    ) -> Result<(), Error> {
        let records = records_for_visit(payload, arrival, departure, rng)?;
        self.insert(records);
        Ok(())
    }

    /// Deletes records of hours that ended more than 14 days before `now`; returns how many.
    pub fn prune(&mut self, now: UnixTime) -> usize {
        let oldest = Hour(Hour::containing(now).0.saturating_sub(RETENTION_HOURS));
        let before = self.records.len();
        self.records.retain(|r| r.hour >= oldest);
        before - self.records.len()
    }

    /// The records, sorted.
    pub fn records(&self) -> &[CheckInRecord] {
        &self.records
    }

    /// The records of `hour` with `tag`: the candidates for a trace entry.
    pub fn candidates(&self, hour: Hour, tag: u8) -> &[CheckInRecord] {
        let lo = self
            .records
            .partition_point(|r| (r.hour, r.tag) < (hour, tag));
        let hi = lo + self.records[lo..].partition_point(|r| (r.hour, r.tag) == (hour, tag));
        &self.records[lo..hi]
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }
    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Encodes: magic ‖ version ‖ count u32 ‖ count × (hour u32 ‖ tag u8 ‖ ciphertext 192).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + self.records.len() * RECORD_LEN);
        put_header(&mut out, MAGIC);
        out.extend_from_slice(&(self.records.len() as u32).to_be_bytes());
        for r in &self.records {
            r.write(&mut out);
        }
        out
    }

    /// Strictly decodes a store: records strictly increasing, tags of 4 bits, every `c1` a
    /// checked, non-identity G2 point (about 90 µs a record).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC, "check-in store")?;
        let n = r.u32("record count")?;
        if n > MAX_RECORDS {
            return Err(DecodeError::TooMany {
                what: "check-in records",
                count: n.into(),
                max: MAX_RECORDS.into(),
            });
        }
        super::exact_len(&r, n as usize * RECORD_LEN, "check-in records")?;
        let mut records: Vec<CheckInRecord> = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let rec = CheckInRecord::read(&mut r)?;
            if records
                .last()
                .is_some_and(|p| p.sort_key() >= rec.sort_key())
            {
                return Err(DecodeError::NonCanonical(
                    "records must be strictly increasing",
                ));
            }
            records.push(rec);
        }
        r.finish()?;
        Ok(CheckInStore { records })
    }
}
