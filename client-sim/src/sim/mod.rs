//! `en-sim run`: a deterministic world of phones, people and an epidemic, against a real
//! server, paired with its counterfactual.
//!
//! Each simulated day ([`World::step_day`]) first runs the day's timed events on the
//! virtual clock: test results (sought for symptoms or after a notification, with delays
//! from distributions); uploads of confirmed app users (half through the health authority's
//! case report, half through the phone's certified upload); fake uploads on each phone's
//! chaff schedule; the server closing a batch every `batch_period_seconds`, the reference
//! phone and independent fetchers following the chain with the protocol's own state
//! machine; and each phone fetching on its own schedule, matching what it fetched against
//! its 14 days of scans, scoring with the server's signed risk configuration, notifying.
//! Then the day's contacts take place (those of people isolating by then are dropped) and
//! transmit. Ground truth (who really was a close contact of whom) is kept beside it.
//!
//! Counterfactual: [`World::counterfactual`] is the same world with the app switched off.
//! All randomness comes from named streams keyed by what they decide (`streams`), so both
//! worlds draw the same contacts, coins and courses; [`run_paired`] reports the difference
//! (infections and hospitalisations averted) and the cost (quarantine imposed on people
//! who were not infected).
//!
//! Determinism: the same configuration gives a byte-identical `report.json` (timings go to
//! `timing.json`); the server's padding keys come from a seeded generator.
//!
//! Scale: phones' scans are not stored; they are regenerated (RPI bytes, AEM, RSSI with
//! noise) when a phone matches, and only for the phones that met an owner of a batch's keys
//! (`matching` says why that is exact). A batch's RPIs are derived once for all phones.
//!
//! Files: [`World`] (`world`) holds the state and `day` runs one; `events` is the agenda;
//! `contacts`, `places`, `population`, `epidemic`, `timing`, [`ble`] model people, places,
//! radios and delays; `testing`, `uploads`, `batches`, `matching`, `keys`, `chaff`,
//! `follow` are tests, the phones' and the authority's traffic; `sniffer` and `track` the
//! Bluetooth adversary; `truth` the ground truth; `venues` venue check-in and presence
//! tracing with the real venue crypto (QR codes, check-ins, interviews, traces, matching,
//! presence-contact ground truth); `outcome` the results; `experiment`
//! runs many seeds, [`aggregate`] summarises them, [`scenario`] reads scenario files,
//! [`report`], [`figures`] and [`svg`] write the outputs.

pub mod aggregate;
mod batches;
pub mod ble;
mod chaff;
mod config;
mod contacts;
mod day;
mod epidemic;
mod error;
mod events;
pub mod experiment;
pub mod figures;
mod follow;
mod keys;
mod matching;
mod outcome;
mod phases;
mod places;
mod population;
pub mod report;
pub mod scenario;
pub mod server;
mod sessions;
mod sniffer;
mod streams;
pub mod svg;
mod testing;
mod timing;
mod track;
pub mod travel;
mod truth;
mod uploads;
mod venues;
mod world;

pub use config::{SimConfig, DEFAULT_CHAFF_PER_DAY};
pub use epidemic::EpidemicParams;
pub use error::SimError;
pub use outcome::{Counterfactual, DayStats, Delays, EpidemicSummary, Outcome, Summary};
pub use phases::Phases;
pub use population::{PopulationParams, AGE_BANDS};
pub use sniffer::{SnifferParams, SnifferReport, SnifferRow};
pub use timing::{Delay, TimingParams};
pub use track::{fractions, link, Fractions, Linkage, Piece, Track};
pub use venues::{Union, VenueOutcome, VenueParams};
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
    server: SimServer,
    progress: Progress<'_>,
) -> Result<(Outcome, SimServer), SimError> {
    let (out, server, _) = run_timed(cfg, server, progress).await?;
    Ok((out, server))
}

/// [`run`], also giving where the time went.
pub async fn run_timed(
    cfg: SimConfig,
    mut server: SimServer,
    progress: Progress<'_>,
) -> Result<(Outcome, SimServer, Phases), SimError> {
    let days = cfg.days;
    let mut world = World::new(cfg, &mut server).await?;
    while world.day() < days {
        world.step_day(Some(&mut server)).await?;
        progress(world.day(), days);
    }
    let out = world
        .outcome(&server)
        .expect("a world with the app has an outcome");
    Ok((out, server, world.phases().clone()))
}

/// Runs the counterfactual of `cfg`: the same world with the app switched off.
pub async fn counterfactual(cfg: SimConfig) -> Result<(EpidemicSummary, Phases), SimError> {
    let days = cfg.days;
    let mut world = World::counterfactual(cfg)?;
    while world.day() < days {
        world.step_day(None).await?;
    }
    Ok((world.epidemic(), world.phases().clone()))
}

/// Records in `out` its comparison with its counterfactual `cf`.
pub fn pair(out: &mut Outcome, cf: EpidemicSummary) {
    let averted = cf.infections as i64 - out.epidemic.infections as i64;
    out.counterfactual = Some(Counterfactual {
        infections_averted: averted,
        hospitalisations_averted: cf.hospitalisations - out.epidemic.hospitalisations,
        quarantine_days_uninfected_per_infection_averted: (averted > 0)
            .then(|| out.quarantine_days_uninfected / averted as f64),
        epidemic: cf,
    });
}

/// [`run`] and its counterfactual, paired.
pub async fn run_paired(
    cfg: SimConfig,
    server: SimServer,
    progress: Progress<'_>,
) -> Result<(Outcome, SimServer, Phases), SimError> {
    let (cf, cf_phases) = counterfactual(cfg.clone()).await?;
    let (mut out, server, mut phases) = run_timed(cfg, server, progress).await?;
    pair(&mut out, cf);
    phases.merge(&cf_phases);
    Ok((out, server, phases))
}
