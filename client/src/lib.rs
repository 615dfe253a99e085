//! # en-client
//!
//! What talks to an `en-server`, without depending on it (only on `en-protocol` for the
//! formats and rules, and `en-api` for the HTTP contract):
//!
//! - [`transport`]: the HTTPS client (rustls), with refusals as typed errors;
//! - [`authority`]: a health authority's case reports and verification certificates;
//! - [`phone`]: a phone's keys, tekmac, certified and fake uploads;
//! - [`verify`]: a phone redeems a verification code for a certificate and uploads;
//! - [`fetch`]: a phone's downloads: the index and new batches, each verified and chained,
//!   for both chains (keys, venue traces);
//! - [`venue`]: a phone's venue check-ins (state file, check-in and -out, matching against
//!   trace batches); [`trace`]: a venue owner's trace request and a health authority's
//!   trace report and its upload;
//! - [`inspect`]: verifies a downloaded batch or a GAEN `export.zip` and describes it.
//!
//! The protocol decisions (signatures, chain rules, upload rules) are made in `en-protocol`;
//! this crate moves bytes and reads files.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod authority;
mod error;
pub mod fetch;
pub mod inspect;
pub mod phone;
pub mod regions;
pub mod selfreport;
pub mod trace;
pub mod transport;
pub mod venue;
pub mod verify;

pub use error::{Error, Refused};

/// The current time as the protocol sees it (the system clock).
pub fn now() -> en_protocol::UnixTime {
    en_protocol::UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}
