//! Output of one run: report.json (every parameter and result), daily.csv, and its charts;
//! and [`Provenance`], what every output records about the command that made it.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::svg::{line_chart, Chart, Series};
use super::{DayStats, Outcome, SimError};

/// The exact command, version and scenario behind an output.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[non_exhaustive]
pub struct Provenance {
    /// The command line, as typed (shell-quoted where needed).
    pub command: String,
    /// `en-sim` version and the git commit it was built from.
    pub version: String,
    /// The scenario file given with `--config`, and its text.
    pub scenario: Option<(String, String)>,
}

impl Provenance {
    /// The provenance of this process: its arguments, version and commit.
    pub fn of_this_process(scenario: Option<(String, String)>) -> Self {
        let quote = |a: String| {
            let plain = a
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@%".contains(c));
            if plain && !a.is_empty() {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        };
        let mut args = std::env::args();
        let bin = args
            .next()
            .map(|a| {
                Path::new(&a)
                    .file_name()
                    .map_or(a.clone(), |f| f.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "en-sim".into());
        let command = std::iter::once(bin)
            .chain(args.map(quote))
            .collect::<Vec<_>>()
            .join(" ");
        Provenance {
            command,
            version: version(),
            scenario,
        }
    }

    /// One line for a chart's footer.
    pub fn line(&self) -> String {
        if self.command.is_empty() {
            format!("en-sim {}", self.version)
        } else {
            format!("{} (en-sim {})", self.command, self.version)
        }
    }
}

/// `en-sim <version> (<commit>)`; the commit is read at build time (`build.rs`).
pub fn version() -> String {
    format!(
        "{} ({})",
        env!("CARGO_PKG_VERSION"),
        option_env!("EN_SIM_COMMIT").unwrap_or("unknown commit")
    )
}

/// report.json: the provenance (if any) and the outcome.
#[derive(Serialize)]
struct ReportFile<'a> {
    provenance: Option<&'a Provenance>,
    #[serde(flatten)]
    outcome: &'a Outcome,
}

/// Writes one file of `dir`.
pub(super) fn put(dir: &Path, name: &str, text: String) -> Result<(), SimError> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| SimError::io("write", &path, e))
}

/// Writes report.json, daily.csv, epidemic.svg and notifications.svg into `dir`.
pub fn write(dir: &Path, o: &Outcome, provenance: Option<&Provenance>) -> Result<(), SimError> {
    std::fs::create_dir_all(dir).map_err(|e| SimError::io("create", dir, e))?;
    let file = ReportFile {
        provenance,
        outcome: o,
    };
    put(
        dir,
        "report.json",
        serde_json::to_string_pretty(&file)? + "\n",
    )?;
    put(dir, "daily.csv", daily_csv(&o.daily))?;
    let col = |f: fn(&DayStats) -> u64| {
        o.daily
            .iter()
            .map(|d| (f64::from(d.day), f(d) as f64))
            .collect::<Vec<_>>()
    };
    let prov = provenance.map(Provenance::line).unwrap_or_default();
    let mut series = vec![
        Series::line("new infections", "#d62728", col(|d| d.new_infections)),
        Series::line(
            "confirmed (positive results)",
            "#1f77b4",
            col(|d| d.confirmed),
        ),
    ];
    if let Some(cf) = &o.counterfactual {
        let pts = cf.epidemic.daily_infections.iter().enumerate();
        let pts = pts.map(|(d, v)| (d as f64, *v as f64)).collect();
        series.push(Series::line("new infections without the app", "#7f7f7f", pts).dashed());
    }
    let epidemic = Chart {
        title: format!(
            "Epidemic: {} people, adoption {:.3}, seed {}",
            o.config.phones, o.config.adoption, o.config.seed
        ),
        x_label: "day".into(),
        y_label: "people".into(),
        series,
        y_max: None,
        x_log: false,
        provenance: prov.clone(),
    };
    put(dir, "epidemic.svg", line_chart(&epidemic))?;
    let notifications = Chart {
        title: "Exposure notifications per day".into(),
        x_label: "day".into(),
        y_label: "phones".into(),
        series: vec![
            Series::line("notifications", "#2ca02c", col(|d| d.notifications)),
            Series::line(
                "… to people not infected",
                "#ff7f0e",
                col(|d| d.notifications_uninfected),
            ),
            Series::line(
                "confirmed app users who uploaded",
                "#9467bd",
                col(|d| d.uploads),
            ),
        ],
        y_max: None,
        x_log: false,
        provenance: prov,
    };
    put(dir, "notifications.svg", line_chart(&notifications))?;
    Ok(())
}

/// daily.csv: one row per day.
pub fn daily_csv(daily: &[DayStats]) -> String {
    let mut csv = String::from(
        "day,new_infections,new_hospitalisations,infectious,confirmed,uploads,keys_uploaded,batches,keys_published,phone_fetches,notifications,notified,notifications_uninfected,quarantine_days,quarantine_days_uninfected,isolating,bytes_per_phone,sessions,fake_uploads,fake_upload_refusals\n",
    );
    for d in daily {
        let _ = writeln!(
            csv,
            "{},{},{:.4},{},{},{},{},{},{},{},{},{},{},{:.3},{:.3},{},{},{},{},{}",
            d.day,
            d.new_infections,
            d.new_hospitalisations,
            d.infectious,
            d.confirmed,
            d.uploads,
            d.keys_uploaded,
            d.batches,
            d.keys_published,
            d.phone_fetches,
            d.notifications,
            d.notified,
            d.notifications_uninfected,
            d.quarantine_days,
            d.quarantine_days_uninfected,
            d.isolating,
            d.bytes_per_phone,
            d.sessions,
            d.fake_uploads,
            d.fake_upload_refusals
        );
    }
    csv
}

/// The short summary table printed at the end of a single run.
pub fn summary_table(o: &Outcome, wall_seconds: f64) -> String {
    let mut s = String::new();
    let e = &o.epidemic;
    let mut rows: Vec<(&str, String)> = vec![
        (
            "phones / app users",
            format!("{} / {}", o.config.phones, o.app_users),
        ),
        ("days", o.config.days.to_string()),
        (
            "infections / confirmed / uploaded",
            format!("{} / {} / {}", e.infections, e.confirmed, o.uploads),
        ),
        (
            "expected hospitalisations",
            format!("{:.1}", e.hospitalisations),
        ),
    ];
    if let Some(cf) = &o.counterfactual {
        rows.push((
            "without the app: infections (averted)",
            format!("{} ({})", cf.epidemic.infections, cf.infections_averted),
        ));
    }
    rows.extend([
        (
            "notifications / phones / to uninfected",
            format!(
                "{} / {} / {}",
                o.notifications, o.notified_phones, o.notifications_uninfected
            ),
        ),
        (
            "quarantine days imposed (on uninfected)",
            format!(
                "{:.0} ({:.0})",
                o.quarantine_days, o.quarantine_days_uninfected
            ),
        ),
        (
            "close-contact pairs (both with app)",
            format!(
                "{} ({})",
                o.close_contact_pairs, o.close_contact_pairs_both_app
            ),
        ),
        ("precision", format!("{:.3}", o.precision)),
        (
            "recall (all pairs / app pairs)",
            format!("{:.3} / {:.3}", o.recall, o.recall_among_app_pairs),
        ),
        (
            "hours test → notification (median / p90)",
            format!(
                "{:.1} / {:.1}",
                o.delays.test_to_notification.median, o.delays.test_to_notification.p90
            ),
        ),
        (
            "bytes per phone per day",
            format!("{:.0}", o.bytes_per_phone_per_day),
        ),
        (
            "fake uploads (chaff per day)",
            format!("{} ({})", o.fake_uploads, o.config.chaff_per_day),
        ),
    ]);
    if let Some(v) = &o.venues {
        rows.extend([
            (
                "venues: check-ins / traces / notified pairs",
                format!(
                    "{} / {} / {}",
                    v.check_ins, v.trace_reports, v.notified_pairs
                ),
            ),
            (
                "venues: precision (same hour) / recall",
                format!(
                    "{:.3} ({:.3}) / {:.3}",
                    v.precision, v.precision_same_hour, v.recall
                ),
            ),
            (
                "recall of close ∪ presence: BT / venues / both",
                format!(
                    "{:.3} / {:.3} / {:.3}",
                    v.union.recall_bluetooth, v.union.recall_venues, v.union.recall
                ),
            ),
        ]);
    }
    rows.push(("wall time", format!("{wall_seconds:.1} s")));
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    for (k, v) in rows {
        let _ = writeln!(s, "  {k:<width$}  {v}");
    }
    s
}
