//! Prometheus text-format metrics, served only on the admin listener.
//!
//! Nothing here separates fake uploads from real ones, and nothing moves with a single
//! accepted upload's keys: uploads are counted per endpoint with real and fake together, and
//! the key gauges are snapshots taken when a batch closes. (The public listener serves no
//! metrics at all; see the threat model.)

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
    /// Case-report uploads answered 200 (`POST /v1/cases`).
    pub cases_answered: AtomicU64,
    /// Bulk uploads answered 200 (`POST /v1/cases/bulk`).
    pub bulk_answered: AtomicU64,
    /// Phone uploads answered 200, real and fake together (`POST /v1/publish`).
    pub publish_answered: AtomicU64,
    /// Codes redeemed, real and fake together (`POST /v1/verify`).
    pub verify_answered: AtomicU64,
    /// Certificates signed, real and fake together (`POST /v1/certificate`).
    pub certificate_answered: AtomicU64,
    /// Venue trace reports answered 200 (`POST /v1/traces`).
    pub traces_answered: AtomicU64,
    /// Venue trace batches published.
    pub trace_batches_published: AtomicU64,
    /// Entries in published trace batches, real and padding together.
    pub trace_entries_published: AtomicU64,
    /// Batches published.
    pub batches_published: AtomicU64,
    /// Keys in published batches, real and padding together (snapshot at each batch).
    pub keys_published: AtomicU64,
    /// Keys waiting for publication (snapshot at each batch).
    pub pending_keys: AtomicU64,
    /// Connections closed at once because the connection limit was reached.
    pub connections_refused: AtomicU64,
    /// Connections closed because the peer did not take our bytes in time.
    pub write_timeouts: AtomicU64,
    /// Connections currently open (TLS handshake included).
    pub open_connections: AtomicU64,
    /// 1 while this process holds the batch lock (closes the batches), else 0.
    pub batch_lock_held: AtomicU64,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    /// Keys imported per federation peer.
    federation_imported: Mutex<BTreeMap<String, u64>>,
    /// Failed or refused imports per (peer, reason).
    federation_refused: Mutex<BTreeMap<(String, &'static str), u64>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Metrics {
    /// Counts keys imported from a federation peer (spec/federation.md §2).
    pub fn federation_imported(&self, peer: &en_protocol::wire::Region, keys: u64) {
        *self
            .federation_imported
            .lock()
            .expect("metrics lock")
            .entry(peer.as_str().to_string())
            .or_default() += keys;
    }

    /// Counts an import from a federation peer that stopped, by reason.
    pub fn federation_refused(&self, peer: &en_protocol::wire::Region, reason: &'static str) {
        *self
            .federation_refused
            .lock()
            .expect("metrics lock")
            .entry((peer.as_str().to_string(), reason))
            .or_default() += 1;
    }

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

    /// Sum of request latencies, seconds (the simulator reports the server's busy time).
    pub fn busy_seconds(&self) -> f64 {
        self.latency_sum_us.load(Relaxed) as f64 / 1e6
    }

    /// Renders the Prometheus text format.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let counter = |s: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        let gauge = |s: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let _ = writeln!(s, "# HELP en_uploads_answered_total Uploads answered 200, by endpoint (phone requests: real and fake together).\n# TYPE en_uploads_answered_total counter");
        for (endpoint, v) in [
            ("cases", &self.cases_answered),
            ("cases_bulk", &self.bulk_answered),
            ("publish", &self.publish_answered),
            ("verify", &self.verify_answered),
            ("certificate", &self.certificate_answered),
            ("traces", &self.traces_answered),
        ] {
            let _ = writeln!(
                s,
                "en_uploads_answered_total{{endpoint=\"{endpoint}\"}} {}",
                v.load(Relaxed)
            );
        }
        let _ = writeln!(s, "# HELP en_requests_rejected_total Requests rejected, by error code.\n# TYPE en_requests_rejected_total counter");
        for (code, n) in self.rejected.lock().expect("metrics lock").iter() {
            let _ = writeln!(s, "en_requests_rejected_total{{code=\"{code}\"}} {n}");
        }
        let _ = writeln!(s, "# HELP en_federation_imported_keys_total Keys imported from each federation peer (padding included: it cannot be told apart).\n# TYPE en_federation_imported_keys_total counter");
        for (peer, n) in self
            .federation_imported
            .lock()
            .expect("metrics lock")
            .iter()
        {
            let _ = writeln!(
                s,
                "en_federation_imported_keys_total{{peer=\"{peer}\"}} {n}"
            );
        }
        let _ = writeln!(s, "# HELP en_federation_refused_total Imports from a federation peer that stopped, by peer and reason (a protocol error code, or unreachable, timeout, http_status, too_large, daily_limit, store).\n# TYPE en_federation_refused_total counter");
        for ((peer, reason), n) in self.federation_refused.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                s,
                "en_federation_refused_total{{peer=\"{peer}\",reason=\"{reason}\"}} {n}"
            );
        }
        counter(
            &mut s,
            "en_batches_published_total",
            "Batches published.",
            self.batches_published.load(Relaxed),
        );
        counter(
            &mut s,
            "en_trace_batches_published_total",
            "Venue trace batches published.",
            self.trace_batches_published.load(Relaxed),
        );
        counter(
            &mut s,
            "en_trace_entries_published_total",
            "Entries in published venue trace batches, padding included.",
            self.trace_entries_published.load(Relaxed),
        );
        gauge(
            &mut s,
            "en_keys_published",
            "Keys in published batches, padding included (updated when a batch closes).",
            self.keys_published.load(Relaxed),
        );
        gauge(
            &mut s,
            "en_pending_keys",
            "Keys waiting for publication (updated when a batch closes).",
            self.pending_keys.load(Relaxed),
        );
        counter(
            &mut s,
            "en_connections_refused_total",
            "Connections closed because of the connection limit.",
            self.connections_refused.load(Relaxed),
        );
        counter(
            &mut s,
            "en_write_timeouts_total",
            "Connections closed because the peer did not read our answers in time.",
            self.write_timeouts.load(Relaxed),
        );
        gauge(
            &mut s,
            "en_open_connections",
            "Connections currently open.",
            self.open_connections.load(Relaxed),
        );
        gauge(
            &mut s,
            "en_batch_lock_held",
            "1 while this replica holds the batch lock and closes the batches.",
            self.batch_lock_held.load(Relaxed),
        );
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
        let _ = writeln!(s, "en_request_duration_seconds_sum {}", self.busy_seconds());
        let _ = writeln!(s, "en_request_duration_seconds_count {n}");
        s
    }
}
