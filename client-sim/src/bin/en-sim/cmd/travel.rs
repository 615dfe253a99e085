//! `en-sim travel`: two regions with travel between them (`sim::travel`), recall of the four
//! conditions — home only, following visited regions, federated servers, both — over a range
//! of traveller fractions, with 95 % bands over seeds. Writes travel.json, travel.md and
//! travel.svg to --out.

use std::path::PathBuf;

use en_sim::sim::svg::{line_chart, Chart, Series};
use en_sim::sim::travel::{run, Condition, TravelOutcome, TravelParams};
use en_sim::stats::{mean_ci, Interval};
use serde::Serialize;

use super::run::bar;

/// Arguments of `en-sim travel`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory for travel.json, travel.md and travel.svg (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Fractions of people who make one trip to the other region, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.3,0.5,0.7")]
    fractions: Vec<f64>,
    /// Worlds per fraction and condition (seeds --seed, --seed + 1, …).
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// People living in each of the two regions.
    #[arg(long, default_value_t = 40)]
    people: usize,
    /// Days simulated (1-13); cases upload the day after.
    #[arg(long, default_value_t = 7)]
    days: u64,
    /// Days of a trip.
    #[arg(long, default_value_t = 3)]
    trip_days: u64,
    /// Contacts a person has each day with others present in the same region.
    #[arg(long, default_value_t = 1)]
    contacts: usize,
    /// Fraction of people who are cases.
    #[arg(long, default_value_t = 0.05)]
    cases: f64,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// One point of the sweep.
#[derive(Serialize)]
struct Point {
    traveller_fraction: f64,
    condition: Condition,
    label: &'static str,
    recall: Interval,
    runs: Vec<TravelOutcome>,
}

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.fractions.is_empty() && self.fractions.iter().all(|f| (0.0..=1.0).contains(f)),
            "--fractions: numbers between 0 and 1"
        );
        anyhow::ensure!(self.seeds >= 1, "--seeds: at least 1");
        std::fs::create_dir_all(&self.out)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", self.out.display()))?;
        let rt = super::runtime()?;
        let total = self.fractions.len() as u64 * Condition::ALL.len() as u64 * self.seeds;
        let pb = bar(
            total,
            self.quiet,
            "{msg} [{elapsed_precise}] {bar:40} {pos}/{len} worlds (eta {eta})",
            "two regions, two servers".into(),
        );
        let mut points = Vec::new();
        for &f in &self.fractions {
            for c in Condition::ALL {
                let mut runs = Vec::new();
                for s in 0..self.seeds {
                    let p = TravelParams {
                        seed: self.seed + s,
                        people_per_region: self.people,
                        traveller_fraction: f,
                        trip_days: self.trip_days,
                        days: self.days,
                        contacts_per_day: self.contacts,
                        case_fraction: self.cases,
                    };
                    runs.push(rt.block_on(run(&p, c))?);
                    pb.inc(1);
                }
                let recalls: Vec<f64> = runs.iter().map(TravelOutcome::recall).collect();
                points.push(Point {
                    traveller_fraction: f,
                    condition: c,
                    label: c.label(),
                    recall: mean_ci(&recalls),
                    runs,
                });
            }
        }
        pb.finish_and_clear();
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        let provenance = format!("{command} (en-sim {})", env!("CARGO_PKG_VERSION"));
        let colors = ["#888888", "#1f77b4", "#d62728", "#2ca02c"];
        let series = Condition::ALL
            .iter()
            .zip(colors)
            .map(|(c, color)| {
                let band = points
                    .iter()
                    .filter(|p| p.condition == *c)
                    .map(|p| (p.traveller_fraction, p.recall.lo, p.recall.hi))
                    .collect();
                let mut s = Series::banded(c.label(), color, band);
                s.points = points
                    .iter()
                    .filter(|p| p.condition == *c)
                    .map(|p| (p.traveller_fraction, p.recall.mean))
                    .collect();
                s
            })
            .collect();
        let svg = line_chart(&Chart {
            title: "Recall of travellers' contacts, two regions".into(),
            x_label: "fraction of people who travel to the other region".into(),
            y_label: "recall (exposed people notified)".into(),
            series,
            y_max: Some(1.0),
            x_log: false,
            provenance: provenance.clone(),
        });
        let mut md = format!(
            "# Travel between two regions\n\n`{provenance}`\n\n{} people per region, {} days, \
             trips of {} days, {} contacts a day, {} cases; recall = exposed people whose \
             phone notified, mean over {} seeds with its 95 % interval.\n\n\
             | travellers | condition | recall | 95 % interval | notified / exposed |\n|---|---|---|---|---|\n",
            self.people, self.days, self.trip_days, self.contacts, self.cases, self.seeds
        );
        for p in &points {
            let (n, e) = p
                .runs
                .iter()
                .fold((0, 0), |(n, e), r| (n + r.notified, e + r.exposed));
            md.push_str(&format!(
                "| {:.2} | {} | {:.3} | [{:.3}, {:.3}] | {n} / {e} |\n",
                p.traveller_fraction, p.label, p.recall.mean, p.recall.lo, p.recall.hi
            ));
        }
        let write = |name: &str, bytes: &[u8]| {
            let path = self.out.join(name);
            std::fs::write(&path, bytes)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
        };
        write("travel.svg", svg.as_bytes())?;
        write("travel.md", md.as_bytes())?;
        write(
            "travel.json",
            &serde_json::to_vec_pretty(&serde_json::json!({
                "provenance": provenance,
                "points": points,
            }))?,
        )?;
        print!("{md}");
        println!(
            "\nwrote travel.svg, travel.md and travel.json to {}",
            self.out.display()
        );
        Ok(())
    }
}
