//! Matching on the phone: which published venue-hours decrypt one of the phone's records.
//!
//! For each trace entry the candidates are the records with the same hour label and tag
//! (about one in sixteen of that hour's records); each candidate costs one pairing. A key
//! is checked for curve and subgroup membership before its first pairing, so a crafted
//! entry is skipped, never paired and never a panic.

use super::checkin::{CheckInRecord, CheckInStore};
use super::ibe;
use super::report::{open_message, TraceEntry};
use super::Hour;
use crate::error::{Error, VerifyError};
use crate::time::UnixTime;

/// A visit that overlapped a traced venue-hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The traced hour.
    pub hour: Hour,
    /// When the visit began (from the decrypted record).
    pub arrival: UnixTime,
    /// When it ended.
    pub departure: UnixTime,
    /// Seconds of the visit inside the traced hour (≥ 1).
    pub overlap_seconds: u64,
    /// The authority's message; `None` if it does not decrypt to a padded UTF-8 text (the
    /// exposure is real either way: the record decrypted).
    pub message: Option<String>,
}

/// What a matching run found and what it cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchReport {
    /// One per (entry, record) that matched.
    pub notifications: Vec<Notification>,
    /// Decryptions tried: one pairing each.
    pub pairings: usize,
    /// Entries with candidates whose key failed the curve or subgroup check.
    pub invalid_keys: usize,
}

/// Tries one entry on one record: hour labels equal, the key a valid point, the record
/// decrypts and passes the re-encryption check, and the decrypted visit overlaps the hour.
pub fn try_match(record: &CheckInRecord, entry: &TraceEntry) -> Result<Notification, Error> {
    if record.hour != entry.hour {
        return Err(VerifyError::NoOverlap.into());
    }
    let key = entry.key()?;
    decrypt_record(&key, record, entry)
}

fn decrypt_record(
    key: &blstrs::G1Affine,
    record: &CheckInRecord,
    entry: &TraceEntry,
) -> Result<Notification, Error> {
    let m = ibe::decrypt(key, &entry.id, &record.ct)?;
    let arrival = UnixTime(u64::from_be_bytes(m[..8].try_into().expect("8")));
    let departure = UnixTime(u64::from_be_bytes(m[8..16].try_into().expect("8")));
    let nk: &[u8; 32] = m[16..].try_into().expect("32");
    let from = arrival.max(entry.hour.start());
    let to = departure.min(entry.hour.end());
    if to <= from {
        return Err(VerifyError::NoOverlap.into());
    }
    Ok(Notification {
        hour: entry.hour,
        arrival,
        departure,
        overlap_seconds: to.0 - from.0,
        message: open_message(nk, entry),
    })
}

/// Matches `entries` (for example a verified trace batch's) against the store.
pub fn match_entries(store: &CheckInStore, entries: &[TraceEntry]) -> MatchReport {
    let mut out = MatchReport::default();
    for e in entries {
        let candidates = store.candidates(e.hour, e.tag);
        if candidates.is_empty() {
            continue;
        }
        let Ok(key) = e.key() else {
            out.invalid_keys += 1;
            continue;
        };
        for r in candidates {
            out.pairings += 1;
            if let Ok(n) = decrypt_record(&key, r, e) {
                out.notifications.push(n);
            }
        }
    }
    out
}

impl CheckInStore {
    /// Matches a verified trace batch against the store.
    pub fn match_batch(&self, batch: &super::batch::VerifiedTraceBatch) -> MatchReport {
        match_entries(self, batch.entries())
    }
}
