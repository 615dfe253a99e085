//! `en-sim run` and `en-sim sweep`: argument handling, progress bar, outputs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use en_protocol::keys::SigningKey;
use en_sim::sim::report::{self, Series};
use en_sim::sim::server::{External, SimServer};
use en_sim::sim::{run, Outcome, SimConfig, EPOCH};
use rand::SeedableRng;

/// Arguments of `en-sim run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Fraction of people using the app (Kiên Giang reported 0.126 in May 2021).
    #[arg(long, default_value_t = 0.6)]
    adoption: f64,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    sim: SimArgs,
}

impl RunArgs {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.adoption),
            "--adoption must be between 0 and 1"
        );
        super::runtime()?.block_on(run_cmd(self.sim, self.adoption, &self.out))
    }
}

/// Arguments of `en-sim sweep`.
#[derive(clap::Args)]
pub struct SweepArgs {
    /// Adoption levels, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.3,0.6,1.0")]
    adoption: Vec<f64>,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    sim: SimArgs,
}

impl SweepArgs {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.adoption.iter().all(|a| (0.0..=1.0).contains(a)),
            "--adoption values must be between 0 and 1"
        );
        super::runtime()?.block_on(sweep_cmd(self.sim, &self.adoption, &self.out))
    }
}

/// Options shared by `run` and `sweep`.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Seed: the same seed gives a byte-identical report.json.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of people, each with a phone.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(10..=2_000_000))]
    pub phones: u64,
    /// Simulated days.
    #[arg(long, default_value_t = 21, value_parser = clap::value_parser!(u32).range(1..=120))]
    pub days: u32,
    /// RSSI noise per scan (standard deviation, dB); 0 for a noiseless channel.
    #[arg(long, default_value_t = 4.0)]
    pub noise_db: f64,
    /// Scale of the per-model calibration offsets (0: all phones perfectly calibrated).
    #[arg(long, default_value_t = 1.0)]
    pub calibration: f64,
    /// Ground truth: minutes of contact that make a close contact.
    #[arg(long, default_value_t = 15)]
    pub close_minutes: u32,
    /// Ground truth: distance in metres within which contact counts.
    #[arg(long, default_value_t = 2.0)]
    pub close_metres: f64,
    /// Fraction of uploads made by the health authority (the rest: certified phone uploads).
    #[arg(long, default_value_t = 0.5)]
    pub case_report_share: f64,
    /// Transmission rate per minute at 1 m (controls the epidemic's growth).
    #[arg(long, default_value_t = 0.003)]
    pub beta: f64,
    /// Notified people do not isolate (to compare with the default, where they do).
    #[arg(long)]
    pub no_isolation: bool,
    /// Threads for matching (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Target a running server instead of starting one in process. It must run with
    /// `--virtual-clock FILE` (the simulator drives its clock through FILE) and a daily batch
    /// period, and have `--authority` registered with the key in `--authority-key`.
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
    /// Probability that an app user sends a fake upload on a given day (0 for none).
    #[arg(long, default_value_t = en_sim::sim::DEFAULT_CHAFF_PER_DAY)]
    pub chaff_per_day: f64,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl SimArgs {
    /// Rejects values the model cannot use, with a one-line reason.
    pub fn check(&self) -> anyhow::Result<()> {
        let finite = [
            self.noise_db,
            self.calibration,
            self.close_metres,
            self.case_report_share,
            self.beta,
            self.chaff_per_day,
        ]
        .iter()
        .all(|v| v.is_finite());
        anyhow::ensure!(finite, "numeric options must be finite numbers");
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.case_report_share),
            "--case-report-share must be between 0 and 1"
        );
        anyhow::ensure!(
            self.noise_db >= 0.0 && self.noise_db <= 30.0,
            "--noise-db must be between 0 and 30"
        );
        anyhow::ensure!(
            self.calibration >= 0.0 && self.calibration <= 10.0,
            "--calibration must be between 0 and 10"
        );
        anyhow::ensure!(
            self.close_metres > 0.0 && self.close_metres <= 15.0,
            "--close-metres must be above 0 and at most 15"
        );
        anyhow::ensure!(
            self.close_minutes >= 1,
            "--close-minutes must be at least 1"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.beta),
            "--beta must be between 0 and 1"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.chaff_per_day),
            "--chaff-per-day must be between 0 and 1"
        );
        anyhow::ensure!(
            self.threads.is_none_or(|t| t >= 1),
            "--threads must be at least 1"
        );
        Ok(())
    }

    fn config(&self, adoption: f64) -> SimConfig {
        let mut c = SimConfig::new(self.seed, self.phones as usize, self.days, adoption);
        c.noise_db = self.noise_db;
        c.calibration_scale = self.calibration;
        c.close_minutes = self.close_minutes;
        c.close_metres = self.close_metres;
        c.case_report_share = self.case_report_share;
        c.epidemic.beta = self.beta;
        c.epidemic.notified_isolate = !self.no_isolation;
        c.chaff_per_day = self.chaff_per_day;
        if let Some(t) = self.threads {
            c.threads = t.max(1);
        }
        c
    }

    async fn server(&self) -> anyhow::Result<SimServer> {
        let now = en_protocol::UnixTime(EPOCH);
        let server = match &self.server {
            Some(url) => {
                let mut e = External::new(
                    url.clone(),
                    self.public_key.clone(),
                    self.authority_key.clone().expect("required by clap"),
                    self.server_clock_file.clone().expect("required by clap"),
                );
                e.ca = self.ca.clone();
                e.authority = self.authority.clone();
                e.audience = self.audience.clone();
                e.region = self.region.clone();
                SimServer::external(e, now)?
            }
            None => {
                let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(en_sim::sim::ble::mix(
                    self.seed ^ 0xa11,
                ));
                SimServer::in_process(now, SigningKey::generate(&mut rng), self.seed).await?
            }
        };
        Ok(server)
    }
}

fn progress_bar(days: u32, quiet: bool, label: String) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(u64::from(days));
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {bar:40} day {pos}/{len} (eta {eta})",
        )
        .expect("valid template"),
    );
    pb.set_message(label);
    pb
}

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
    serde_json::json!({"peak_rss_mib": kib("VmHWM:").map(|k| k / 1024), "process_cpu_user_s": ticks(11), "process_cpu_system_s": ticks(12)})
}

async fn one(
    args: &SimArgs,
    adoption: f64,
    label: String,
) -> anyhow::Result<(Outcome, serde_json::Value)> {
    let cfg = args.config(adoption);
    let server = args.server().await?;
    let pb = progress_bar(cfg.days, args.quiet, label);
    let start = Instant::now();
    let days = cfg.days;
    let phones = cfg.phones;
    let (out, server) = run(cfg, server, &|d, _| pb.set_position(u64::from(d))).await?;
    pb.finish_and_clear();
    let wall = start.elapsed().as_secs_f64();
    let timing = serde_json::json!({
        "wall_seconds": wall,
        "phone_days_per_second": (phones as f64 * f64::from(days)) / wall,
        "server_busy_seconds": server.server_busy_seconds(),
        "process": proc_stats(),
        "note": "server_busy_seconds sums the in-process server's request latencies; process CPU includes the simulator",
    });
    server.stop().await?;
    Ok((out, timing))
}

/// `en-sim run`.
async fn run_cmd(args: SimArgs, adoption: f64, out: &Path) -> anyhow::Result<()> {
    args.check()?;
    let (o, timing) = one(
        &args,
        adoption,
        format!("simulating {} phones", args.phones),
    )
    .await?;
    report::write(out, &o)?;
    std::fs::write(
        out.join("timing.json"),
        serde_json::to_string_pretty(&timing)? + "\n",
    )?;
    println!(
        "{}",
        report::summary_table(&o, timing["wall_seconds"].as_f64().unwrap_or(0.0))
    );
    println!(
        "  wrote {}/report.json, daily.csv, epidemic.svg, notifications.svg, timing.json",
        out.display()
    );
    Ok(())
}

/// `en-sim sweep`.
async fn sweep_cmd(args: SimArgs, adoptions: &[f64], out: &Path) -> anyhow::Result<()> {
    args.check()?;
    std::fs::create_dir_all(out)?;
    let mut rows = Vec::new();
    for &a in adoptions {
        let dir = out.join(format!("adoption-{a}"));
        let (o, timing) = one(&args, a, format!("adoption {a}")).await?;
        report::write(&dir, &o)?;
        std::fs::write(
            dir.join("timing.json"),
            serde_json::to_string_pretty(&timing)? + "\n",
        )?;
        println!("adoption {a:.3}: precision {:.3}, recall {:.3} (adoption² {:.3}), recall among app pairs {:.3}", o.precision, o.recall, a * a, o.recall_among_app_pairs);
        rows.push(serde_json::json!({"adoption": a, "precision": o.precision, "recall": o.recall, "recall_among_app_pairs": o.recall_among_app_pairs,
            "adoption_squared": a * a, "close_contact_pairs": o.close_contact_pairs, "notified_pairs": o.notified_pairs, "infections": o.infections}));
    }
    std::fs::write(
        out.join("sweep.json"),
        serde_json::to_string_pretty(&rows)? + "\n",
    )?;
    let pts = |k: &str| {
        rows.iter()
            .map(|r| {
                (
                    r["adoption"].as_f64().unwrap_or(0.0),
                    r[k].as_f64().unwrap_or(0.0),
                )
            })
            .collect::<Vec<_>>()
    };
    let svg = report::line_chart(
        &format!(
            "Precision and recall against adoption ({} people, {} days)",
            args.phones, args.days
        ),
        "app adoption",
        "fraction",
        &[
            Series {
                label: "precision",
                color: "#1f77b4",
                points: pts("precision"),
            },
            Series {
                label: "recall, all close-contact pairs",
                color: "#d62728",
                points: pts("recall"),
            },
            Series {
                label: "adoption²",
                color: "#7f7f7f",
                points: pts("adoption_squared"),
            },
            Series {
                label: "recall, pairs both with app",
                color: "#2ca02c",
                points: pts("recall_among_app_pairs"),
            },
        ],
        Some(1.0),
    );
    std::fs::write(out.join("precision_recall.svg"), svg)?;
    println!(
        "wrote {}/sweep.json and precision_recall.svg",
        out.display()
    );
    Ok(())
}
