//! Where a run's time goes: wall time per phase of a day, and the CPU time of the thread
//! that runs the world (which, on a current-thread runtime, also runs the in-process
//! server's request handling; batch signing runs on tokio's blocking pool and is not in it).
//! Never part of a report: times differ from run to run.

use std::time::Instant;

use serde::Serialize;

/// Seconds spent per phase.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Phases {
    /// Drawing the day's would-be contacts (`contacts`, `places`).
    pub plan_contacts: f64,
    /// Sessions taking place and transmitting; the sniffer's records.
    pub live: f64,
    /// Test results, ground truth.
    pub results: f64,
    /// Real uploads (HTTPS to the server).
    pub uploads: f64,
    /// Fake uploads (HTTPS to the server).
    pub fakes: f64,
    /// Closing batches, the reference phone's and fetchers' downloads, deriving RPIs.
    pub batches: f64,
    /// Phones fetching: regenerating scans, matching, scoring, notifying.
    pub matching: f64,
    /// CPU time of the world's thread.
    pub thread_cpu: f64,
}

impl Phases {
    /// Adds the time since `start` to the phase `f` selects.
    pub(super) fn add(&mut self, start: Instant, f: fn(&mut Phases) -> &mut f64) {
        *f(self) += start.elapsed().as_secs_f64();
    }

    /// Sums two runs' phases.
    pub fn merge(&mut self, o: &Phases) {
        self.plan_contacts += o.plan_contacts;
        self.live += o.live;
        self.results += o.results;
        self.uploads += o.uploads;
        self.fakes += o.fakes;
        self.batches += o.batches;
        self.matching += o.matching;
        self.thread_cpu += o.thread_cpu;
    }
}

/// CPU seconds of the calling thread so far (Linux; 0 elsewhere).
pub fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime, in clock ticks of 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}
