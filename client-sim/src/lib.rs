//! # en-sim
//!
//! The population simulator of the exposure-notification system, as a library (used by the
//! `en-sim` binary, its benchmarks and the tests): a deterministic world of people, phones and
//! an epidemic, driven against a real `en-server` ([`sim`]).
//!
//! The phone and authority clients it uses live in `en-client`; the binary's other commands
//! (`authority`, `phone`, `fetch`, `inspect`, `rpis`, `bench`) are thin wrappers around
//! `en-client` and `en-protocol`.
#![forbid(unsafe_code)]

pub mod sim;
pub mod stats;
