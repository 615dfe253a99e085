//! What the phone concluded from matching: per UTC day, the summed score of its exposure
//! windows and which report types caused them, accumulated over the batches that matched.

use crate::risk::Assessment;
use crate::time::{UnixTime, DAY_SECONDS};
use crate::wire::ReportType;

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

/// Exposure days by increasing day.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Exposures {
    pub(super) days: Vec<ExposureDay>,
}

impl Exposures {
    /// Adds the scored windows of batch `sequence`; returns the days it touched.
    pub(super) fn add(&mut self, assessment: &Assessment, sequence: u64) -> Vec<u64> {
        let mut touched = Vec::new();
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
        if self.days.len() > MAX_EXPOSURE_DAYS {
            self.days.drain(..self.days.len() - MAX_EXPOSURE_DAYS);
        }
        touched
    }

    /// Drops days more than [`EXPOSURE_RETENTION_DAYS`] before `now`'s.
    pub(super) fn prune(&mut self, now: UnixTime) {
        let oldest = (now.0 / DAY_SECONDS).saturating_sub(EXPOSURE_RETENTION_DAYS);
        self.days.retain(|d| d.day >= oldest);
    }
}
