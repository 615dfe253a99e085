//! The plain values [`crate::Phone`] returns: protocol results with foreign-friendly types
//! (`u64` seconds and counts, `Vec<u8>` bytes). None of them holds a secret.

use en_protocol::phone;

/// What to broadcast during one 10-minute interval (the Bluetooth payload).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Broadcast {
    /// The rolling proximity identifier, 16 bytes.
    pub rpi: Vec<u8>,
    /// The associated encrypted metadata, 4 bytes.
    pub aem: Vec<u8>,
    /// The ENIntervalNumber the RPI belongs to; broadcast a new one when it ends
    /// (at `(interval + 1) * 600` Unix seconds).
    pub interval: u32,
}

impl From<phone::Broadcast> for Broadcast {
    fn from(b: phone::Broadcast) -> Self {
        Broadcast {
            rpi: b.rpi.to_vec(),
            aem: b.aem.to_vec(),
            interval: b.interval.0,
        }
    }
}

/// What an accepted index changed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IndexUpdate {
    /// When the index was signed, Unix seconds.
    pub generated_at: u64,
    /// Batches to download now (`Phone.next_batch()` names them in order).
    pub pending: u64,
    /// The newest batch the index lists, if any.
    pub newest_listed: Option<u64>,
}

impl From<phone::IndexUpdate> for IndexUpdate {
    fn from(u: phone::IndexUpdate) -> Self {
        IndexUpdate {
            generated_at: u.generated_at.0,
            pending: u.pending as u64,
            newest_listed: u.newest_listed,
        }
    }
}

/// What one verified, chained batch found.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BatchResult {
    /// The batch's sequence number.
    pub sequence: u64,
    /// Keys in the batch (padding included).
    pub keys: u32,
    /// The phone's scans that matched a key of the batch.
    pub hits: u64,
    /// Exposure windows that counted after scoring.
    pub windows: u64,
    /// True if the phone had no verified batch before this one, so this one was trusted on
    /// first use (a new phone, or after `resync()`).
    pub on_trust: bool,
    /// UTC day numbers (Unix seconds / 86400) whose exposure results changed.
    pub days: Vec<u64>,
}

impl From<phone::BatchMatch> for BatchResult {
    fn from(m: phone::BatchMatch) -> Self {
        BatchResult {
            sequence: m.sequence,
            keys: m.keys,
            hits: m.hits as u64,
            windows: m.windows as u64,
            on_trust: m.on_trust,
            days: m.days,
        }
    }
}

/// What `Phone.resync()` gave up. Show `warning` to the user: batches in the gap will never
/// be checked against this phone's scans.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ResyncWarning {
    /// The last verified batch, now forgotten (none for a phone that had none).
    pub dropped_head: Option<u64>,
    /// The first batch that will never be verified.
    pub skipped_from: u64,
    /// The batch the chain is trusted again from, on first use.
    pub resume_at: u64,
    /// How many batches will never be verified.
    pub skipped: u64,
    /// A sentence saying all of the above.
    pub warning: String,
}

impl From<phone::Resync> for ResyncWarning {
    fn from(r: phone::Resync) -> Self {
        ResyncWarning {
            dropped_head: r.dropped_head,
            skipped_from: r.skipped_from,
            resume_at: r.resume_at,
            skipped: r.skipped(),
            warning: r.to_string(),
        }
    }
}

/// One UTC day on which the phone's scans matched published keys.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ExposureDay {
    /// UTC day number (Unix seconds / 86400) of the exposure.
    pub day: u64,
    /// Sum of the day's window scores (weighted seconds); the day notifies when it reaches
    /// the risk configuration's threshold (see `Phone.notify_days()`).
    pub score_sum: f64,
    /// Exposure windows that counted.
    pub windows: u32,
    /// Report types behind them: `"confirmed"`, `"clinical"`, `"self-report"`.
    pub report_types: Vec<String>,
    /// The newest batch that added to this day.
    pub newest_batch: u64,
    /// The kind of report that caused it: the report type of the keys contributing most to
    /// its score (`"confirmed"`, `"clinical"`, `"self-report"`), to tell the user; a key
    /// later revised (e.g. a self-report confirmed by a lab test) counts with its new type,
    /// and a revoked one no longer counts at all.
    pub cause: Option<String>,
}

impl ExposureDay {
    /// The phone's exposure day `d`, with its cause.
    pub(crate) fn of(phone: &phone::Phone, d: &phone::ExposureDay) -> Self {
        ExposureDay {
            day: d.day,
            score_sum: d.score_sum,
            windows: d.windows,
            report_types: d.report_types.iter().map(|t| t.name().into()).collect(),
            newest_batch: d.newest_batch,
            cause: phone.cause(d.day).map(|t| t.name().into()),
        }
    }
}

/// A visited region the phone follows.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitedRegion {
    /// Its region code, e.g. `"VN-KG"`.
    pub region: String,
    /// The UTC day (Unix seconds / 86400) of the last visit; followed 14 days after it.
    pub last_visit_day: u64,
}

/// A region and the export public keys its server signs with (64 hex characters each).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RegionKeys {
    /// The region code.
    pub region: String,
    /// Its server's export public keys.
    pub export_public_keys: Vec<String>,
}
