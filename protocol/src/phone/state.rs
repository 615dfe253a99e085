//! The phone's stored state (`ENPS`, spec/wire-format.md §9): strict and canonical like every
//! wire format, though it never leaves the phone. Local storage is the phone's own, so there
//! is no signature; but a corrupted or hostile file must not crash the app or make it
//! allocate without bound, and `encode(decode(x)) == x`.

use zeroize::Zeroizing;

use super::device::{Phone, MAX_SCANS};
use super::exposure::{
    ExposureDay, Exposures, KeyContribution, MatchedKey, MAX_EXPOSURE_DAYS, MAX_KEY_DAYS,
    MAX_MATCHED_KEYS,
};
use super::keyring::{KeyRing, MAX_RING_KEYS};
use super::regions::{Visited, VisitedRegions, MAX_VISITED_REGIONS};
use super::{ChainHead, FollowerConfig, FollowerState, KeyFollower};
use crate::error::{DecodeError, Error};
use crate::keys::{TemporaryExposureKey, TEK_LEN};
use crate::matching::{Scan, ScanStore};
use crate::time::UnixTime;
use crate::wire::config::RiskConfig;
use crate::wire::key::{KeyMetadata, METADATA_LEN};
use crate::wire::{Reader, Region, ReportType};

/// Magic of the phone state.
pub const MAGIC: &[u8; 4] = b"ENPS";
/// The version written: 3 adds the matched keys after the visited regions.
pub const VERSION: u8 = 3;
/// The first version, still read: no visited regions, no matched keys.
const VERSION_1: u8 = 1;
/// The second version, still read: visited regions, no matched keys.
const VERSION_2: u8 = 2;
/// Encoded length of a visited region past its region code: last visit day u64, head flag and
/// head, index time flag and time.
const VISITED_LEN: usize = 8 + 1 + 48 + 1 + 8;
/// Shortest encoded visited region: a one-letter code, the day, both flags absent.
const VISITED_MIN_LEN: usize = 2 + 8 + 1 + 1;
/// Encoded length of a key: day u32, key.
const KEY_LEN: usize = 4 + TEK_LEN;
/// Encoded length of a scan: time u64, rpi, aem, rssi i8, seconds u16.
const SCAN_LEN: usize = 8 + 16 + 4 + 1 + 2;
/// Encoded length of an exposure day: day, score, windows, report types, newest batch.
const EXPOSURE_LEN: usize = 8 + 8 + 4 + 1 + 8;
/// Encoded length of a matched key before its contributions: key, metadata, batch, count.
const MATCHED_LEN: usize = TEK_LEN + METADATA_LEN + 8 + 1;
/// Encoded length of a key's contribution to a day: day, score, windows.
const CONTRIBUTION_LEN: usize = 8 + 8 + 4;
/// Encoded length of the risk configuration's fields (wire-format §7, `issued_at` onwards).
const CONFIG_LEN: usize = 67;
/// Report types an exposure can name, by bit (revoked keys never score).
const TYPE_BITS: [ReportType; 3] = [
    ReportType::ConfirmedTest,
    ReportType::ConfirmedClinicalDiagnosis,
    ReportType::SelfReport,
];

fn scan_bytes(s: &Scan) -> [u8; SCAN_LEN] {
    let mut b = [0u8; SCAN_LEN];
    b[..8].copy_from_slice(&s.time.0.to_be_bytes());
    b[8..24].copy_from_slice(&s.rpi);
    b[24..28].copy_from_slice(&s.aem);
    b[28] = s.rssi as u8;
    b[29..].copy_from_slice(&s.seconds.to_be_bytes());
    b
}

fn put_opt<T>(out: &mut Vec<u8>, v: Option<T>, put: impl FnOnce(&mut Vec<u8>, T)) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put(out, v);
        }
    }
}

fn read_opt<T>(
    r: &mut Reader<'_>,
    what: &'static str,
    read: impl FnOnce(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<Option<T>, DecodeError> {
    match r.u8(what)? {
        0 => Ok(None),
        1 => read(r).map(Some),
        _ => Err(DecodeError::OutOfRange(what)),
    }
}

/// Encodes `phone` (wire-format §9).
pub(super) fn encode(phone: &Phone) -> Zeroizing<Vec<u8>> {
    let state = phone.follower.state();
    let exposures = &phone.exposures.days;
    // Sized up front (an upper bound): the buffer holds secret keys, and a reallocation
    // would leave a copy behind.
    let len = 5
        + 1
        + phone.region().as_str().len()
        + 1
        + 48
        + 1
        + 8
        + 1
        + CONFIG_LEN
        + 1
        + phone.keys.len() * KEY_LEN
        + 4
        + phone.scans.len() * SCAN_LEN
        + 2
        + exposures.len() * EXPOSURE_LEN
        + 1
        + phone.visited.regions.len() * (1 + Region::MAX_LEN + VISITED_LEN)
        + 2
        + phone
            .exposures
            .matched
            .iter()
            .map(|m| MATCHED_LEN + m.days.len() * CONTRIBUTION_LEN)
            .sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    phone.region().write(&mut out);
    put_chain(&mut out, state);
    put_opt(&mut out, phone.risk.as_ref(), |out, c| c.write_fields(out));
    out.push(u8::try_from(phone.keys.len()).expect("the ring holds at most 32 keys"));
    for (day, key) in phone.keys.iter() {
        out.extend_from_slice(&day.to_be_bytes());
        out.extend_from_slice(key.as_bytes());
    }
    let mut scans: Vec<[u8; SCAN_LEN]> = phone.scans.scans().iter().map(scan_bytes).collect();
    scans.sort_unstable();
    out.extend_from_slice(&u32::try_from(scans.len()).expect("MAX_SCANS").to_be_bytes());
    for s in &scans {
        out.extend_from_slice(s);
    }
    out.extend_from_slice(
        &u16::try_from(exposures.len())
            .expect("64 days")
            .to_be_bytes(),
    );
    for e in exposures {
        out.extend_from_slice(&e.day.to_be_bytes());
        out.extend_from_slice(&e.score_sum.to_bits().to_be_bytes());
        out.extend_from_slice(&e.windows.to_be_bytes());
        let bits = TYPE_BITS
            .iter()
            .enumerate()
            .filter(|(_, t)| e.report_types.contains(t))
            .fold(0u8, |m, (i, _)| m | 1 << i);
        out.push(bits);
        out.extend_from_slice(&e.newest_batch.to_be_bytes());
    }
    let visited = &phone.visited.regions;
    out.push(u8::try_from(visited.len()).expect("at most 16 visited regions"));
    for v in visited {
        v.region().write(&mut out);
        out.extend_from_slice(&v.last_visit_day.to_be_bytes());
        put_chain(&mut out, v.follower.state());
    }
    put_matched(&mut out, &phone.exposures.matched);
    debug_assert!(out.len() <= len);
    out
}

/// Version 3's matched keys: count u16, then each key with its metadata, newest batch and
/// per-day contributions.
fn put_matched(out: &mut Vec<u8>, matched: &[MatchedKey]) {
    out.extend_from_slice(
        &u16::try_from(matched.len())
            .expect("MAX_MATCHED_KEYS fits a u16")
            .to_be_bytes(),
    );
    for m in matched {
        out.extend_from_slice(m.key.as_bytes());
        out.extend_from_slice(&m.meta.to_bytes());
        out.extend_from_slice(&m.batch.to_be_bytes());
        out.push(u8::try_from(m.days.len()).expect("MAX_KEY_DAYS"));
        for c in &m.days {
            out.extend_from_slice(&c.day.to_be_bytes());
            out.extend_from_slice(&c.score.to_bits().to_be_bytes());
            out.extend_from_slice(&c.windows.to_be_bytes());
        }
    }
}

/// A follower's persisted chain state: `opt head`, `opt index_generated_at`.
fn put_chain(out: &mut Vec<u8>, state: &FollowerState) {
    put_opt(out, state.head, |out, h| {
        out.extend_from_slice(&h.sequence.to_be_bytes());
        out.extend_from_slice(&h.hash);
        out.extend_from_slice(&h.window_end.0.to_be_bytes());
    });
    put_opt(out, state.index_generated_at, |out, t| {
        out.extend_from_slice(&t.0.to_be_bytes())
    });
}

/// Reads what [`put_chain`] wrote.
fn read_chain(r: &mut Reader<'_>) -> Result<(Option<ChainHead>, Option<UnixTime>), DecodeError> {
    let head = read_opt(r, "head flag", |r| {
        let sequence = r.u64("head sequence")?;
        if sequence == 0 {
            return Err(DecodeError::OutOfRange("head sequence"));
        }
        Ok(ChainHead {
            sequence,
            hash: r.array("head hash")?,
            window_end: UnixTime(r.u64("head window end")?),
        })
    })?;
    let index_generated_at = read_opt(r, "index time flag", |r| {
        Ok(UnixTime(r.u64("index generated at")?))
    })?;
    Ok((head, index_generated_at))
}

/// Checks that `count` records of `len` bytes fit in what is left, before allocating them.
fn check_room(
    r: &Reader<'_>,
    count: usize,
    len: usize,
    what: &'static str,
) -> Result<(), DecodeError> {
    if r.remaining() < count * len {
        return Err(DecodeError::Truncated(what));
    }
    Ok(())
}

fn too_many(what: &'static str, count: usize, max: usize) -> DecodeError {
    DecodeError::TooMany {
        what,
        count: count as u64,
        max: max as u64,
    }
}

/// Strictly decodes a phone state (wire-format §9, version 3, 2 or 1) for a phone configured with
/// `config`, and `visited` for the visited regions it stored.
pub(super) fn decode(
    bytes: &[u8],
    config: FollowerConfig,
    visited: &[FollowerConfig],
) -> Result<Phone, Error> {
    let mut r = Reader::new(bytes);
    if &r.array::<4>("magic")? != MAGIC {
        return Err(DecodeError::BadMagic("phone state").into());
    }
    let version = match r.u8("version")? {
        v @ (VERSION_1 | VERSION_2 | VERSION) => v,
        v => return Err(DecodeError::UnsupportedVersion(v).into()),
    };
    let region = Region::read(&mut r)?;
    let (head, index_generated_at) = read_chain(&mut r)?;
    let risk = read_opt(&mut r, "risk configuration flag", RiskConfig::read_fields)?;

    let n = usize::from(r.u8("key count")?);
    if n > MAX_RING_KEYS {
        return Err(too_many("keys", n, MAX_RING_KEYS).into());
    }
    check_room(&r, n, KEY_LEN, "keys")?;
    let mut keys: Vec<(u32, TemporaryExposureKey)> = Vec::with_capacity(n);
    for _ in 0..n {
        let day = r.u32("key day")?;
        if day > KeyRing::LAST_DAY {
            return Err(DecodeError::OutOfRange("key day").into());
        }
        if keys.last().is_some_and(|(d, _)| *d >= day) {
            return Err(
                DecodeError::NonCanonical("keys must be by strictly increasing day").into(),
            );
        }
        keys.push((day, TemporaryExposureKey::from_bytes(r.array("key")?)));
    }

    let n = r.u32("scan count")? as usize;
    if n > MAX_SCANS {
        return Err(too_many("scans", n, MAX_SCANS).into());
    }
    check_room(&r, n, SCAN_LEN, "scans")?;
    let mut scans = Vec::with_capacity(n);
    let mut prev: Option<&[u8]> = None;
    for _ in 0..n {
        let raw = r.take(SCAN_LEN, "scan")?;
        if prev.is_some_and(|p| p > raw) {
            return Err(DecodeError::NonCanonical("scans must be in byte order").into());
        }
        prev = Some(raw);
        let mut s = Reader::new(raw);
        scans.push(Scan {
            time: UnixTime(s.u64("scan time")?),
            rpi: s.array("rpi")?,
            aem: s.array("aem")?,
            rssi: s.u8("rssi")? as i8,
            seconds: s.u16("seconds")?,
        });
    }

    let n = usize::from(r.u16("exposure count")?);
    if n > MAX_EXPOSURE_DAYS {
        return Err(too_many("exposure days", n, MAX_EXPOSURE_DAYS).into());
    }
    check_room(&r, n, EXPOSURE_LEN, "exposure days")?;
    let mut days: Vec<ExposureDay> = Vec::with_capacity(n);
    for _ in 0..n {
        let day = r.u64("exposure day")?;
        if days.last().is_some_and(|d| d.day >= day) {
            return Err(DecodeError::NonCanonical("exposure days must strictly increase").into());
        }
        let score_sum = f64::from_bits(r.u64("score")?);
        if !score_sum.is_finite() || score_sum.is_sign_negative() {
            return Err(DecodeError::OutOfRange("exposure score").into());
        }
        let windows = r.u32("window count")?;
        let bits = r.u8("report types")?;
        if windows == 0 || bits == 0 || bits >> TYPE_BITS.len() != 0 {
            return Err(DecodeError::OutOfRange("exposure day").into());
        }
        let report_types = TYPE_BITS
            .iter()
            .enumerate()
            .filter(|(i, _)| bits >> i & 1 == 1)
            .map(|(_, t)| *t)
            .collect();
        let newest_batch = r.u64("newest batch")?;
        if newest_batch == 0 {
            return Err(DecodeError::OutOfRange("newest batch").into());
        }
        days.push(ExposureDay {
            day,
            score_sum,
            windows,
            report_types,
            newest_batch,
        });
    }
    let stored = if version >= VERSION_2 {
        read_visited(&mut r, &region)?
    } else {
        Vec::new()
    };
    let matched = if version >= VERSION {
        read_matched(&mut r)?
    } else {
        Vec::new()
    };
    r.finish()?;

    if region != config.region {
        return Err(Error::Usage("the stored phone state is for another region"));
    }
    let mut regions = Vec::with_capacity(stored.len());
    for (vregion, last_visit_day, head, index_generated_at) in stored {
        let vconfig = visited
            .iter()
            .find(|c| c.region == vregion)
            .ok_or(Error::Usage(
                "the stored phone state follows a visited region the app gave no configuration for",
            ))?;
        let state = FollowerState {
            head,
            index_generated_at,
            config_issued_at: None,
        };
        regions.push(Visited {
            follower: KeyFollower::resume(vconfig.clone(), state),
            last_visit_day,
        });
    }
    let state = FollowerState {
        head,
        index_generated_at,
        config_issued_at: risk.as_ref().map(|c| c.issued_at),
    };
    Ok(Phone {
        keys: KeyRing::from_stored(keys),
        scans: ScanStore::new(scans),
        follower: KeyFollower::resume(config, state),
        visited: VisitedRegions { regions },
        risk,
        exposures: Exposures { days, matched },
    })
}

/// A stored visited region: code, last visit day, head, index time.
type StoredVisit = (Region, u64, Option<ChainHead>, Option<UnixTime>);

/// Reads version 3's matched keys: strictly increasing keys, none revoked, each with one to
/// [`MAX_KEY_DAYS`] contributions by strictly increasing day.
fn read_matched(r: &mut Reader<'_>) -> Result<Vec<MatchedKey>, DecodeError> {
    let n = usize::from(r.u16("matched key count")?);
    if n > MAX_MATCHED_KEYS {
        return Err(too_many("matched keys", n, MAX_MATCHED_KEYS));
    }
    check_room(r, n, MATCHED_LEN, "matched keys")?;
    let mut matched: Vec<MatchedKey> = Vec::with_capacity(n);
    for _ in 0..n {
        let key = TemporaryExposureKey::from_bytes(r.array("matched key")?);
        if matched
            .last()
            .is_some_and(|m| m.key.as_bytes() >= key.as_bytes())
        {
            return Err(DecodeError::NonCanonical(
                "matched keys must strictly increase",
            ));
        }
        let meta = KeyMetadata::from_bytes(&r.array("matched key metadata")?)?;
        if meta.report_type == ReportType::Revoked {
            return Err(DecodeError::OutOfRange("matched key report type"));
        }
        let batch = r.u64("matched key batch")?;
        let count = usize::from(r.u8("contribution count")?);
        if batch == 0 || count == 0 || count > MAX_KEY_DAYS {
            return Err(DecodeError::OutOfRange("matched key"));
        }
        let mut days: Vec<KeyContribution> = Vec::with_capacity(count);
        for _ in 0..count {
            let day = r.u64("contribution day")?;
            if days.last().is_some_and(|c| c.day >= day) {
                return Err(DecodeError::NonCanonical(
                    "contribution days must strictly increase",
                ));
            }
            let score = f64::from_bits(r.u64("contribution score")?);
            if !score.is_finite() || score.is_sign_negative() {
                return Err(DecodeError::OutOfRange("contribution score"));
            }
            let windows = r.u32("contribution windows")?;
            if windows == 0 {
                return Err(DecodeError::OutOfRange("contribution windows"));
            }
            days.push(KeyContribution {
                day,
                score,
                windows,
            });
        }
        matched.push(MatchedKey {
            key,
            meta,
            batch,
            days,
        });
    }
    Ok(matched)
}

/// Reads version 2's visited regions: strictly increasing codes, none the home region.
fn read_visited(r: &mut Reader<'_>, home: &Region) -> Result<Vec<StoredVisit>, DecodeError> {
    let n = usize::from(r.u8("visited region count")?);
    if n > MAX_VISITED_REGIONS {
        return Err(too_many("visited regions", n, MAX_VISITED_REGIONS));
    }
    check_room(r, n, VISITED_MIN_LEN, "visited regions")?;
    let mut out: Vec<StoredVisit> = Vec::with_capacity(n);
    for _ in 0..n {
        let region = Region::read(r)?;
        if &region == home {
            return Err(DecodeError::OutOfRange("visited region"));
        }
        if out
            .last()
            .is_some_and(|(prev, ..)| prev.as_str() >= region.as_str())
        {
            return Err(DecodeError::NonCanonical(
                "visited regions must be by strictly increasing code",
            ));
        }
        let day = r.u64("last visit day")?;
        let (head, index_generated_at) = read_chain(r)?;
        out.push((region, day, head, index_generated_at));
    }
    Ok(out)
}
