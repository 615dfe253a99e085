//! Many runs in parallel: each run (a variant and a seed) is a world and its counterfactual
//! against an in-process server of its own, on a worker thread with a current-thread async
//! runtime (the server's request handling runs on the same thread, so a worker is one
//! core's worth of work). Results come back in run order, whatever order they finish in.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use super::aggregate::{summarise, VariantSummary};
use super::config::SimConfig;
use super::error::SimError;
use super::outcome::Outcome;
use super::phases::Phases;
use super::report::Provenance;
use super::scenario::Scenario;
use super::server::SimServer;

/// One run's results.
#[non_exhaustive]
pub struct RunResult {
    /// Index of its variant in the scenario.
    pub variant: usize,
    /// The run, paired with its counterfactual.
    pub outcome: Outcome,
    /// Where its time went (world and counterfactual).
    pub phases: Phases,
    /// Wall seconds of the run and its counterfactual.
    pub wall_seconds: f64,
}

impl RunResult {
    /// A run's results (for runs made elsewhere, such as against a running server).
    pub fn new(variant: usize, outcome: Outcome, phases: Phases, wall_seconds: f64) -> Self {
        RunResult {
            variant,
            outcome,
            phases,
            wall_seconds,
        }
    }
}

/// Runs one configuration and its counterfactual against a fresh in-process server.
pub async fn run_one(cfg: SimConfig) -> Result<(Outcome, Phases), SimError> {
    let server = SimServer::for_config(&cfg).await?;
    let (out, server, phases) = super::run_paired(cfg, server, &|_, _| {}).await?;
    server.stop().await?;
    Ok((out, phases))
}

/// Runs every (variant, configuration) of `runs` on `workers` threads; `progress` is told
/// (runs done, runs). The first error stops the others and is returned.
pub fn run_all(
    runs: &[(usize, SimConfig)],
    workers: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<RunResult>, SimError> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<Option<RunResult>>> =
        Mutex::new((0..runs.len()).map(|_| None).collect());
    let failure: Mutex<Option<SimError>> = Mutex::new(None);
    let work = || -> Result<(), SimError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(SimError::Runtime)?;
        loop {
            let i = next.fetch_add(1, Ordering::SeqCst);
            if i >= runs.len() || stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            let (variant, cfg) = &runs[i];
            let start = Instant::now();
            let (outcome, phases) = rt.block_on(run_one(cfg.clone()))?;
            let r = RunResult {
                variant: *variant,
                outcome,
                phases,
                wall_seconds: start.elapsed().as_secs_f64(),
            };
            results.lock().expect("no worker panicked")[i] = Some(r);
            progress(done.fetch_add(1, Ordering::SeqCst) + 1, runs.len());
        }
    };
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, runs.len().max(1)) {
            s.spawn(|| {
                if let Err(e) = work() {
                    stop.store(true, Ordering::SeqCst);
                    failure.lock().expect("no worker panicked").get_or_insert(e);
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().expect("no worker panicked") {
        return Err(e);
    }
    Ok(results
        .into_inner()
        .expect("no worker panicked")
        .into_iter()
        .map(|r| r.expect("every run finished"))
        .collect())
}

/// A scenario's results over its seeds (summary.json).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ExperimentSummary {
    /// What made it.
    pub provenance: Option<Provenance>,
    /// The scenario's title.
    pub title: String,
    /// The x axis of the variants.
    pub x: Option<String>,
    /// Seeds per variant.
    pub seeds_per_variant: u32,
    /// The variants.
    pub variants: Vec<VariantSummary>,
}

/// Summarises `results` (in run order) of `scenario`.
pub fn summary(
    scenario: &Scenario,
    results: &[RunResult],
    provenance: Option<Provenance>,
) -> ExperimentSummary {
    let variants = scenario
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let outs: Vec<Outcome> = results
                .iter()
                .filter(|r| r.variant == i)
                .map(|r| r.outcome.clone())
                .collect();
            summarise(&v.label, v.x, &outs)
        })
        .collect();
    ExperimentSummary {
        provenance,
        title: scenario.title.clone(),
        x: scenario.x.clone(),
        seeds_per_variant: scenario.seeds,
        variants,
    }
}
