//! `en-sim run` and `en-sim sweep`: a scenario (a `--config` file, command-line options on
//! top) run over its variants and seeds in parallel, each paired with its counterfactual;
//! outputs, progress and timings.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use en_sim::sim::experiment::{self, RunResult};
use en_sim::sim::report::{self, Provenance};
use en_sim::sim::scenario::Scenario;
use en_sim::sim::server::{External, SimServer};
use en_sim::sim::{figures, Phases, EPOCH};
use toml::{Table, Value};

/// Arguments of `en-sim run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Fraction of people using the app (default 0.6; Kiên Giang reported 0.126 in May 2021).
    #[arg(long)]
    adoption: Option<f64>,
    #[command(flatten)]
    common: Common,
}

impl RunArgs {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let mut over = self.common.sim.overrides();
        if let Some(a) = self.adoption {
            over.insert("adoption".into(), Value::Float(a));
        }
        let scenario = self.common.scenario(&over)?;
        self.common.execute(scenario)
    }
}

/// Arguments of `en-sim sweep`.
#[derive(clap::Args)]
pub struct SweepArgs {
    /// Adoption levels, comma-separated (replace the scenario's variants).
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.3,0.6,1.0")]
    adoption: Vec<f64>,
    #[command(flatten)]
    common: Common,
}

impl SweepArgs {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let mut scenario = self.common.scenario(&self.common.sim.overrides())?;
        scenario.sweep_adoption(&self.adoption)?;
        self.common.execute(scenario)
    }
}

/// What `run` and `sweep` share: the scenario, seeds, workers, output.
#[derive(clap::Args)]
struct Common {
    /// A scenario file (TOML; see client-sim/scenarios/): the options below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seeds per variant (seed, seed + 1, …), run in parallel; results are means with 95 %
    /// intervals (default: the scenario's, or 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    seeds: Option<u32>,
    /// Runs in parallel (default: the number of cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    jobs: Option<u32>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    sim: SimArgs,
}

/// Options shared by `run` and `sweep`; each overrides the scenario (defaults in brackets
/// are the simulator's when neither sets it).
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// First seed [1]: the same seed gives a byte-identical report.json.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of people, each with a phone [10000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(10..=2_000_000))]
    pub phones: Option<u64>,
    /// Simulated days [21].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=120))]
    pub days: Option<u32>,
    /// RSSI noise per scan (standard deviation, dB) [4]; 0 for a noiseless channel.
    #[arg(long)]
    pub noise_db: Option<f64>,
    /// Scale of the per-model calibration offsets [1] (0: all phones perfectly calibrated).
    #[arg(long)]
    pub calibration: Option<f64>,
    /// Ground truth: minutes of contact that make a close contact [15].
    #[arg(long)]
    pub close_minutes: Option<u32>,
    /// Ground truth: distance in metres within which contact counts [2].
    #[arg(long)]
    pub close_metres: Option<f64>,
    /// Fraction of uploads made by the health authority [0.5] (the rest: phone uploads).
    #[arg(long)]
    pub case_report_share: Option<f64>,
    /// Transmission rate per minute at 1 m [0.003] (controls the epidemic's growth).
    #[arg(long)]
    pub beta: Option<f64>,
    /// Notified people do not quarantine (to compare with the default, where they do).
    #[arg(long)]
    pub no_isolation: bool,
    /// Probability that an app user sends a fake upload on a given day [0.1] (0 for none).
    #[arg(long)]
    pub chaff_per_day: Option<f64>,
    /// Seconds between the server's batches [7200]; must divide 86400.
    #[arg(long)]
    pub batch_period: Option<u32>,
    /// Seconds between a phone's fetches [14400].
    #[arg(long)]
    pub fetch_interval: Option<u32>,
    /// Venue check-in: probability that an app user checks in at a venue they visit
    /// (gives every venue a QR code; each check-in hour costs an encryption and each
    /// candidate record of a published trace a pairing, ~1 ms: keep populations modest).
    #[arg(long)]
    pub checkin_rate: Option<f64>,
    /// Venue check-in: probability that a visitor forgets to check out [0.2].
    #[arg(long)]
    pub forget_checkout: Option<f64>,
    /// Venue check-in: probability that an interviewed case recalls a venue visit [0.8].
    #[arg(long)]
    pub recall_venues: Option<f64>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Target a running server instead of starting one in process (one run only). It must
    /// run with `--virtual-clock FILE` (the simulator drives its clock through FILE) and the
    /// scenario's batch period, and have `--authority` registered with `--authority-key`.
    #[arg(long, requires_all = ["server_clock_file", "public_key", "authority_key"])]
    pub server: Option<String>,
    /// CA certificate (PEM) of the running server.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Export public key(s) of the running server (hex).
    #[arg(long = "public-key", value_delimiter = ',')]
    pub public_key: Vec<String>,
    /// Authority id registered on the running server.
    #[arg(long, default_value = en_sim::sim::server::AUTHORITY)]
    pub authority: String,
    /// That authority's private key file.
    #[arg(long)]
    pub authority_key: Option<PathBuf>,
    /// The file the running server's `--virtual-clock` follows.
    #[arg(long)]
    pub server_clock_file: Option<PathBuf>,
    /// The running server's audience.
    #[arg(long, default_value = "en-server:VN")]
    pub audience: String,
    /// The region the running server publishes for.
    #[arg(long, default_value = en_sim::sim::server::REGION)]
    pub region: String,
}

impl SimArgs {
    /// The options given, as scenario overrides.
    fn overrides(&self) -> Table {
        let mut t = Table::new();
        let mut put = |path: &[&str], v: Value| {
            let mut table = &mut t;
            for p in &path[..path.len() - 1] {
                table = table
                    .entry(p.to_string())
                    .or_insert_with(|| Value::Table(Table::new()))
                    .as_table_mut()
                    .expect("a table");
            }
            table.insert(path[path.len() - 1].to_string(), v);
        };
        let int = |v: u64| Value::Integer(v as i64);
        if let Some(v) = self.seed {
            put(&["seed"], int(v));
        }
        if let Some(v) = self.phones {
            put(&["phones"], int(v));
        }
        if let Some(v) = self.days {
            put(&["days"], int(u64::from(v)));
        }
        for (name, v) in [
            ("noise_db", self.noise_db),
            ("calibration_scale", self.calibration),
            ("close_metres", self.close_metres),
            ("case_report_share", self.case_report_share),
            ("chaff_per_day", self.chaff_per_day),
        ] {
            if let Some(v) = v {
                put(&[name], Value::Float(v));
            }
        }
        for (name, v) in [
            ("checkin_rate", self.checkin_rate),
            ("forget_checkout", self.forget_checkout),
            ("recall_venues", self.recall_venues),
        ] {
            if let Some(v) = v {
                put(&["venues", name], Value::Float(v));
            }
        }
        if let Some(v) = self.close_minutes {
            put(&["close_minutes"], int(u64::from(v)));
        }
        if let Some(v) = self.beta {
            put(&["epidemic", "beta"], Value::Float(v));
        }
        if self.no_isolation {
            put(&["epidemic", "notified_isolate"], Value::Boolean(false));
        }
        if let Some(v) = self.batch_period {
            put(&["timing", "batch_period_seconds"], int(u64::from(v)));
        }
        if let Some(v) = self.fetch_interval {
            put(&["timing", "fetch_interval_seconds"], int(u64::from(v)));
        }
        t
    }

    async fn external(&self, period: u32) -> anyhow::Result<SimServer> {
        let url = self.server.clone().expect("checked by the caller");
        let mut e = External::new(
            url,
            self.public_key.clone(),
            self.authority_key.clone().expect("required by clap"),
            self.server_clock_file.clone().expect("required by clap"),
        );
        e.ca = self.ca.clone();
        e.authority = self.authority.clone();
        e.audience = self.audience.clone();
        e.region = self.region.clone();
        e.batch_period_seconds = period;
        Ok(SimServer::external(e, en_protocol::UnixTime(EPOCH))?)
    }
}

/// A progress bar of `len` steps (hidden with `--quiet`).
pub(crate) fn bar(len: u64, quiet: bool, template: &str, label: String) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template"));
    pb.set_message(label);
    pb
}

/// Peak RSS, process CPU and the load average, from /proc (Linux).
fn proc_stats() -> serde_json::Value {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .map(|t| t / 100.0)
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    serde_json::json!({"peak_rss_mib": kib("VmHWM:").map(|k| k / 1024), "process_cpu_user_s": ticks(11),
        "process_cpu_system_s": ticks(12), "loadavg_at_end": load.trim()})
}

impl Common {
    fn scenario(&self, over: &Table) -> anyhow::Result<Scenario> {
        let mut s = match &self.config {
            Some(path) => Scenario::load(path, over)?,
            None => Scenario::from_overrides(over)?,
        };
        if let Some(n) = self.seeds {
            s.seeds = n;
        }
        Ok(s)
    }

    fn execute(&self, scenario: Scenario) -> anyhow::Result<()> {
        let provenance = Provenance::of_this_process(scenario.source.clone());
        let runs = scenario.runs();
        let start = Instant::now();
        let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let results: Vec<RunResult> = if self.sim.server.is_some() {
            anyhow::ensure!(runs.len() == 1, "--server runs one seed of one variant");
            vec![self.external_run(&runs[0].1)?]
        } else {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            let jobs = self.jobs.map_or(cores, |j| j as usize);
            let pb = bar(
                runs.len() as u64,
                self.sim.quiet,
                "{msg} [{elapsed_precise}] {bar:40} {pos}/{len} runs (eta {eta})",
                format!(
                    "{} runs (each with its counterfactual) on {jobs} workers",
                    runs.len()
                ),
            );
            let r = experiment::run_all(&runs, jobs, &|done, _| pb.set_position(done as u64))?;
            pb.finish_and_clear();
            r
        };
        let wall = start.elapsed().as_secs_f64();
        let mut phases = Phases::default();
        for r in &results {
            phases.merge(&r.phases);
        }
        let phones = runs[0].1.phones as f64;
        let phone_days: f64 = runs
            .iter()
            .map(|(_, c)| c.phones as f64 * f64::from(c.days))
            .sum();
        let timing = serde_json::json!({
            "wall_seconds": wall,
            "runs": runs.len(),
            "phones_first_run": phones,
            "phone_days_per_second": phone_days / wall,
            "run_wall_seconds": results.iter().map(|r| r.wall_seconds).collect::<Vec<_>>(),
            "phases_seconds_summed_over_runs": phases,
            "process": proc_stats(),
            "loadavg_at_start": load_before.trim(),
            "note": "phases are wall seconds per phase summed over runs (a run includes its counterfactual); thread_cpu is the CPU time of the worker threads running the worlds and their in-process servers",
        });
        let out = &self.out;
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        if results.len() == 1 {
            let o = &results[0].outcome;
            report::write(out, o, Some(&provenance))?;
            println!("{}", report::summary_table(o, wall));
            println!(
                "  wrote {}/report.json, daily.csv, epidemic.svg, notifications.svg, timing.json",
                out.display()
            );
        } else {
            let summary = experiment::summary(&scenario, &results, Some(provenance));
            figures::write(out, &summary, &results)?;
            print_summary(&summary);
            println!(
                "  wrote {}/summary.json, summary.md, *.svg, runs/, timing.json ({wall:.1} s)",
                out.display()
            );
        }
        write_json(&out.join("timing.json"), &timing)
    }

    fn external_run(&self, cfg: &en_sim::sim::SimConfig) -> anyhow::Result<RunResult> {
        let rt = super::runtime()?;
        let start = Instant::now();
        let pb = bar(
            u64::from(cfg.days),
            self.sim.quiet,
            "{msg} [{elapsed_precise}] {bar:40} day {pos}/{len} (eta {eta})",
            format!("simulating {} phones", cfg.phones),
        );
        let (outcome, phases) = rt.block_on(async {
            let server = self.sim.external(cfg.timing.batch_period_seconds).await?;
            let (out, server, phases) =
                en_sim::sim::run_paired(cfg.clone(), server, &|d, _| pb.set_position(u64::from(d)))
                    .await?;
            server.stop().await?;
            anyhow::Ok((out, phases))
        })?;
        pb.finish_and_clear();
        Ok(RunResult::new(
            0,
            outcome,
            phases,
            start.elapsed().as_secs_f64(),
        ))
    }
}

fn write_json(path: &Path, v: &serde_json::Value) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(v)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

fn print_summary(s: &experiment::ExperimentSummary) {
    for v in &s.variants {
        let m = |k: &str| v.metrics[k];
        let (i, a, n) = (m("infections"), m("infections_averted"), m("notifications"));
        println!(
            "{}: infections {:.0} [{:.0}, {:.0}], averted {:.1} [{:.1}, {:.1}], notifications {:.0}, precision {:.3}, recall {:.3}, median hours test → notification {:.1}",
            v.label, i.mean, i.lo, i.hi, a.mean, a.lo, a.hi, n.mean,
            m("precision").mean, m("recall").mean, m("hours_test_to_notification_median").mean
        );
    }
}
