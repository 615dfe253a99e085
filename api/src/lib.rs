//! # en-api
//!
//! The contract between `en-server` and its clients, in one small crate that both depend on
//! (so that no client depends on the server):
//!
//! - [`json`]: the JSON bodies of the HTTP API (`spec/api.md`);
//! - [`ErrorCode`]: every error code the server answers with, its HTTP status and when it is
//!   used — the one table; a test checks it against `spec/api.md`;
//! - [`self_report`]: the self-report endpoints' bodies (VOPRF tokens for test-kit codes);
//! - [`verify`] and [`date`]: verification codes, their JSON bodies and calendar dates;
//! - [`keyfile`]: the files people pass around: a phone's keys (`KEYS.json`), signing keys
//!   (secret, mode 0600, labelled so they are never mistaken for public keys) and public keys;
//! - [`venue_files`]: the same for venue check-in: the authority's sealing key and a venue
//!   owner's tracing secret;
//! - `cli` (feature `cli`): the exit conventions of both binaries.
//!
//! ```
//! use en_api::ErrorCode;
//! assert_eq!(ErrorCode::Replayed.as_str(), "replayed");
//! assert_eq!(ErrorCode::Replayed.status(), 409);
//! assert_eq!(ErrorCode::from_str("replayed"), Some(ErrorCode::Replayed));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;
pub mod date;
mod error_code;
pub mod json;
pub mod keyfile;
pub mod self_report;
pub mod venue_files;
pub mod verify;

pub use error_code::ErrorCode;
