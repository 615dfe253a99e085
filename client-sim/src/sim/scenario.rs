//! Scenario files (TOML): everything a figure needs to be made again. A `[sim]` table holds
//! [`SimConfig`] fields (the same names and defaults as report.json's `config`); each
//! `[[variant]]` has a `label` and overrides some of them; `seeds` says how many seeds each
//! variant runs; `x` names the field the variants are plotted against.
//!
//! ```toml
//! title = "Adoption sweep"
//! seeds = 10
//! x = "adoption"
//! [sim]
//! phones = 20000
//! [sim.timing]
//! batch_period_seconds = 7200
//! [[variant]]
//! label = "12.6 %"
//! adoption = 0.126
//! ```
//!
//! Command-line options override the file for every variant (defaults ← `[sim]` ←
//! variant ← command line).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Table, Value};

use super::config::SimConfig;
use super::error::SimError;

/// A scenario: variants of a configuration, each run with the same seeds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Scenario {
    /// Title (figures and summaries).
    pub title: String,
    /// Seeds per variant: `seed`, `seed + 1`, ….
    pub seeds: u32,
    /// The field the variants are plotted against (`adoption`, `timing.batch_period_seconds`).
    pub x: Option<String>,
    /// Its axis label.
    pub x_label: Option<String>,
    /// The variants (at least one).
    pub variants: Vec<Variant>,
    /// The file it was read from and its text.
    pub source: Option<(String, String)>,
}

/// One variant: a label, its value on the x axis, its configuration (seed = first seed).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Variant {
    /// Label.
    pub label: String,
    /// Value of the scenario's `x` field.
    pub x: Option<f64>,
    /// Configuration.
    pub config: SimConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    title: Option<String>,
    seeds: Option<u32>,
    x: Option<String>,
    x_label: Option<String>,
    #[serde(default)]
    sim: Table,
    #[serde(default)]
    variant: Vec<Table>,
}

/// `over` written onto `base`, tables merged key by key.
fn merge(base: &mut Table, over: &Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The number at the dotted `path` of `t`.
fn number_at(t: &Table, path: &str) -> Option<f64> {
    let mut parts = path.split('.').peekable();
    let mut table = t;
    while let Some(p) = parts.next() {
        let v = table.get(p)?;
        if parts.peek().is_none() {
            return match v {
                Value::Float(f) => Some(*f),
                Value::Integer(i) => Some(*i as f64),
                _ => None,
            };
        }
        table = v.as_table()?;
    }
    None
}

impl Scenario {
    /// Reads the scenario in `text` (from `path`, for messages) with `overrides` on top.
    pub fn parse(text: &str, path: &str, overrides: &Table) -> Result<Self, SimError> {
        let err = |message: String| SimError::Scenario {
            path: PathBuf::from(path),
            message,
        };
        let f: File = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut s = Scenario::build(f, overrides).map_err(|e| match e {
            SimError::Scenario { message, .. } => err(message),
            other => other,
        })?;
        s.source = Some((path.to_string(), text.to_string()));
        Ok(s)
    }

    /// Reads the scenario file `path` with `overrides` on top.
    pub fn load(path: &Path, overrides: &Table) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::io("read", path, e))?;
        Scenario::parse(&text, &path.display().to_string(), overrides)
    }

    /// A scenario of one variant: the defaults with `overrides`.
    pub fn from_overrides(overrides: &Table) -> Result<Self, SimError> {
        let f = File {
            title: None,
            seeds: None,
            x: None,
            x_label: None,
            sim: Table::new(),
            variant: Vec::new(),
        };
        Scenario::build(f, overrides)
    }

    fn build(f: File, overrides: &Table) -> Result<Self, SimError> {
        let variants = if f.variant.is_empty() {
            vec![Table::new()]
        } else {
            f.variant
        };
        let mut out = Vec::new();
        for v in variants {
            let mut v = v;
            let label = match v.remove("label") {
                Some(Value::String(s)) => Some(s),
                None => None,
                Some(_) => {
                    return Err(SimError::Scenario {
                        path: PathBuf::new(),
                        message: "a variant's label must be a string".into(),
                    })
                }
            };
            let mut t = f.sim.clone();
            merge(&mut t, &v);
            merge(&mut t, overrides);
            let x = f.x.as_deref().and_then(|p| number_at(&t, p));
            let config: SimConfig =
                Value::Table(t)
                    .try_into()
                    .map_err(|e: toml::de::Error| SimError::Scenario {
                        path: PathBuf::new(),
                        message: e.to_string(),
                    })?;
            config.check()?;
            let label = label.unwrap_or_else(|| match (&f.x, x) {
                (Some(name), Some(x)) => format!("{name} {x}"),
                _ => format!("adoption {}", config.adoption),
            });
            out.push(Variant { label, x, config });
        }
        let seeds = f.seeds.unwrap_or(1);
        if !(1..=1000).contains(&seeds) {
            return Err(SimError::Config("seeds must be between 1 and 1000".into()));
        }
        Ok(Scenario {
            title: f.title.unwrap_or_else(|| "en-sim".into()),
            seeds,
            x: f.x,
            x_label: f.x_label,
            variants: out,
            source: None,
        })
    }

    /// Replaces the variants by one per adoption level (the others' settings kept from the
    /// first variant), plotted against adoption.
    pub fn sweep_adoption(&mut self, levels: &[f64]) -> Result<(), SimError> {
        let base = self.variants[0].config.clone();
        self.variants = levels
            .iter()
            .map(|&a| {
                let mut config = base.clone();
                config.adoption = a;
                config.check()?;
                Ok(Variant {
                    label: format!("adoption {a}"),
                    x: Some(a),
                    config,
                })
            })
            .collect::<Result<_, SimError>>()?;
        self.x = Some("adoption".into());
        Ok(())
    }

    /// The runs of the scenario: (variant index, configuration with its seed), variant by
    /// variant, seeds in order.
    pub fn runs(&self) -> Vec<(usize, SimConfig)> {
        let mut out = Vec::new();
        for (i, v) in self.variants.iter().enumerate() {
            for s in 0..u64::from(self.seeds) {
                let mut c = v.config.clone();
                c.seed = v.config.seed.wrapping_add(s);
                out.push((i, c));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_override_the_base_and_the_command_line_overrides_both() {
        let text = r#"
title = "t"
seeds = 3
x = "adoption"
[sim]
phones = 2000
adoption = 0.5
[sim.timing]
batch_period_seconds = 3600
[[variant]]
label = "low"
adoption = 0.1
[[variant]]
label = "high"
adoption = 0.9
[variant.timing]
batch_period_seconds = 7200
"#;
        let mut over = Table::new();
        over.insert("days".into(), Value::Integer(5));
        let s = Scenario::parse(text, "t.toml", &over).unwrap();
        assert_eq!(s.variants.len(), 2);
        let (a, b) = (&s.variants[0], &s.variants[1]);
        assert_eq!(
            (a.label.as_str(), a.x, a.config.phones, a.config.days),
            ("low", Some(0.1), 2000, 5)
        );
        assert_eq!(a.config.timing.batch_period_seconds, 3600);
        assert_eq!(b.config.timing.batch_period_seconds, 7200);
        assert_eq!(s.runs().len(), 6);
        assert_eq!(s.runs()[2].1.seed, 3);
        let bad = Scenario::parse("[sim]\nphonez = 3\n", "bad.toml", &Table::new());
        assert!(bad.unwrap_err().to_string().contains("phonez"));
        let bad = Scenario::parse("[sim]\nadoption = 2.0\n", "bad.toml", &Table::new());
        assert!(bad.unwrap_err().to_string().contains("adoption"));
    }
}
