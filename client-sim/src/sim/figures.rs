//! Output of a scenario over seeds: summary.json (every metric with its 95 % interval, the
//! provenance), summary.md (the same as tables), the figures with bands, and each run's own
//! report under `runs/`.

use std::fmt::Write as _;
use std::path::Path;

use super::aggregate::{VariantSummary, METRICS, VENUE_METRICS};
use super::experiment::{ExperimentSummary, RunResult};
use super::report::{self, put, Provenance};
use super::svg::{line_chart, Chart, Series};
use super::SimError;
use crate::stats::Interval;

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// A label as a directory name.
pub fn slug(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s.split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn band(v: &[Interval]) -> Vec<(f64, f64, f64)> {
    v.iter()
        .enumerate()
        .map(|(i, c)| (i as f64, c.lo.max(0.0), c.hi))
        .collect()
}

fn fmt(c: &Interval) -> String {
    let d = if c.mean.abs() >= 100.0 {
        0
    } else if c.mean.abs() >= 1.0 {
        2
    } else {
        3
    };
    format!("{:.d$} [{:.d$}, {:.d$}]", c.mean, c.lo, c.hi)
}

/// Writes summary.json, summary.md, the figures and `runs/<variant>/seed-<n>/` into `dir`.
pub fn write(dir: &Path, s: &ExperimentSummary, runs: &[RunResult]) -> Result<(), SimError> {
    std::fs::create_dir_all(dir).map_err(|e| SimError::io("create", dir, e))?;
    put(dir, "summary.json", serde_json::to_string_pretty(s)? + "\n")?;
    put(dir, "summary.md", markdown(s))?;
    let prov = s.provenance.as_ref();
    for r in runs {
        let v = &s.variants[r.variant];
        let d = dir
            .join("runs")
            .join(slug(&v.label))
            .join(format!("seed-{}", r.outcome.config.seed));
        report::write(&d, &r.outcome, prov)?;
    }
    let line = prov.map(Provenance::line).unwrap_or_default();
    let chart = |title: String, x: &str, y: &str, series, y_max, x_log| Chart {
        title,
        x_label: x.into(),
        y_label: y.into(),
        series,
        y_max,
        x_log,
        provenance: line.clone(),
    };
    let seeds = s.seeds_per_variant;
    let mut series = Vec::new();
    for (v, color) in s.variants.iter().zip(COLORS).take(3) {
        let name = if s.variants.len() > 1 {
            format!("{}: ", v.label)
        } else {
            String::new()
        };
        series.push(Series::banded(
            format!("{name}with the app"),
            color,
            band(&v.daily_infections),
        ));
        let without = band(&v.daily_infections_without_app);
        series.push(Series::banded(format!("{name}without"), color, without).dashed());
    }
    let title = format!("New infections per day, mean and 95 % interval over {seeds} seeds");
    put(
        dir,
        "epidemic.svg",
        line_chart(&chart(title, "day", "new infections", series, None, false)),
    )?;
    let xs: Vec<(f64, &VariantSummary)> = s
        .variants
        .iter()
        .filter_map(|v| v.x.map(|x| (x, v)))
        .collect();
    let x_name = s.x.clone().unwrap_or_default();
    if xs.len() >= 2 {
        let m = |k: &str| -> Vec<(f64, f64, f64)> {
            xs.iter()
                .map(|(x, v)| (*x, v.metrics[k].lo, v.metrics[k].hi))
                .collect()
        };
        let averted = vec![
            Series::banded("infections averted", COLORS[1], m("infections_averted")),
            Series::banded("hospitalisations averted × 10", COLORS[3], {
                m("hospitalisations_averted")
                    .into_iter()
                    .map(|(x, lo, hi)| (x, lo * 10.0, hi * 10.0))
                    .collect()
            }),
        ];
        let title = format!("Averted by notification against {x_name} ({seeds} seeds, 95 % bands)");
        put(
            dir,
            "averted.svg",
            line_chart(&chart(title, &x_name, "people", averted, None, false)),
        )?;
        let mut pr = vec![
            Series::banded("precision", COLORS[0], m("precision")),
            Series::banded("recall, all close-contact pairs", COLORS[1], m("recall")),
            Series::banded(
                "recall, pairs both with app",
                COLORS[2],
                m("recall_among_app_pairs"),
            ),
        ];
        if x_name == "adoption" {
            pr.push(
                Series::line(
                    "adoption²",
                    "#7f7f7f",
                    xs.iter().map(|(x, _)| (*x, x * x)).collect(),
                )
                .dashed(),
            );
        }
        if xs
            .iter()
            .all(|(_, v)| v.metrics.contains_key("union_recall"))
        {
            let title = format!(
                "Recall of close ∪ presence contacts against {x_name} ({seeds} seeds, 95 % bands)"
            );
            let curves = vec![
                Series::banded("Bluetooth only", COLORS[0], m("union_recall_bluetooth")),
                Series::banded("venue check-in only", COLORS[1], m("union_recall_venues")),
                Series::banded("both", COLORS[2], m("union_recall")),
            ];
            put(
                dir,
                "recall_venues.svg",
                line_chart(&chart(title, &x_name, "recall", curves, Some(1.0), false)),
            )?;
        }
        let title = format!("Precision and recall against {x_name} ({seeds} seeds, 95 % bands)");
        put(
            dir,
            "precision_recall.svg",
            line_chart(&chart(title, &x_name, "fraction", pr, Some(1.0), false)),
        )?;
    }
    let hours = s
        .variants
        .iter()
        .map(|v| {
            v.delay_cdf
                .iter()
                .position(|c| c.mean >= 0.995)
                .unwrap_or(v.delay_cdf.len())
        })
        .max()
        .unwrap_or(0)
        .clamp(24, 240);
    let cdfs = s
        .variants
        .iter()
        .zip(COLORS.iter().cycle())
        .map(|(v, c)| {
            Series::banded(
                v.label.clone(),
                c,
                band(&v.delay_cdf[..v.delay_cdf.len().min(hours + 1)]),
            )
        })
        .collect();
    let title = "Time from a case's test to a contact's notification (notified pairs)".to_string();
    let c = chart(
        title,
        "hours",
        "fraction notified by then",
        cdfs,
        Some(1.0),
        false,
    );
    put(dir, "delay.svg", line_chart(&c))?;
    for (i, v) in s.variants.iter().enumerate() {
        let k = |f: fn(&super::aggregate::SnifferBand) -> Interval| -> Vec<(f64, f64, f64)> {
            v.sniffer
                .iter()
                .map(|r| (f64::from(r.sniffers), f(r).lo.max(0.0), f(r).hi))
                .collect()
        };
        let lines = vec![
            Series::banded(
                "case, one day (GAEN = Bluezone)",
                COLORS[0],
                k(|r| r.case_day),
            ),
            Series::banded(
                "case, 14 days, Bluezone-like",
                COLORS[1],
                k(|r| r.bluezone_case_fortnight),
            ),
            Series::banded(
                "case, 14 days, GAEN",
                COLORS[2],
                k(|r| r.gaen_case_fortnight),
            ),
            Series::banded("non-case, one day", COLORS[3], k(|r| r.non_case_day)).dashed(),
            Series::banded("non-case, 14 days", COLORS[4], k(|r| r.non_case_fortnight)).dashed(),
        ];
        let title = format!(
            "Sniffers at the K busiest of {} places: a person's public time linked ({})",
            v.places, v.label
        );
        let c = chart(
            title,
            "K (sniffed places, log scale)",
            "fraction in one track",
            lines,
            Some(1.0),
            true,
        );
        let svg = line_chart(&c);
        if i == 0 {
            put(dir, "sniffer.svg", svg.clone())?;
        }
        if s.variants.len() > 1 {
            put(dir, &format!("sniffer-{}.svg", slug(&v.label)), svg)?;
        }
    }
    Ok(())
}

/// summary.md: the metrics and the sniffer's reach as tables.
pub fn markdown(s: &ExperimentSummary) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# {}\n", s.title);
    if let Some(p) = &s.provenance {
        let _ = writeln!(m, "Made by `{}` (en-sim {}).\n", p.command, p.version);
    }
    let _ = writeln!(
        m,
        "Means over {} seeds per variant, with 95 % confidence intervals.\n",
        s.seeds_per_variant
    );
    let _ = write!(m, "| metric |");
    for v in &s.variants {
        let _ = write!(m, " {} |", v.label);
    }
    let _ = write!(m, "\n|---|");
    for _ in &s.variants {
        let _ = write!(m, "---|");
    }
    m.push('\n');
    let venues = s
        .variants
        .iter()
        .all(|v| v.metrics.contains_key("union_recall"));
    let listed = || {
        METRICS
            .iter()
            .chain(if venues { VENUE_METRICS } else { &[] })
    };
    for metric in listed() {
        let _ = write!(m, "| {} |", metric.name);
        for v in &s.variants {
            let _ = write!(m, " {} |", fmt(&v.metrics[metric.name]));
        }
        m.push('\n');
    }
    let _ = write!(
        m,
        "| quarantine days on the uninfected per infection averted |"
    );
    for v in &s.variants {
        let c = v.per_infection_averted.as_ref().map_or("—".into(), |c| {
            format!("{:.1}", c.quarantine_days_uninfected)
        });
        let _ = write!(m, " {c} |");
    }
    m.push('\n');
    for v in &s.variants {
        let _ = writeln!(
            m,
            "\n## Sniffers: {} ({} public places)\n",
            v.label, v.places
        );
        let _ = writeln!(m, "| K | case day | case 14 d, GAEN | case 14 d, Bluezone-like | non-case day | non-case 14 d | case heard | longest non-case track (intervals) |");
        let _ = writeln!(m, "|---|---|---|---|---|---|---|---|");
        for r in &v.sniffer {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.sniffers,
                fmt(&r.case_day),
                fmt(&r.gaen_case_fortnight),
                fmt(&r.bluezone_case_fortnight),
                fmt(&r.non_case_day),
                fmt(&r.non_case_fortnight),
                fmt(&r.case_heard),
                r.non_case_longest_track
            );
        }
    }
    let _ = writeln!(m, "\nMetrics:\n");
    for metric in listed() {
        let _ = writeln!(m, "- `{}`: {}", metric.name, metric.doc);
    }
    m
}
