//! A phone's venue check-ins, with the IO around `en-protocol`'s state machines: the visit
//! tracker and the check-in store in one state file (mode 0600), check-in and check-out,
//! what the phone may show its owner, and matching against downloaded trace batches.
//!
//! The state file is `u32 length ‖ visit state (ENVV) ‖ check-in store (ENVS)` (spec/venue.md
//! §8.3–8.4), each part strictly decoded. It holds an open visit's venue until check-out and
//! then only records that name no venue.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use en_protocol::error::DecodeError;
use en_protocol::venue::{
    CheckInStore, EntryPayload, Notification, TraceBatches, VerifiedTraceBatch, VisitTracker,
};
use en_protocol::verify::ExportKeys;
use en_protocol::wire::chain::ChainFormat;
use en_protocol::UnixTime;
use rand_core::CryptoRngCore;

use crate::fetch::TRACE_BATCH_PREFIX;
use crate::Error;

/// The host of check-in links this implementation's tools use unless told otherwise
/// (`https://venue.example/v#…`); a deployment sets its app's own.
pub const DEFAULT_HOST: &str = "venue.example";

/// A phone's venue state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VenuePhone {
    tracker: VisitTracker,
    store: CheckInStore,
}

/// What a scan did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// Records written for the visit the scan closed (0: none closed).
    pub closed_records: usize,
    /// The venue now checked in to, and when it checks out by itself; `None`: the scan
    /// checked out (the same code again).
    pub checked_in: Option<(String, UnixTime)>,
}

/// The open visit, as the phone shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenVisit {
    /// The venue's description.
    pub venue: String,
    /// When the visitor checked in.
    pub arrival: UnixTime,
    /// When the visit closes by itself.
    pub checkout_at: UnixTime,
}

/// What the phone may show its owner: the open visit, and how many records each UTC day
/// holds (records name no venue, so closed visits show no venue).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The open visit, if any.
    pub open: Option<OpenVisit>,
    /// UTC day number → hourly records of that day.
    pub records_per_day: BTreeMap<u32, usize>,
}

impl VenuePhone {
    /// No visit, no record.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let v = self.tracker.encode();
        let s = self.store.encode();
        let mut out = Vec::with_capacity(4 + v.len() + s.len());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(&v);
        out.extend_from_slice(&s);
        out
    }

    /// Strictly decodes a state file.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (len, rest) = bytes
            .split_at_checked(4)
            .ok_or(DecodeError::Truncated("venue state"))?;
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        let (v, s) = rest
            .split_at_checked(len)
            .ok_or(DecodeError::Truncated("visit state"))?;
        Ok(VenuePhone {
            tracker: VisitTracker::decode(v)?,
            store: CheckInStore::decode(s)?,
        })
    }

    /// Reads the state file; a missing file is a phone that never checked in.
    pub fn load(path: &Path) -> Result<Self, Error> {
        match std::fs::read(path) {
            Ok(b) => Self::decode(&b).map_err(|e| {
                Error::protocol(format!("the venue state file {}", path.display()), e)
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::new()),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Writes the state file atomically, mode 0600 (it holds an open visit's venue).
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let mut tmp = PathBuf::from(path);
        tmp.as_mut_os_string().push(".tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let write = || -> std::io::Result<()> {
            let mut f = opts.open(&tmp)?;
            f.write_all(&self.encode())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| Error::io("write", path, e))
    }

    /// What the phone's timer does at `now`: closes a visit past its automatic check-out and
    /// deletes records older than 14 days. Returns the records the closed visit wrote.
    pub fn tick(&mut self, now: UnixTime, rng: &mut impl CryptoRngCore) -> usize {
        let closed = self.tracker.handle_timeout(now, rng);
        let n = closed.len();
        self.store.insert(closed);
        self.store.prune(now);
        n
    }

    /// A scanned entry code at `now` (after [`Self::tick`]): checks in, or out if it is the
    /// open visit's code, or out of the open visit and into this one. The visit closes by
    /// itself after `duration` seconds (1 s to 24 h).
    pub fn scan(
        &mut self,
        payload: EntryPayload,
        now: UnixTime,
        duration: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Scanned, Error> {
        let closed = self.tick(now, rng);
        let venue = payload.description().to_string();
        let out = self
            .tracker
            .handle_scan(payload, now, duration, rng)
            .map_err(|e| Error::protocol("the check-in", e))?;
        let n = out.closed.len();
        self.store.insert(out.closed);
        Ok(Scanned {
            closed_records: closed + n,
            checked_in: out
                .checked_in
                .then(|| (venue, self.tracker.poll_timeout().unwrap_or(now))),
        })
    }

    /// Checks out of the open visit at `now`; the records written, `None` with no open visit.
    pub fn check_out(&mut self, now: UnixTime, rng: &mut impl CryptoRngCore) -> Option<usize> {
        let timed_out = self.tick(now, rng);
        if timed_out > 0 {
            return Some(timed_out);
        }
        self.tracker.current()?;
        let records = self.tracker.handle_check_out(now, rng);
        let n = records.len();
        self.store.insert(records);
        Some(n)
    }

    /// What the phone may show its owner.
    pub fn summary(&self) -> Summary {
        let mut records_per_day = BTreeMap::new();
        for r in self.store.records() {
            *records_per_day.entry(r.hour().day()).or_default() += 1;
        }
        Summary {
            open: self.tracker.current().map(|v| OpenVisit {
                venue: v.payload().description().to_string(),
                arrival: v.arrival(),
                checkout_at: v.checkout_at(),
            }),
            records_per_day,
        }
    }

    /// Matches the stored check-ins against verified trace batches: one notification per
    /// (record, traced venue-hour) that decrypts and overlaps; a venue-hour published in two
    /// batches notifies once.
    pub fn match_batches(&self, batches: &[VerifiedTraceBatch]) -> Vec<Notification> {
        let mut out: Vec<Notification> = Vec::new();
        for b in batches {
            for n in self.store.match_batch(b).notifications {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }
}

/// Reads every trace batch `en-sim fetch` wrote into `dir` (`trace-batch-*.bin`), oldest
/// first, verifying each with `trusted` again (the directory is only a cache).
pub fn read_trace_batches(
    dir: &Path,
    trusted: &ExportKeys,
) -> Result<Vec<VerifiedTraceBatch>, Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("read", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(TRACE_BATCH_PREFIX) && n.ends_with(".bin"))
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).map_err(|e| Error::io("read", p, e))?;
            TraceBatches::decode_verify(&bytes, trusted)
                .map_err(|e| Error::protocol(p.display().to_string(), e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use en_protocol::venue::{bench::FixtureRng, setup, SealingSecretKey};

    const T: u64 = 1_767_258_600; // 2026-01-01 09:10 UTC

    #[test]
    fn check_in_out_and_the_state_file() {
        let mut rng = FixtureRng::new(1);
        let ha = SealingSecretKey::generate(&mut rng);
        let (p, _) = setup(&mut rng, "Café", "", &ha.public_key()).unwrap();
        let (q, _) = setup(&mut rng, "Phở", "", &ha.public_key()).unwrap();
        let mut phone = VenuePhone::new();
        let s = phone.scan(p.clone(), UnixTime(T), 7200, &mut rng).unwrap();
        assert_eq!(s.checked_in, Some(("Café".into(), UnixTime(T + 7200))));
        assert_eq!(phone.summary().open.unwrap().venue, "Café");
        // Another code: out of the café (09:10-09:40, one hour), into the phở shop.
        let s = phone.scan(q, UnixTime(T + 1800), 7200, &mut rng).unwrap();
        assert_eq!(s.closed_records, 1);
        // Its automatic check-out passes (11:40); a check-out afterwards finds it closed.
        assert_eq!(phone.check_out(UnixTime(T + 20_000), &mut rng), Some(3));
        assert_eq!(phone.check_out(UnixTime(T + 20_001), &mut rng), None);
        let sum = phone.summary();
        assert_eq!(sum.open, None);
        assert_eq!(sum.records_per_day.values().sum::<usize>(), 4);
        // The same code twice: in, then out.
        phone
            .scan(p.clone(), UnixTime(T + 30_000), 3600, &mut rng)
            .unwrap();
        let s = phone.scan(p, UnixTime(T + 30_600), 3600, &mut rng).unwrap();
        assert_eq!((s.checked_in, s.closed_records), (None, 1));
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("venues.state");
        phone.save(&f).unwrap();
        assert_eq!(VenuePhone::load(&f).unwrap(), phone);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&f).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let b = phone.encode();
        for n in [0, 3, 4, b.len() - 1] {
            assert!(VenuePhone::decode(&b[..n]).is_err(), "prefix {n}");
        }
        assert!(VenuePhone::decode(&[b.as_slice(), &[0]].concat()).is_err());
        assert_eq!(
            VenuePhone::load(&d.path().join("absent")).unwrap(),
            VenuePhone::new()
        );
    }
}
