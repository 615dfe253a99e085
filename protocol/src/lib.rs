//! # en-protocol
//!
//! The sans-IO core of a privacy-preserving exposure-notification system: everything that
//! defines a byte on the wire or a decision a phone makes, and nothing that does IO.
//!
//! - [`mod@derive`]: the Google/Apple Exposure Notification v1.2 key schedule
//!   (TEK → RPIK/AEMK → RPI/AEM), byte-exact with the published test vectors.
//! - [`wire`]: the formats, each with an encoder and a strict, canonical decoder:
//!   diagnosis keys, case reports, verification certificates, batches, indexes and risk
//!   configurations (`spec/wire-format.md` defines every byte); [`wire::chain`] describes a
//!   hash-chained batch kind to the phone's chain follower.
//! - [`verify`]: signature checks whose success is a type (`VerifiedCaseReport`, …).
//! - [`validate`]: the rules uploads must follow; [`tekmac`]: GAEN's key HMAC.
//! - [`accept`]: a server's acceptance rules; [`accept::AcceptedUpload`], the only value a
//!   store takes, can only come from a verified case report or certified upload.
//! - [`matching`]: the phone's scans and the joins of diagnosis keys against them;
//!   [`risk`]: exposure windows and their scores.
//! - [`phone`]: the phone as sans-IO state machines: [`phone::ChainFollower`] follows a batch
//!   chain and refuses stale, rolled-back, forked and gapped ones; [`phone::Phone`] owns the
//!   phone's keys, scans, exposures and their stored state.
//! - [`gaen`]: GAEN's export format, read and written for interoperability; [`keys`], [`time`],
//!   [`error`], [`hex`]: the shared vocabulary.
//! - [`venue`]: QR venue check-in (presence tracing) after CrowdNotifier: pairing-based
//!   identity-based encryption on BLS12-381, its formats, the phone's check-in store and matching.
//!
//! Guarantees: no tokio, sockets, files or clocks, and no OS randomness: time is an argument
//! (`now: UnixTime`), randomness a `&mut impl CryptoRngCore`. Secret keys have no `Copy`,
//! no `Display`, a redacted `Debug`, and are zeroized on drop. `unsafe` is forbidden.
//!
//! ```
//! use en_protocol::{derive::KeySchedule, keys::TemporaryExposureKey, time::IntervalNumber};
//!
//! // The published GAEN vector: TEK 75c734c6..., first interval 2642976.
//! let tek = TemporaryExposureKey::from_bytes(
//!     en_protocol::hex::decode_array("75c734c6dd1a782de7a965da5eb93125").unwrap(),
//! );
//! let ks = KeySchedule::new(&tek);
//! let rpi = ks.rpi(IntervalNumber(2_642_976));
//! assert_eq!(en_protocol::hex::encode(&rpi), "8be6cd371c5c891604bfbe49df845096");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod accept;
pub mod derive;
pub mod error;
pub mod gaen;
pub mod hex;
pub mod import;
pub mod keys;
pub mod matching;
pub mod phone;
pub mod revise;
pub mod risk;
pub mod selfreport;
pub mod tekmac;
pub mod time;
pub mod validate;
pub mod venue;
pub mod verify;
pub mod wire;

pub use error::{DecodeError, Error, FollowError, ValidationError, VerifyError};
pub use time::{IntervalNumber, UnixTime};
