//! Prometheus text-format metrics: counters and a latency histogram, lock-free on the hot path.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Server metrics.
#[derive(Default)]
pub struct Metrics {
    /// Case reports accepted.
    pub cases_accepted: AtomicU64,
    /// Certified phone uploads accepted.
    pub publishes_accepted: AtomicU64,
    /// Fake uploads answered.
    pub fake_uploads: AtomicU64,
    /// Keys stored.
    pub keys_stored: AtomicU64,
    /// Batches published.
    pub batches_published: AtomicU64,
    /// Connections closed at once because the connection limit was reached.
    pub connections_refused: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    /// Connections currently open (TLS handshake included).
    pub open_connections: AtomicU64,
}

impl Metrics {
    /// Counts a rejection by its error code.
    pub fn reject(&self, code: &'static str) {
        *self
            .rejected
            .lock()
            .expect("metrics lock")
            .entry(code)
            .or_default() += 1;
    }
    /// Records a request's latency.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.latency_buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_us.fetch_add(d.as_micros() as u64, Relaxed);
    }
    /// Renders the Prometheus text format.
    pub fn render(&self, pending_keys: usize, open_connections: usize) -> String {
        let mut s = String::new();
        let c = |s: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        let _ = writeln!(s, "# HELP en_uploads_accepted_total Uploads accepted, by kind.\n# TYPE en_uploads_accepted_total counter");
        let _ = writeln!(
            s,
            "en_uploads_accepted_total{{kind=\"case_report\"}} {}",
            self.cases_accepted.load(Relaxed)
        );
        let _ = writeln!(
            s,
            "en_uploads_accepted_total{{kind=\"certified\"}} {}",
            self.publishes_accepted.load(Relaxed)
        );
        c(
            &mut s,
            "en_fake_uploads_total",
            "Fake (chaff) uploads answered.",
            self.fake_uploads.load(Relaxed),
        );
        let _ = writeln!(s, "# HELP en_uploads_rejected_total Requests rejected, by error code.\n# TYPE en_uploads_rejected_total counter");
        for (code, n) in self.rejected.lock().expect("metrics lock").iter() {
            let _ = writeln!(s, "en_uploads_rejected_total{{reason=\"{code}\"}} {n}");
        }
        c(
            &mut s,
            "en_keys_stored_total",
            "Diagnosis keys stored.",
            self.keys_stored.load(Relaxed),
        );
        c(
            &mut s,
            "en_batches_published_total",
            "Batches published.",
            self.batches_published.load(Relaxed),
        );
        c(
            &mut s,
            "en_connections_refused_total",
            "Connections closed because of the connection limit.",
            self.connections_refused.load(Relaxed),
        );
        let _ = writeln!(s, "# HELP en_open_connections Connections currently open.\n# TYPE en_open_connections gauge\nen_open_connections {open_connections}");
        let _ = writeln!(s, "# HELP en_pending_keys Keys waiting for publication.\n# TYPE en_pending_keys gauge\nen_pending_keys {pending_keys}");
        let _ = writeln!(s, "# HELP en_request_duration_seconds Request latency.\n# TYPE en_request_duration_seconds histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                s,
                "en_request_duration_seconds_bucket{{le=\"{b}\"}} {}",
                self.latency_buckets[i].load(Relaxed)
            );
        }
        let n = self.latency_count.load(Relaxed);
        let _ = writeln!(s, "en_request_duration_seconds_bucket{{le=\"+Inf\"}} {n}");
        let _ = writeln!(
            s,
            "en_request_duration_seconds_sum {}",
            self.latency_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(s, "en_request_duration_seconds_count {n}");
        s
    }
}
