//! The `[risk]` section: exposure scoring parameters, signed and published at `/v1/config`.

use en_protocol::wire::config::RiskConfig;
use serde::{Deserialize, Serialize};

/// Why the `[risk]` settings are not a valid risk configuration.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRisk(pub String);

/// Risk configuration settings (weights in hundredths, see spec/wire-format.md §7).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RiskSettings {
    /// Attenuation thresholds in dB (immediate, near, medium).
    pub attenuation_thresholds: [u8; 3],
    /// Bucket weights, hundredths (immediate, near, medium, other).
    pub attenuation_weights: [u16; 4],
    /// Infectiousness (0 none, 1 standard, 2 high) for days since onset -14..=14.
    pub infectiousness_by_dsos: Vec<u8>,
    /// Infectiousness when unknown.
    pub infectiousness_when_missing: u8,
    /// Weights for standard and high infectiousness, hundredths.
    pub infectiousness_weights: [u16; 2],
    /// Weights for confirmed test, clinical diagnosis, self-report, hundredths.
    pub report_type_weights: [u16; 3],
    /// Minimum window score (weighted seconds).
    pub minimum_window_score: u32,
    /// Daily score that notifies (weighted seconds).
    pub notification_threshold: u32,
}

impl Default for RiskSettings {
    fn default() -> Self {
        let d = RiskConfig::default();
        RiskSettings {
            attenuation_thresholds: d.attenuation_thresholds,
            attenuation_weights: d.attenuation_weights,
            infectiousness_by_dsos: d.infectiousness_by_dsos.iter().map(|i| *i as u8).collect(),
            infectiousness_when_missing: d.infectiousness_when_missing as u8,
            infectiousness_weights: d.infectiousness_weights,
            report_type_weights: d.report_type_weights,
            minimum_window_score: d.minimum_window_score,
            notification_threshold: d.notification_threshold,
        }
    }
}

impl RiskSettings {
    /// The protocol value, checked.
    pub fn to_risk_config(
        &self,
        issued_at: en_protocol::UnixTime,
    ) -> Result<RiskConfig, InvalidRisk> {
        use en_protocol::wire::config::Infectiousness as I;
        let inf = |c: u8| match c {
            0 => Ok(I::None),
            1 => Ok(I::Standard),
            2 => Ok(I::High),
            _ => Err(InvalidRisk("infectiousness values are 0, 1 or 2".into())),
        };
        let by: Vec<I> = self
            .infectiousness_by_dsos
            .iter()
            .map(|c| inf(*c))
            .collect::<Result<_, _>>()?;
        let rc = RiskConfig {
            issued_at,
            attenuation_thresholds: self.attenuation_thresholds,
            attenuation_weights: self.attenuation_weights,
            infectiousness_by_dsos: by
                .try_into()
                .map_err(|_| InvalidRisk("infectiousness_by_dsos needs 29 values".into()))?,
            infectiousness_when_missing: inf(self.infectiousness_when_missing)?,
            infectiousness_weights: self.infectiousness_weights,
            report_type_weights: self.report_type_weights,
            minimum_window_score: self.minimum_window_score,
            notification_threshold: self.notification_threshold,
        };
        rc.check().map_err(|e| InvalidRisk(e.to_string()))?;
        Ok(rc)
    }
}
