//! Risk configuration: the server-signed parameters of exposure scoring (GAEN v2 style).
//!
//! Weights are fixed-point hundredths (100 = 1.0, at most 250 = 2.5, GAEN's range), so the
//! encoding is exact and canonical.

use super::{put_header, split_signature, Reader};
use crate::error::{DecodeError, Error};
use crate::keys::{context, KeyId, SigningKey};
use crate::time::UnixTime;
use crate::verify::{verify_export, ExportKeys};

/// Magic of a risk configuration.
pub const MAGIC: &[u8; 4] = b"ENRC";
/// Largest weight, in hundredths.
pub const MAX_WEIGHT: u16 = 250;

/// Infectiousness of a key, by days since symptom onset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Infectiousness {
    /// Not infectious: windows are dropped.
    None = 0,
    /// Standard.
    Standard = 1,
    /// High.
    High = 2,
}

impl Infectiousness {
    fn from_code(c: u8) -> Result<Self, DecodeError> {
        match c {
            0 => Ok(Self::None),
            1 => Ok(Self::Standard),
            2 => Ok(Self::High),
            _ => Err(DecodeError::OutOfRange("infectiousness")),
        }
    }
}

/// Scoring parameters. Defaults follow the values GAEN deployments commonly used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskConfig {
    /// When the configuration was issued.
    pub issued_at: UnixTime,
    /// Attenuation thresholds in dB for immediate / near / medium (strictly increasing).
    pub attenuation_thresholds: [u8; 3],
    /// Weights of the immediate, near, medium and other buckets, hundredths.
    pub attenuation_weights: [u16; 4],
    /// Infectiousness for days since onset -14..=14 (index 0 is -14).
    pub infectiousness_by_dsos: [Infectiousness; 29],
    /// Infectiousness when a key carries no days since onset.
    pub infectiousness_when_missing: Infectiousness,
    /// Weights of standard and high infectiousness, hundredths.
    pub infectiousness_weights: [u16; 2],
    /// Weights of confirmed test, clinical diagnosis and self-report, hundredths.
    pub report_type_weights: [u16; 3],
    /// Windows scoring below this (weighted seconds) are dropped.
    pub minimum_window_score: u32,
    /// A day whose score sum reaches this (weighted seconds) triggers a notification.
    pub notification_threshold: u32,
}

impl Default for RiskConfig {
    fn default() -> Self {
        let mut inf = [Infectiousness::None; 29];
        for (i, v) in inf.iter_mut().enumerate() {
            let d = i as i32 - 14;
            *v = match d {
                -2..=2 => Infectiousness::High,
                -5..=9 => Infectiousness::Standard,
                _ => Infectiousness::None,
            };
        }
        RiskConfig {
            issued_at: UnixTime(0),
            attenuation_thresholds: [55, 63, 73],
            attenuation_weights: [150, 100, 50, 0],
            infectiousness_by_dsos: inf,
            infectiousness_when_missing: Infectiousness::Standard,
            infectiousness_weights: [100, 200],
            report_type_weights: [100, 100, 50],
            minimum_window_score: 0,
            // 15 minutes at the "near" weight, standard infectiousness, confirmed test.
            notification_threshold: 900,
        }
    }
}

impl RiskConfig {
    /// Checks every range the decoder checks.
    pub fn check(&self) -> Result<(), DecodeError> {
        let t = self.attenuation_thresholds;
        if !(t[0] < t[1] && t[1] < t[2]) {
            return Err(DecodeError::OutOfRange("attenuation thresholds"));
        }
        let weights = self
            .attenuation_weights
            .iter()
            .chain(&self.infectiousness_weights)
            .chain(&self.report_type_weights);
        if weights.into_iter().any(|w| *w > MAX_WEIGHT) {
            return Err(DecodeError::OutOfRange("weight"));
        }
        Ok(())
    }

    /// Writes the fields, from `issued_at` to `notification_threshold` (wire-format §7; the
    /// phone's state stores the configuration in force the same way).
    pub(crate) fn write_fields(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.issued_at.0.to_be_bytes());
        out.extend_from_slice(&self.attenuation_thresholds);
        let put_w = |out: &mut Vec<u8>, ws: &[u16]| {
            ws.iter()
                .for_each(|w| out.extend_from_slice(&w.to_be_bytes()))
        };
        put_w(out, &self.attenuation_weights);
        out.extend(self.infectiousness_by_dsos.iter().map(|i| *i as u8));
        out.push(self.infectiousness_when_missing as u8);
        put_w(out, &self.infectiousness_weights);
        put_w(out, &self.report_type_weights);
        out.extend_from_slice(&self.minimum_window_score.to_be_bytes());
        out.extend_from_slice(&self.notification_threshold.to_be_bytes());
    }

    /// Reads what [`Self::write_fields`] writes and checks every range.
    pub(crate) fn read_fields(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let issued_at = UnixTime(r.u64("issued at")?);
        let attenuation_thresholds = r.array("attenuation thresholds")?;
        let mut w4 = [0u16; 4];
        for w in &mut w4 {
            *w = r.u16("attenuation weight")?;
        }
        let mut inf = [Infectiousness::None; 29];
        for i in &mut inf {
            *i = Infectiousness::from_code(r.u8("infectiousness")?)?;
        }
        let missing = Infectiousness::from_code(r.u8("infectiousness when missing")?)?;
        let iw = [
            r.u16("infectiousness weight")?,
            r.u16("infectiousness weight")?,
        ];
        let rw = [
            r.u16("report type weight")?,
            r.u16("report type weight")?,
            r.u16("report type weight")?,
        ];
        let config = RiskConfig {
            issued_at,
            attenuation_thresholds,
            attenuation_weights: w4,
            infectiousness_by_dsos: inf,
            infectiousness_when_missing: missing,
            infectiousness_weights: iw,
            report_type_weights: rw,
            minimum_window_score: r.u32("minimum window score")?,
            notification_threshold: r.u32("notification threshold")?,
        };
        config.check()?;
        Ok(config)
    }

    /// Signs and encodes the configuration.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, Error> {
        self.check()?;
        let mut out = Vec::with_capacity(160);
        put_header(&mut out, MAGIC);
        out.extend_from_slice(&key.public_key().key_id().0);
        self.write_fields(&mut out);
        let sig = key.sign(context::RISK_CONFIG, &out);
        out.extend_from_slice(&sig);
        Ok(out)
    }
}

/// A decoded, unverified risk configuration.
#[derive(Debug, Clone)]
pub struct SignedRiskConfig {
    key_id: KeyId,
    config: RiskConfig,
    bytes: Vec<u8>,
}

impl SignedRiskConfig {
    /// Strictly decodes a risk configuration.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (body, _) = split_signature(bytes, "risk configuration")?;
        let mut r = Reader::new(body);
        r.header(MAGIC, "risk configuration")?;
        let key_id = KeyId(r.array("key id")?);
        let config = RiskConfig::read_fields(&mut r)?;
        r.finish()?;
        Ok(SignedRiskConfig {
            key_id,
            config,
            bytes: bytes.to_vec(),
        })
    }

    /// The bytes as decoded.
    pub fn encode(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks the signature.
    pub fn verify(self, trusted: &ExportKeys) -> Result<VerifiedRiskConfig, Error> {
        verify_export(trusted, &self.key_id, context::RISK_CONFIG, &self.bytes)?;
        Ok(VerifiedRiskConfig(self.config))
    }
}

/// A risk configuration whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedRiskConfig(RiskConfig);

impl VerifiedRiskConfig {
    /// The verified parameters.
    pub fn config(&self) -> &RiskConfig {
        &self.0
    }
}
