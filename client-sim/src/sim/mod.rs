//! `en-sim run`: a deterministic world of phones, people and an epidemic, against a real server.
//!
//! Each simulated day ([`World::step_day`]): people meet (sessions); the infection spreads;
//! symptomatic people and notified contacts get tested; confirmed app users upload their keys
//! to the server (half through the health authority's case report, half through the phone's
//! certified upload); every app user sends fake uploads on a real phone's chaff schedule; the
//! server closes the day's batch on the virtual clock; phones follow the chain with the
//! protocol's own state machine, match the new batches against their 14 days of scans, score
//! with the server's signed risk configuration, and are notified. Ground truth (who really
//! was a close contact of whom) is kept beside it to measure precision and recall.
//!
//! Determinism: everything random comes from ChaCha20 streams or SplitMix hashes derived
//! from `--seed`; the server's padding keys are random but never change a result. The same
//! seed gives a byte-identical `report.json` (timings go to `timing.json`).
//!
//! Scale: phones' scans are not stored; they are a deterministic function of the day's
//! sessions and are regenerated (RPI bytes, AEM, RSSI with noise) when a phone matches. The
//! batch's RPIs are derived once per day and shared by all phones
//! ([`en_protocol::matching::DerivedKeys`]); the per-phone windows and scores are computed by
//! the phone's own code (`risk`).
//!
//! Files: [`World`] (`world`) holds the state between days and `day` runs one; `contacts`,
//! `epidemic`, `population`, [`ble`] model the people and radios; `keys`, `sessions`,
//! `phones` regenerate scans and match; `uploads`, `chaff`, `follow` are the phones' and the
//! authority's traffic; `truth` the ground truth; `outcome` and [`report`] the results.

pub mod ble;
mod chaff;
mod config;
mod contacts;
mod day;
mod epidemic;
mod error;
mod follow;
mod keys;
mod outcome;
mod phones;
mod population;
pub mod report;
pub mod server;
mod sessions;
mod truth;
mod uploads;
mod world;

pub use config::{SimConfig, DEFAULT_CHAFF_PER_DAY};
pub use epidemic::EpidemicParams;
pub use error::SimError;
pub use outcome::{DayStats, Outcome, Summary};
pub use world::World;

use self::server::SimServer;

/// 2021-05-01 00:00 UTC: the simulation's day 0 (Kiên Giang, May 2021).
pub const EPOCH: u64 = 1_619_827_200;
/// Seconds between a phone's scans.
pub const SCAN_INTERVAL: u32 = 300;

/// Progress callback: (day done, days).
pub type Progress<'a> = &'a (dyn Fn(u32, u32) + Sync);

/// Runs `cfg.days` days against `server` and reports; gives the server back (to stop it).
pub async fn run(
    cfg: SimConfig,
    mut server: SimServer,
    progress: Progress<'_>,
) -> Result<(Outcome, SimServer), SimError> {
    let days = cfg.days;
    let mut world = World::new(cfg, &mut server).await?;
    while world.day() < days {
        world.step_day(&mut server).await?;
        progress(world.day(), days);
    }
    Ok((world.outcome(&server), server))
}
