//! Venue check-in (presence tracing), modelled on CrowdNotifier's basic scheme:
//! decentralised, pairing-based, with QR codes at venues' doors (spec/venue.md).
//!
//! Roles and flow, each step a function of this module (sans-IO: time and randomness are
//! arguments):
//!
//! 1. **Venue owner**, offline: [`setup()`] → the public [`EntryPayload`] (the entry QR code,
//!    [`EntryPayload::to_url`]) and the private [`TracingSecret`]. The master key is split
//!    between owner and health authority; the authority's share is sealed to the
//!    authority's [`SealingPublicKey`].
//! 2. **Visitor's phone**: [`VisitTracker`] holds the open visit; at check-out it yields one
//!    [`CheckInRecord`] per overlapped hour for the [`CheckInStore`]: an hour label, a
//!    4-bit tag and an identity-based ciphertext, never the venue.
//! 3. **Owner**, when the authority asks: [`TracingSecret::trace_request`] → a
//!    [`TraceRequest`] with partial keys (the owner's share never leaves the owner).
//! 4. **Authority**: [`TraceRequest::open`] completes and pairing-checks each key
//!    ([`CheckedTrace`]); [`TraceReport::new`] adds the message to visitors;
//!    [`TraceReport::sign`] (context `en/v1/venue-trace`).
//! 5. **Server**: [`SignedTraceReport::verify`] → [`VerifiedTraceReport`];
//!    [`VerifiedTraceReport::accept`] → [`AcceptedTrace`] (region, freshness, traced hours:
//!    the only trace a store takes); at each batch boundary [`pad_traces`] dedups the
//!    entries and pads them with [`fake_trace`]s into a [`TraceBatch`] (`ENTB`, context
//!    `en/v1/trace-batch`), listed by the trace index (`ENTX`, [`TraceBatches`]).
//! 6. **Phone**: follows the trace chain with a [`crate::phone::TraceFollower`] →
//!    [`VerifiedTraceBatch`];
//!    [`CheckInStore::match_batch`] → [`Notification`]s.
//!
//! ```
//! use en_protocol::venue::{self, CheckInStore, Hour, SealingSecretKey, SignedTraceReport, TraceReport};
//! use en_protocol::{keys::SigningKey, wire::{AuthorityId, Region}, UnixTime};
//! # use rand_chacha::rand_core::SeedableRng;
//! # let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
//! let ha_sealing = SealingSecretKey::generate(&mut rng);
//! let (payload, secret) = venue::setup(&mut rng, "Café Lâm", "60 Nguyễn Du", &ha_sealing.public_key())?;
//! let url = payload.to_url("venue.example")?;
//!
//! // A visitor scans the code and stays 09:10-10:20.
//! let scanned = venue::EntryPayload::from_url(&url, "venue.example")?;
//! let mut phone = CheckInStore::new();
//! phone.insert_visit(&scanned, UnixTime(1_767_258_600), UnixTime(1_767_262_800), &mut rng)?;
//! assert_eq!(phone.len(), 2); // 09:00 and 10:00
//!
//! // The owner and the authority trace 10:00-11:00.
//! let now = UnixTime(1_767_300_000);
//! let checked = secret.trace_request(&[Hour::containing(UnixTime(1_767_261_600))])?.open(&ha_sealing, now)?;
//! let ha = SigningKey::generate(&mut rng);
//! let id = AuthorityId::new("moh.vn")?;
//! let report = TraceReport::new(&checked, "Get tested; call 1900 9095.", id.clone(),
//!     Region::new("VN")?, now, [1; 16], &mut rng)?;
//! let bytes = report.sign(&ha)?;
//! # let mut registry = std::collections::BTreeMap::new();
//! # registry.insert(id, en_protocol::verify::AuthorityInfo { public_key: ha.public_key(), region: None, revoked: false });
//! let verified = SignedTraceReport::decode(&bytes)?.verify(&registry)?;
//! let found = venue::match_entries(&phone, verified.report().entries());
//! assert_eq!(found.notifications.len(), 1);
//! assert_eq!(found.notifications[0].overlap_seconds, 1_200);
//! assert_eq!(found.notifications[0].message.as_deref(), Some("Get tested; call 1900 9095."));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod accept;
pub mod batch;
pub mod bench;
pub mod checkin;
pub mod curve;
pub mod entry;
pub(crate) mod ibe;
pub(crate) mod ids;
pub mod labels;
pub mod matching;
pub mod padding;
pub mod report;
pub mod seal;
pub mod setup;
pub mod trace;
pub mod visit;

pub use accept::AcceptedTrace;
pub use batch::{fake_trace, SignedTraceBatch, TraceBatch, TraceBatches, VerifiedTraceBatch};
pub use checkin::{records_for_visit, CheckInRecord, CheckInStore};
pub use entry::EntryPayload;
pub use ibe::{CIPHERTEXT_LEN, PLAINTEXT_LEN};
pub use matching::{match_entries, try_match, MatchReport, Notification};
pub use padding::pad_traces;
pub use report::{SignedTraceReport, TraceEntry, TraceReport, VerifiedTraceReport};
pub use seal::{SealingPublicKey, SealingSecretKey};
pub use setup::{setup, TracingSecret};
pub use trace::{CheckedTrace, TraceRequest};
pub use visit::{CurrentVisit, ScanOutcome, VisitTracker};

use crate::error::DecodeError;
use crate::time::UnixTime;
use crate::wire::Reader;

/// Seconds per traced hour (CrowdNotifier's interval length L).
pub const HOUR_SECONDS: u64 = 3600;
/// Days a phone keeps check-in records, and how far back a trace may reach.
pub const RETENTION_DAYS: u32 = 14;
/// [`RETENTION_DAYS`] in hours.
pub const RETENTION_HOURS: u32 = RETENTION_DAYS * 24;

/// The signature contexts of the venue formats (spec/wire-format.md §8).
pub mod context {
    /// Trace reports signed by a health authority.
    pub const VENUE_TRACE: &[u8] = b"en/v1/venue-trace";
    /// Trace batches signed by the server's export key.
    pub const TRACE_BATCH: &[u8] = b"en/v1/trace-batch";
    /// The trace chain's index, signed by the server's export key
    /// ([`crate::wire::index::TRACE_INDEX`]).
    pub const TRACE_INDEX: &[u8] = b"en/v1/trace-index";
}

/// Hours since the Unix epoch: the unit of check-in records and traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hour(pub u32);

impl Hour {
    /// The hour containing `t` (saturating in the year 491,000).
    pub fn containing(t: UnixTime) -> Hour {
        Hour(u32::try_from(t.0 / HOUR_SECONDS).unwrap_or(u32::MAX))
    }
    /// The hour's first second.
    pub fn start(self) -> UnixTime {
        UnixTime(u64::from(self.0) * HOUR_SECONDS)
    }
    /// The first second after the hour.
    pub fn end(self) -> UnixTime {
        self.start().plus(HOUR_SECONDS)
    }
    /// The UTC day number of the hour.
    pub fn day(self) -> u32 {
        self.0 / 24
    }
}

/// Checks, before a decoder allocates for `n` bytes of records, that exactly `n` remain,
/// naming which way it fails.
pub(crate) fn exact_len(r: &Reader<'_>, n: usize, what: &'static str) -> Result<(), DecodeError> {
    match r.remaining() {
        m if m < n => Err(DecodeError::Truncated(what)),
        m if m > n => Err(DecodeError::TrailingBytes(m - n)),
        _ => Ok(()),
    }
}
