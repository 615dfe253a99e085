//! Exposure windows and GAEN v2-style scoring with the server's signed risk configuration.
//!
//! Matched sightings of one key are grouped into windows of at most 30 minutes; each
//! sighting's attenuation (transmit power from the decrypted AEM − RSSI) selects a bucket;
//! `window score = Σ seconds × bucket weight × report-type weight × infectiousness weight`.
//! Per UTC day the scores are summed; a day reaching the notification threshold notifies.

use std::collections::BTreeMap;

use crate::derive::{KeySchedule, Metadata};
use crate::matching::{Hit, Scan};
use crate::wire::config::{Infectiousness, RiskConfig};
use crate::wire::key::DiagnosisKey;
use crate::wire::ReportType;
use crate::UnixTime;

/// Longest exposure window (GAEN: 30 minutes).
pub const WINDOW_SECONDS: u64 = 30 * 60;

/// One sighting inside a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanInstance {
    /// When.
    pub time: UnixTime,
    /// Transmit power − RSSI, clamped to 0..=255 dB.
    pub attenuation_db: u8,
    /// Seconds it stands for.
    pub seconds: u16,
}

/// Up to 30 minutes of sightings of one diagnosis key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposureWindow {
    /// Index of the key in the matched slice.
    pub key: u32,
    /// UTC day of the first sighting.
    pub day: u64,
    /// Report type of the key.
    pub report_type: ReportType,
    /// Days since onset of the key, if known.
    pub days_since_onset: Option<i8>,
    /// The sightings, by time.
    pub scans: Vec<ScanInstance>,
}

/// Groups hits into exposure windows, decrypting each sighting's AEM for its transmit power.
pub fn exposure_windows(
    hits: &[Hit],
    keys: &[DiagnosisKey],
    scans: &[Scan],
) -> Vec<ExposureWindow> {
    let mut by_key: BTreeMap<u32, Vec<&Hit>> = BTreeMap::new();
    for h in hits {
        by_key.entry(h.key).or_default().push(h);
    }
    let mut out = Vec::new();
    for (k, mut hs) in by_key {
        let key = &keys[k as usize];
        let sched = KeySchedule::new(&key.key);
        hs.sort_by_key(|h| (scans[h.scan as usize].time, h.scan));
        let mut current: Option<ExposureWindow> = None;
        let mut start = UnixTime(0);
        for h in hs {
            let s = &scans[h.scan as usize];
            let meta = Metadata::from_bytes(sched.aem(&s.rpi, &s.aem).try_into().expect("4 bytes"));
            let att = (i16::from(meta.tx_power) - i16::from(s.rssi)).clamp(0, 255) as u8;
            let inst = ScanInstance {
                time: s.time,
                attenuation_db: att,
                seconds: s.seconds,
            };
            match &mut current {
                Some(w) if s.time.0 < start.0 + WINDOW_SECONDS => w.scans.push(inst),
                _ => {
                    out.extend(current.take());
                    start = s.time;
                    current = Some(ExposureWindow {
                        key: k,
                        day: s.time.day(),
                        report_type: key.meta.report_type,
                        days_since_onset: key.meta.days_since_onset,
                        scans: vec![inst],
                    });
                }
            }
        }
        out.extend(current);
    }
    out
}

/// A scored window.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredWindow {
    /// The window.
    pub window: ExposureWindow,
    /// Σ seconds × bucket weight.
    pub weighted_seconds: f64,
    /// Weighted seconds × report-type weight × infectiousness weight.
    pub score: f64,
}

/// Per-UTC-day totals.
#[derive(Debug, Clone, PartialEq)]
pub struct DailySummary {
    /// UTC day number.
    pub day: u64,
    /// Sum of window scores.
    pub score_sum: f64,
    /// Largest window score.
    pub max_score: f64,
    /// Sum of weighted seconds.
    pub weighted_seconds_sum: f64,
}

/// The outcome of scoring.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Windows that count (non-zero infectiousness, not revoked, at least the minimum score).
    pub windows: Vec<ScoredWindow>,
    /// Per-day summaries, by day.
    pub days: Vec<DailySummary>,
    /// Days whose score sum reached the notification threshold.
    pub notify_days: Vec<u64>,
}

fn w(x: u16) -> f64 {
    f64::from(x) / 100.0
}

/// Attenuation bucket weight.
pub fn bucket_weight(att: u8, c: &RiskConfig) -> f64 {
    let t = c.attenuation_thresholds;
    let i = if att <= t[0] {
        0
    } else if att <= t[1] {
        1
    } else if att <= t[2] {
        2
    } else {
        3
    };
    w(c.attenuation_weights[i])
}

/// Scores windows and summarises them per day.
pub fn assess(windows: Vec<ExposureWindow>, c: &RiskConfig) -> Assessment {
    let mut scored = Vec::new();
    for win in windows {
        let rt = match win.report_type {
            ReportType::ConfirmedTest => w(c.report_type_weights[0]),
            ReportType::ConfirmedClinicalDiagnosis => w(c.report_type_weights[1]),
            ReportType::SelfReport => w(c.report_type_weights[2]),
            ReportType::Revoked => continue,
        };
        let inf = match win.days_since_onset {
            Some(d) => c.infectiousness_by_dsos[(i16::from(d) + 14) as usize],
            None => c.infectiousness_when_missing,
        };
        let iw = match inf {
            Infectiousness::None => continue,
            Infectiousness::Standard => w(c.infectiousness_weights[0]),
            Infectiousness::High => w(c.infectiousness_weights[1]),
        };
        let weighted: f64 = win
            .scans
            .iter()
            .map(|s| f64::from(s.seconds) * bucket_weight(s.attenuation_db, c))
            .sum();
        let score = weighted * rt * iw;
        if score < f64::from(c.minimum_window_score) {
            continue;
        }
        scored.push(ScoredWindow {
            window: win,
            weighted_seconds: weighted,
            score,
        });
    }
    let mut days: BTreeMap<u64, DailySummary> = BTreeMap::new();
    for s in &scored {
        let d = days.entry(s.window.day).or_insert(DailySummary {
            day: s.window.day,
            score_sum: 0.0,
            max_score: 0.0,
            weighted_seconds_sum: 0.0,
        });
        d.score_sum += s.score;
        d.max_score = d.max_score.max(s.score);
        d.weighted_seconds_sum += s.weighted_seconds;
    }
    let days: Vec<DailySummary> = days.into_values().collect();
    let notify_days = days
        .iter()
        .filter(|d| d.score_sum >= f64::from(c.notification_threshold))
        .map(|d| d.day)
        .collect();
    Assessment {
        windows: scored,
        days,
        notify_days,
    }
}
