//! # en-sim
//!
//! The clients of the exposure-notification system and its researcher tools:
//! `rpis` (key-schedule check), and, as the binary grows, the authority and phone clients,
//! batch fetching and inspection, and the population simulator.
#![forbid(unsafe_code)]

pub mod cli_util;
pub mod rpis;
