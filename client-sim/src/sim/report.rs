//! Output: report.json (every parameter and result), daily.csv, and SVG line charts.
//!
//! The charts are plain SVG written here (axes, ticks, polylines, legend): a few dozen lines
//! instead of a plotting stack that would need font files to measure text.

use std::fmt::Write as _;
use std::path::Path;

use super::{DayStats, Outcome, SimError};

/// One line of a chart.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Colour.
    pub color: &'a str,
    /// Points (x, y).
    pub points: Vec<(f64, f64)>,
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

/// A tick step of 1, 2 or 5 × 10^k close to `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|v| *v >= raw)
        .unwrap_or(10.0 * p)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A line chart as SVG text.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    y_max: Option<f64>,
) -> String {
    // The legend sits in the right margin, so it never hides a line.
    let (w, h, l, r, t, b) = (900.0, 420.0, 70.0, 250.0, 40.0, 60.0);
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (x0, x1) = if x0 >= x1 {
        (x0.min(0.0), x0.max(0.0) + 1.0)
    } else {
        (x0, x1)
    };
    let ymax = y_max.unwrap_or_else(|| {
        nice_max(
            series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .fold(0.0, f64::max),
        )
    });
    let px = |x: f64| l + (x - x0) / (x1 - x0) * (w - l - r);
    let py = |y: f64| h - b - y / ymax * (h - t - b);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        w / 2.0,
        esc(title)
    );
    for i in 0..=5 {
        let y = ymax * f64::from(i) / 5.0;
        let _ = writeln!(
            s,
            r##"<line x1="{l}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            w - r,
            py(y),
            py(y),
            l - 6.0,
            py(y) + 4.0,
            fmt_num(y)
        );
    }
    let step = nice_step((x1 - x0) / 6.0);
    let mut x = (x0 / step).ceil() * step;
    while x <= x1 + 1e-9 {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            h - b + 18.0,
            fmt_num(x)
        );
        x += step;
    }
    let _ = writeln!(
        s,
        r#"<line x1="{l}" x2="{l}" y1="{t}" y2="{}" stroke="black"/><line x1="{l}" x2="{}" y1="{}" y2="{}" stroke="black"/>"#,
        h - b,
        w - r,
        h - b,
        h - b
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (l + w - r) / 2.0,
        h - 18.0,
        esc(x_label)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(16,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (t + h - b) / 2.0,
        esc(y_label)
    );
    for (i, se) in series.iter().enumerate() {
        let pts: Vec<String> = se
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y.min(ymax))))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            se.color,
            pts.join(" ")
        );
        for p in &pts {
            let (x, y) = p.split_once(',').expect("x,y");
            let _ = writeln!(
                s,
                r#"<circle cx="{x}" cy="{y}" r="2.5" fill="{}"/>"#,
                se.color
            );
        }
        let ly = t + 8.0 + 18.0 * i as f64;
        let lx = w - r + 14.0;
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{}" width="12" height="3" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            lx,
            ly,
            se.color,
            lx + 18.0,
            ly + 5.0,
            esc(se.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Writes report.json, daily.csv, epidemic.svg and notifications.svg into `dir`.
pub fn write(dir: &Path, o: &Outcome) -> Result<(), SimError> {
    std::fs::create_dir_all(dir).map_err(|e| SimError::io("create", dir, e))?;
    let put = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| SimError::io("write", &path, e))
    };
    put("report.json", serde_json::to_string_pretty(o)? + "\n")?;
    let mut csv = String::from("day,new_infections,infectious,confirmed,uploads,keys_uploaded,keys_published,notified,isolating,bytes_per_phone,sessions,fake_uploads,fake_upload_refusals\n");
    for d in &o.daily {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            d.day,
            d.new_infections,
            d.infectious,
            d.confirmed,
            d.uploads,
            d.keys_uploaded,
            d.keys_published,
            d.notified,
            d.isolating,
            d.bytes_per_phone,
            d.sessions,
            d.fake_uploads,
            d.fake_upload_refusals
        );
    }
    put("daily.csv", csv)?;
    let col = |f: fn(&DayStats) -> u64| {
        o.daily
            .iter()
            .map(|d| (f64::from(d.day), f(d) as f64))
            .collect::<Vec<_>>()
    };
    let title = format!(
        "Epidemic: {} people, adoption {:.3}, seed {}",
        o.config.phones, o.config.adoption, o.config.seed
    );
    put(
        "epidemic.svg",
        line_chart(
            &title,
            "day",
            "people",
            &[
                Series {
                    label: "new infections",
                    color: "#d62728",
                    points: col(|d| d.new_infections),
                },
                Series {
                    label: "infectious",
                    color: "#ff7f0e",
                    points: col(|d| d.infectious),
                },
                Series {
                    label: "confirmed (positive results)",
                    color: "#1f77b4",
                    points: col(|d| d.confirmed),
                },
            ],
            None,
        ),
    )?;
    put(
        "notifications.svg",
        line_chart(
            "Exposure notifications per day",
            "day",
            "phones",
            &[
                Series {
                    label: "phones newly notified",
                    color: "#2ca02c",
                    points: col(|d| d.notified),
                },
                Series {
                    label: "confirmed app users who uploaded",
                    color: "#9467bd",
                    points: col(|d| d.uploads),
                },
            ],
            None,
        ),
    )?;
    Ok(())
}

/// The short summary table printed at the end of a run.
pub fn summary_table(o: &Outcome, wall_seconds: f64) -> String {
    let mut s = String::new();
    let rows: Vec<(&str, String)> = vec![
        (
            "phones / app users",
            format!("{} / {}", o.config.phones, o.app_users),
        ),
        ("days", o.config.days.to_string()),
        (
            "infections / confirmed / uploaded",
            format!("{} / {} / {}", o.infections, o.confirmed, o.uploads),
        ),
        ("phones notified", o.notified_phones.to_string()),
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
        ("adoption²", format!("{:.3}", o.expected_coverage)),
        (
            "hours to notification (median / p90)",
            format!(
                "{} / {}",
                o.hours_to_notification.median, o.hours_to_notification.p90
            ),
        ),
        (
            "bytes per phone per day",
            format!("{:.0}", o.bytes_per_phone_per_day),
        ),
        ("server requests (made)", o.server_requests.to_string()),
        (
            "fake uploads (chaff per day)",
            format!("{} ({})", o.fake_uploads, o.config.chaff_per_day),
        ),
        ("wall time", format!("{wall_seconds:.1} s")),
    ];
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (k, v) in rows {
        let _ = writeln!(s, "  {k:<width$}  {v}");
    }
    s
}
