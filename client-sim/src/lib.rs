//! # en-sim
//!
//! The clients of the exposure-notification system and its researcher tools, as a library
//! (used by the `en-sim` binary and by the end-to-end tests):
//!
//! - [`rpis`]: print a TEK's RPIs/AEMs to check other implementations;
//! - [`authority`]: case reports and verification certificates;
//! - [`transport`]: the HTTPS client; [`fetch`]: index → batches with signature and chain checks.
#![forbid(unsafe_code)]

pub mod authority;
pub mod bench;
pub mod cli_util;
pub mod fetch;
pub mod rpis;
pub mod sim;
pub mod transport;

/// The current time as the protocol sees it.
pub fn now() -> en_protocol::UnixTime {
    en_protocol::UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}
