//! What the phone concluded from matching: per UTC day, the summed score of its exposure
//! windows and which report types caused them, accumulated over the batches that matched.
//!
//! Each matched key's contribution is remembered ([`MatchedKey`]), so that a key published
//! again in a later batch with new metadata (a revision: e.g. `self-report` → `confirmed`,
//! or → `revoked`) replaces what it contributed before: its old contribution is taken away
//! and the key is scored again with the new metadata. A revoked key scores nothing, so a
//! notification that rested on it disappears.

use crate::keys::TemporaryExposureKey;
use crate::risk::Assessment;
use crate::time::{UnixTime, DAY_SECONDS};
use crate::wire::key::{DiagnosisKey, KeyMetadata};
use crate::wire::ReportType;

/// Most matched keys remembered (past it the oldest go first; a phone meets far fewer
/// published keys in 14 days).
pub const MAX_MATCHED_KEYS: usize = 4096;
/// Most days one matched key may contribute to (a key is valid for at most a day; its
/// sightings may run into the next).
pub const MAX_KEY_DAYS: usize = 4;

/// Days of exposures kept: as long as scans (14 days before today).
pub const EXPOSURE_RETENTION_DAYS: u64 = 14;
/// Most exposure days kept (scans with times ahead of the clock can add future days; past
/// this bound the oldest go first).
pub const MAX_EXPOSURE_DAYS: usize = 64;

/// One UTC day on which the phone's scans matched published keys.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExposureDay {
    /// UTC day number (of the windows' first sightings).
    pub day: u64,
    /// Sum of the day's window scores (weighted seconds, risk-config weights applied).
    pub score_sum: f64,
    /// Exposure windows that counted.
    pub windows: u32,
    /// Report types of the keys behind those windows, in code order, without repeats.
    pub report_types: Vec<ReportType>,
    /// The newest batch that added to this day.
    pub newest_batch: u64,
}

impl ExposureDay {
    /// The report type that caused this day's exposure: the type of the keys contributing
    /// most to its score (ties: the more certain type, in code order).
    pub fn main_report_type(&self, matched: &[MatchedKey]) -> Option<ReportType> {
        let mut best: Option<(f64, ReportType)> = None;
        for t in &self.report_types {
            let score: f64 = matched
                .iter()
                .filter(|m| m.meta.report_type == *t)
                .flat_map(|m| m.days.iter())
                .filter(|c| c.day == self.day)
                .map(|c| c.score)
                .sum();
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, *t));
            }
        }
        best.map(|(_, t)| t)
    }
}

/// What one matched key added to one day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyContribution {
    /// UTC day number.
    pub day: u64,
    /// Sum of the key's window scores on that day.
    pub score: f64,
    /// The key's windows that counted on that day.
    pub windows: u32,
}

/// A published key that matched the phone's scans, with the metadata it was scored with
/// and what it contributed. Its `Debug` omits the key bytes.
#[derive(Clone, PartialEq)]
pub struct MatchedKey {
    /// The key.
    pub key: TemporaryExposureKey,
    /// The metadata it was last published with.
    pub meta: KeyMetadata,
    /// The batch it was last seen in.
    pub batch: u64,
    /// Its contributions, by increasing day (empty for a revoked key).
    pub days: Vec<KeyContribution>,
}

impl std::fmt::Debug for MatchedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchedKey")
            .field("meta", &self.meta)
            .field("batch", &self.batch)
            .field("days", &self.days)
            .finish_non_exhaustive()
    }
}

/// Exposure days by increasing day, and the matched keys behind them (by key bytes).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Exposures {
    pub(super) days: Vec<ExposureDay>,
    pub(super) matched: Vec<MatchedKey>,
}

impl Exposures {
    /// Takes away what a key seen again contributed before; returns the days it touched.
    fn withdraw(&mut self, key: &TemporaryExposureKey) -> Vec<u64> {
        let Ok(at) = self
            .matched
            .binary_search_by(|m| m.key.as_bytes().cmp(key.as_bytes()))
        else {
            return Vec::new();
        };
        let old = self.matched.remove(at);
        let mut touched = Vec::new();
        for c in &old.days {
            if let Ok(i) = self.days.binary_search_by_key(&c.day, |d| d.day) {
                let d = &mut self.days[i];
                d.score_sum = (d.score_sum - c.score).max(0.0);
                d.windows = d.windows.saturating_sub(c.windows);
                touched.push(c.day);
            }
        }
        touched
    }

    /// Recomputes the report types of `days` from the matched keys; drops days left empty.
    fn refresh(&mut self, days: &[u64]) {
        for day in days {
            let Ok(i) = self.days.binary_search_by_key(day, |d| d.day) else {
                continue;
            };
            if self.days[i].windows == 0 {
                self.days.remove(i);
                continue;
            }
            let mut types: Vec<ReportType> = self
                .matched
                .iter()
                .filter(|m| m.days.iter().any(|c| c.day == *day && c.windows > 0))
                .map(|m| m.meta.report_type)
                .collect();
            types.sort_unstable();
            types.dedup();
            if types.is_empty() {
                // Contributions from before the phone remembered keys: keep what was stored.
                continue;
            }
            self.days[i].report_types = types;
        }
    }

    /// Adds the scored windows of batch `sequence` (whose keys are `keys`), replacing what
    /// any of its keys contributed when seen before; returns the days it touched.
    pub(super) fn add(
        &mut self,
        keys: &[DiagnosisKey],
        assessment: &Assessment,
        sequence: u64,
    ) -> Vec<u64> {
        let mut touched = Vec::new();
        let mut refresh = Vec::new();
        if !self.matched.is_empty() {
            for k in keys {
                refresh.extend(self.withdraw(&k.key));
            }
        }
        let mut fresh: Vec<MatchedKey> = Vec::new();
        for w in &assessment.windows {
            let key = &keys[w.window.key as usize];
            let m = match fresh.iter_mut().find(|m| m.key == key.key) {
                Some(m) => m,
                None => {
                    fresh.push(MatchedKey {
                        key: key.key.clone(),
                        meta: key.meta,
                        batch: sequence,
                        days: Vec::new(),
                    });
                    fresh.last_mut().expect("just pushed")
                }
            };
            match m.days.binary_search_by_key(&w.window.day, |c| c.day) {
                Ok(i) => {
                    m.days[i].score += w.score;
                    m.days[i].windows = m.days[i].windows.saturating_add(1);
                }
                Err(i) => m.days.insert(
                    i,
                    KeyContribution {
                        day: w.window.day,
                        score: w.score,
                        windows: 1,
                    },
                ),
            }
        }
        for m in fresh {
            if m.days.len() > MAX_KEY_DAYS {
                continue;
            }
            if let Err(i) = self
                .matched
                .binary_search_by(|x| x.key.as_bytes().cmp(m.key.as_bytes()))
            {
                self.matched.insert(i, m);
            }
        }
        if self.matched.len() > MAX_MATCHED_KEYS {
            let mut by_age: Vec<(u64, usize)> = self
                .matched
                .iter()
                .enumerate()
                .map(|(i, m)| (m.days.first().map_or(0, |c| c.day), i))
                .collect();
            by_age.sort_unstable();
            let drop: Vec<usize> = by_age[..self.matched.len() - MAX_MATCHED_KEYS]
                .iter()
                .map(|(_, i)| *i)
                .collect();
            let mut i = 0;
            self.matched.retain(|_| {
                i += 1;
                !drop.contains(&(i - 1))
            });
        }
        for w in &assessment.windows {
            let day = w.window.day;
            let at = match self.days.binary_search_by_key(&day, |d| d.day) {
                Ok(at) => at,
                Err(at) => {
                    self.days.insert(
                        at,
                        ExposureDay {
                            day,
                            score_sum: 0.0,
                            windows: 0,
                            report_types: Vec::new(),
                            newest_batch: sequence,
                        },
                    );
                    at
                }
            };
            let d = &mut self.days[at];
            d.score_sum += w.score;
            d.windows = d.windows.saturating_add(1);
            d.newest_batch = d.newest_batch.max(sequence);
            if let Err(i) = d.report_types.binary_search(&w.window.report_type) {
                d.report_types.insert(i, w.window.report_type);
            }
            if let Err(i) = touched.binary_search(&day) {
                touched.insert(i, day);
            }
        }
        for day in refresh {
            if let Err(i) = touched.binary_search(&day) {
                touched.insert(i, day);
            }
        }
        self.refresh(&touched);
        if self.days.len() > MAX_EXPOSURE_DAYS {
            self.days.drain(..self.days.len() - MAX_EXPOSURE_DAYS);
        }
        touched
    }

    /// Drops days more than [`EXPOSURE_RETENTION_DAYS`] before `now`'s.
    pub(super) fn prune(&mut self, now: UnixTime) {
        let oldest = (now.0 / DAY_SECONDS).saturating_sub(EXPOSURE_RETENTION_DAYS);
        self.days.retain(|d| d.day >= oldest);
        self.matched
            .retain(|m| m.days.last().is_some_and(|c| c.day >= oldest));
    }
}
