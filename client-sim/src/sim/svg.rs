//! SVG line charts with 95 % bands: axes, ticks, polylines, translucent bands, a legend in
//! the right margin, and the command that made the chart in its `<desc>` and footer. Plain
//! SVG written here: a few dozen lines instead of a plotting stack that would need font
//! files to measure text.

use std::fmt::Write as _;

/// One line of a chart, with an optional band around it.
pub struct Series<'a> {
    /// Legend label.
    pub label: String,
    /// Colour.
    pub color: &'a str,
    /// Points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Band (x, low, high), drawn translucent behind the line; empty for none.
    pub band: Vec<(f64, f64, f64)>,
    /// Dashed (a reference or counterfactual line).
    pub dashed: bool,
}

impl<'a> Series<'a> {
    /// A plain line.
    pub fn line(label: impl Into<String>, color: &'a str, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            color,
            points,
            band: Vec::new(),
            dashed: false,
        }
    }

    /// A line through the means with a band from the lows to the highs.
    pub fn banded(label: impl Into<String>, color: &'a str, band: Vec<(f64, f64, f64)>) -> Self {
        let mut s = Series::line(label, color, Vec::new());
        s.set_band(band);
        s
    }

    /// Sets the band (x, low, high) and the line through `points` unchanged.
    fn set_band(&mut self, band: Vec<(f64, f64, f64)>) {
        self.band = band;
    }

    /// The same series, dashed.
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

/// A chart: titles, series, and what made it.
pub struct Chart<'a> {
    /// Title.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series<'a>>,
    /// Top of the y axis (default: a round number above the data).
    pub y_max: Option<f64>,
    /// A logarithmic x axis (ticks at the data's x values).
    pub x_log: bool,
    /// The command and version that made it (in `<desc>` and the footer).
    pub provenance: String,
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
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

/// Escapes text for SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The chart as SVG text.
pub fn line_chart(c: &Chart<'_>) -> String {
    let (w, h, l, r, t, b) = (900.0, 440.0, 70.0, 270.0, 40.0, 80.0);
    let all_x = || {
        c.series.iter().flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.0)
                .chain(s.band.iter().map(|p| p.0))
        })
    };
    let tx = |x: f64| if c.x_log { x.max(1e-9).log10() } else { x };
    let (x0, x1) = all_x().fold((f64::MAX, f64::MIN), |(a, b), x| {
        (a.min(tx(x)), b.max(tx(x)))
    });
    let (x0, x1) = if x0 >= x1 {
        (x0.min(0.0), x0.max(0.0) + 1.0)
    } else {
        (x0, x1)
    };
    let data_max = c
        .series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.1)
                .chain(s.band.iter().map(|p| p.2))
        })
        .fold(0.0, f64::max);
    let ymax = c.y_max.unwrap_or_else(|| nice_max(data_max));
    let px = |x: f64| l + (tx(x) - x0) / (x1 - x0) * (w - l - r);
    let py = |y: f64| h - b - y.clamp(0.0, ymax) / ymax * (h - t - b);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, "<desc>{}</desc>", esc(&c.provenance));
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        (l + w - r) / 2.0,
        esc(&c.title)
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
    let mut ticks: Vec<f64> = Vec::new();
    if c.x_log {
        ticks = all_x().collect();
        ticks.sort_by(f64::total_cmp);
        ticks.dedup();
    } else {
        let step = nice_step((x1 - x0) / 6.0);
        let mut x = (x0 / step).ceil() * step;
        while x <= x1 + 1e-9 {
            ticks.push(x);
            x += step;
        }
    }
    for x in ticks {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            h - b + 18.0,
            fmt_num(x)
        );
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
        h - b + 40.0,
        esc(&c.x_label)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(16,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (t + h - b) / 2.0,
        esc(&c.y_label)
    );
    for se in &c.series {
        if se.band.len() > 1 {
            let upper = se
                .band
                .iter()
                .map(|&(x, _, hi)| format!("{:.1},{:.1}", px(x), py(hi)));
            let lower = se
                .band
                .iter()
                .rev()
                .map(|&(x, lo, _)| format!("{:.1},{:.1}", px(x), py(lo)));
            let pts: Vec<String> = upper.chain(lower).collect();
            let _ = writeln!(
                s,
                r#"<polygon fill="{}" fill-opacity="0.18" stroke="none" points="{}"/>"#,
                se.color,
                pts.join(" ")
            );
        }
    }
    for (i, se) in c.series.iter().enumerate() {
        let line: Vec<(f64, f64)> = if se.points.is_empty() {
            se.band
                .iter()
                .map(|&(x, lo, hi)| (x, (lo + hi) / 2.0))
                .collect()
        } else {
            se.points.clone()
        };
        let pts: Vec<String> = line
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let dash = if se.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2"{dash} points="{}"/>"#,
            se.color,
            pts.join(" ")
        );
        if line.len() <= 40 {
            for p in &pts {
                let (x, y) = p.split_once(',').expect("x,y");
                let _ = writeln!(
                    s,
                    r#"<circle cx="{x}" cy="{y}" r="2.5" fill="{}"/>"#,
                    se.color
                );
            }
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
            esc(&se.label)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{l}" y="{}" font-size="9" fill="#666">{}</text>"##,
        h - 8.0,
        esc(&c.provenance)
    );
    s.push_str("</svg>\n");
    s
}
