//! The visit in progress (`ENVV`, part of the phone's persisted state): check-in, check-out,
//! automatic check-out, and a re-scan of the same code as check-out. A sans-IO state
//! machine in quinn's shape: input through `handle_*`, the next deadline from
//! [`VisitTracker::poll_timeout`], records out when a visit closes.
//!
//! While a visit is open the phone necessarily holds the venue's payload (the records can
//! only be encrypted once the departure is known), so during a visit the venue *is*
//! readable from storage. At check-out the payload is dropped and only records remain.

use rand_core::CryptoRngCore;

use super::checkin::{records_for_visit, CheckInRecord, MAX_VISIT_SECONDS};
use super::entry::EntryPayload;
use crate::error::{DecodeError, Error};
use crate::time::UnixTime;
use crate::wire::{put_header, Reader};

/// Magic of the persisted visit state.
pub const MAGIC: &[u8; 4] = b"ENVV";
/// Automatic check-out after this long unless the caller chooses another duration.
pub const DEFAULT_VISIT_SECONDS: u64 = 2 * 3600;

/// An open visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentVisit {
    payload: EntryPayload,
    arrival: UnixTime,
    checkout_at: UnixTime,
}

impl CurrentVisit {
    /// The venue (show its description while checked in).
    pub fn payload(&self) -> &EntryPayload {
        &self.payload
    }
    /// When the visitor checked in.
    pub fn arrival(&self) -> UnixTime {
        self.arrival
    }
    /// When the visit closes by itself.
    pub fn checkout_at(&self) -> UnixTime {
        self.checkout_at
    }
    /// Closes the visit at `now`, clamped to `[arrival + 1 s, checkout_at]` (a clock that
    /// went backwards still yields a one-second visit, never an error).
    fn close(self, now: UnixTime, rng: &mut impl CryptoRngCore) -> Vec<CheckInRecord> {
        let departure = now.max(self.arrival.plus(1)).min(self.checkout_at);
        records_for_visit(&self.payload, self.arrival, departure, rng)
            .expect("arrival < departure <= arrival + MAX_VISIT_SECONDS by construction")
    }
}

/// What a scan did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOutcome {
    /// Records of the visit the scan closed (the same code scanned again, another code, or
    /// an open visit that had passed its automatic check-out): add them to the store.
    pub closed: Vec<CheckInRecord>,
    /// Whether the scan opened a new visit.
    pub checked_in: bool,
}

/// The phone's visit state: at most one open visit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisitTracker {
    current: Option<CurrentVisit>,
}

impl VisitTracker {
    /// No open visit.
    pub fn new() -> Self {
        Self::default()
    }

    /// The open visit, if any.
    pub fn current(&self) -> Option<&CurrentVisit> {
        self.current.as_ref()
    }

    /// A scanned entry code at `now`. Scanning the open visit's code checks out; another
    /// code checks out of the open visit and into the new one; with no open visit it
    /// checks in, to close by itself after `duration` seconds (1 to 24 hours; the app
    /// offers [`DEFAULT_VISIT_SECONDS`]).
    pub fn handle_scan(
        &mut self,
        payload: EntryPayload,
        now: UnixTime,
        duration: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<ScanOutcome, Error> {
        if duration == 0 || duration > MAX_VISIT_SECONDS {
            return Err(Error::Usage("a visit lasts 1 second to 24 hours"));
        }
        if now.0 > u64::MAX - MAX_VISIT_SECONDS {
            return Err(Error::Usage("the time is out of range"));
        }
        let mut closed = self.handle_timeout(now, rng);
        if let Some(v) = self.current.take() {
            let same = v.payload == payload;
            closed.extend(v.close(now, rng));
            if same {
                return Ok(ScanOutcome {
                    closed,
                    checked_in: false,
                });
            }
        }
        self.current = Some(CurrentVisit {
            payload,
            arrival: now,
            checkout_at: now.plus(duration),
        });
        Ok(ScanOutcome {
            closed,
            checked_in: true,
        })
    }

    /// The visitor checks out by hand; the records of the open visit, if any.
    pub fn handle_check_out(
        &mut self,
        now: UnixTime,
        rng: &mut impl CryptoRngCore,
    ) -> Vec<CheckInRecord> {
        self.current
            .take()
            .map(|v| v.close(now, rng))
            .unwrap_or_default()
    }

    /// When [`Self::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        self.current.as_ref().map(|v| v.checkout_at)
    }

    /// Closes the open visit at its automatic check-out time if `now` has reached it.
    pub fn handle_timeout(
        &mut self,
        now: UnixTime,
        rng: &mut impl CryptoRngCore,
    ) -> Vec<CheckInRecord> {
        match &self.current {
            Some(v) if now >= v.checkout_at => self.handle_check_out(now, rng),
            _ => Vec::new(),
        }
    }

    /// Encodes: magic ‖ version ‖ flag u8 (0: no visit; 1: a visit follows) ‖
    /// [payload ‖ arrival u64 ‖ checkout_at u64].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + 350);
        put_header(&mut out, MAGIC);
        match &self.current {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                out.extend_from_slice(v.payload.encode());
                out.extend_from_slice(&v.arrival.0.to_be_bytes());
                out.extend_from_slice(&v.checkout_at.0.to_be_bytes());
            }
        }
        out
    }

    /// Strictly decodes the state; `checkout_at` must be after `arrival` by at most 24 hours.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC, "visit state")?;
        let current = match r.u8("visit flag")? {
            0 => None,
            1 => {
                let payload = EntryPayload::read(&mut r)?;
                let arrival = UnixTime(r.u64("arrival")?);
                let checkout_at = UnixTime(r.u64("check-out time")?);
                if checkout_at <= arrival || checkout_at.0 - arrival.0 > MAX_VISIT_SECONDS {
                    return Err(DecodeError::OutOfRange("check-out time"));
                }
                Some(CurrentVisit {
                    payload,
                    arrival,
                    checkout_at,
                })
            }
            _ => return Err(DecodeError::OutOfRange("visit flag")),
        };
        r.finish()?;
        Ok(VisitTracker { current })
    }
}
