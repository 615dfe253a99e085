//! `en-sim bench`: the hot paths measured beside a reference measured in the same run on the
//! same machine (these machines are noisy: ratios hold better than absolute times).
//!
//! One file per measurement; [`fixtures`] builds what they share (the server, honestly
//! filled with signed, verified and accepted uploads).

mod batch;
mod chaff;
mod codes;
mod download;
mod fixtures;
mod ingest;
mod matching;
// The throwaway PostgreSQL cluster of the tests (standard library only).
#[path = "../../../../../tests/common/pg.rs"]
mod pg;
mod postgres;
mod simulator;
mod venues;

use std::time::{Duration, Instant};

use en_protocol::UnixTime;
use serde::Serialize;

pub use batch::{batch_building, wire_size, BatchResult, WireResult};
pub use chaff::{chaff, ChaffResult};
pub use codes::{codes, CodesResult};
pub use download::{download, DownloadResult};
pub use ingest::{ingest, IngestResult};
pub use matching::{matching, MatchingResult};
pub use postgres::{postgres, PostgresResult};
pub use simulator::{simulator, SimResult};
pub use venues::{venues, VenueResult};

/// Arguments of `en-sim bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Only these (comma-separated): matching, batch, ingest, download, wire, chaff, codes,
    /// simulator, venues; and postgres (ingest with one and two replicas, and batch building
    /// of --batch-keys keys, on a throwaway PostgreSQL cluster beside sled), which runs only
    /// when named here.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Seconds per timed measurement.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Keys in the batch-building measurement.
    #[arg(long, default_value_t = 1_000_000)]
    batch_keys: usize,
    /// Phones in the simulator measurement (100000 for the full target).
    #[arg(long, default_value_t = 20_000)]
    sim_phones: usize,
    /// Adoption in the simulator measurement.
    #[arg(long, default_value_t = 0.6)]
    sim_adoption: f64,
    /// Concurrent HTTPS clients of the verification-code measurement (answers to phones leave
    /// on the release schedule, so one client makes at most one request per release period).
    #[arg(long, default_value_t = 64)]
    code_clients: usize,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Also write the venue matching figure (SVG) here.
    #[arg(long)]
    venue_figure: Option<std::path::PathBuf>,
}

impl Args {
    /// Runs the selected measurements and prints the table.
    pub fn run(self) -> anyhow::Result<()> {
        let want = |k: &str| self.only.is_empty() || self.only.iter().any(|o| o == k);
        let d = Duration::from_secs_f64(self.seconds.max(0.5));
        let mut r = BenchReport::default();
        let step = |name: &str| eprintln!("measuring {name}…");
        if want("matching") {
            step("matching");
            r.matching = Some(matching(d));
        }
        if want("batch") {
            step("batch building");
            r.batch = Some(batch_building(self.batch_keys)?);
        }
        if want("ingest") {
            step("ingest");
            r.ingest = Some(ingest(self.seconds, 100)?);
        }
        if want("download") {
            step("download");
            r.download = Some(download(self.seconds, 16)?);
        }
        if want("wire") {
            step("wire size");
            r.wire = Some(wire_size(10_000)?);
        }
        if want("chaff") {
            step("fake against real uploads");
            r.chaff = Some(chaff(500)?);
        }
        if want("codes") {
            step("verification codes");
            r.codes = Some(codes(self.seconds, self.code_clients)?);
        }
        if want("simulator") {
            step("simulator");
            r.simulator = Some(simulator(self.sim_phones, 21, self.sim_adoption)?);
        }
        if want("venues") {
            step("venue matching");
            r.venues = Some(venues(d)?);
        }
        if self.only.iter().any(|o| o == "postgres") {
            step("PostgreSQL beside sled");
            r.postgres = Some(postgres(self.seconds, self.batch_keys)?);
        }
        print!("{}", r.table());
        if let (Some(path), Some(v)) = (&self.venue_figure, &r.venues) {
            std::fs::write(path, v.svg())?;
        }
        if let Some(j) = self.json {
            std::fs::write(&j, serde_json::to_string_pretty(&r)? + "\n")?;
        }
        Ok(())
    }
}

/// The UTC day number every fixture is built around.
const TODAY: u32 = 20_400;

/// 01:00 UTC on [`TODAY`]: the (virtual) time of the benchmark servers.
fn bench_now() -> UnixTime {
    UnixTime(u64::from(TODAY) * 86_400 + 3600)
}

/// The runtime each server benchmark runs in: two workers, like the machine's two cores.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Runs `f` repeatedly for at least `min` and returns (iterations, elapsed).
fn timed(min: Duration, mut f: impl FnMut() -> u64) -> (u64, Duration) {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < min {
        n += f();
    }
    (n, start.elapsed())
}

fn median(v: &mut [f64]) -> f64 {
    percentile(v, 0.5)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Everything `en-sim bench` measured.
#[derive(Debug, Clone, Serialize, Default)]
pub struct BenchReport {
    /// Matching.
    pub matching: Option<MatchingResult>,
    /// Batch building.
    pub batch: Option<BatchResult>,
    /// Ingest.
    pub ingest: Option<IngestResult>,
    /// Download.
    pub download: Option<DownloadResult>,
    /// Wire size.
    pub wire: Option<WireResult>,
    /// Fake against real uploads.
    pub chaff: Option<ChaffResult>,
    /// Verification codes.
    pub codes: Option<CodesResult>,
    /// Simulator.
    pub simulator: Option<SimResult>,
    /// Venue matching.
    pub venues: Option<VenueResult>,
    /// The PostgreSQL store beside sled.
    pub postgres: Option<PostgresResult>,
}

impl BenchReport {
    /// The table printed by `en-sim bench`: each result beside its reference and target.
    pub fn table(&self) -> String {
        let mut rows: Vec<[String; 4]> = vec![[
            "measure".into(),
            "result".into(),
            "reference (same run)".into(),
            "target".into(),
        ]];
        let ok = |b: bool| if b { "met" } else { "MISSED" };
        if let Some(m) = &self.matching {
            rows.push([
                "matching, 1 core".into(),
                format!("{:.2} M keys/s", m.keys_per_second / 1e6),
                format!("AES-128 {:.0} M blocks/s", m.aes_blocks_per_second / 1e6),
                format!("≥ 1.3 M keys/s: {}", ok(m.keys_per_second >= 1.3e6)),
            ]);
            rows.push([
                "matching ratio (keys/s×144)/(AES blocks/s)".into(),
                format!(
                    "{:.3} (median of {} rounds; {:.3}–{:.3})",
                    m.ratio, m.rounds, m.ratio_range.0, m.ratio_range.1
                ),
                String::new(),
                format!("≥ 0.35: {}", ok(m.ratio >= 0.35)),
            ]);
            rows.push([
                "matching, all cores".into(),
                format!("{:.2} M keys/s", m.keys_per_second_all_cores / 1e6),
                String::new(),
                String::new(),
            ]);
        }
        if let Some(b) = &self.batch {
            rows.push([
                format!("batch of {} keys: build, sort, pad, sign, store", b.keys),
                format!(
                    "{:.2} s ({:.2} M keys/s)",
                    b.seconds,
                    b.keys_per_second / 1e6
                ),
                format!(
                    "encode+sign alone {:.2} s; GAEN reference server: 1.4 M keys in 132 s",
                    b.encode_sign_seconds
                ),
                format!("< 2 s: {}", ok(b.seconds < 2.0)),
            ]);
        }
        if let Some(i) = &self.ingest {
            for (n, r) in i.runs.iter().enumerate() {
                let what = if r.reports_per_request == 1 {
                    "1 report/request".to_string()
                } else {
                    format!("bulk of {} reports/request", r.reports_per_request)
                };
                rows.push([
                    format!(
                        "ingest over HTTPS, fsync on: {what}, {} clients",
                        r.concurrency
                    ),
                    format!(
                        "{:.0} reports/s (p50 {:.1} ms, p99 {:.1} ms)",
                        r.per_second, r.p50_ms, r.p99_ms
                    ),
                    if n == 0 {
                        format!(
                            "ed25519 decode+verify {:.0}/s per core, {:.0}/s all cores",
                            i.verify_per_second_one_core, i.verify_bound_all_cores
                        )
                    } else {
                        String::new()
                    },
                    format!(
                        "≥ half the bound ({:.2}): {}",
                        r.ratio_to_bound,
                        ok(r.ratio_to_bound >= 0.5)
                    ),
                ]);
            }
        }
        if let Some(d) = &self.download {
            rows.push([
                format!(
                    "download of a {:.2} MB batch, {} clients",
                    d.batch_bytes as f64 / 1e6,
                    d.concurrency
                ),
                format!(
                    "{:.0} req/s ({:.0} MB/s)",
                    d.requests_per_second, d.mb_per_second
                ),
                format!(
                    "peak RSS {} MiB (before {} MiB)",
                    d.peak_rss_mib, d.rss_before_mib
                ),
                String::new(),
            ]);
        }
        if let Some(w) = &self.wire {
            rows.push([
                format!("wire size, daily batch of {} keys", w.keys),
                format!("{:.2} bytes/key", w.batch_bytes_per_key),
                format!("GAEN export.bin+sig {:.2} bytes/key", w.gaen_bytes_per_key),
                format!("≤ 18: {}", ok(w.batch_bytes_per_key <= 18.0)),
            ]);
        }
        if let Some(c) = &self.chaff {
            rows.push([
                format!("fake vs real uploads, {} each", c.per_kind),
                format!(
                    "KS D {:.3} (p {:.2}) on answer times; {} request size, {} answer size",
                    c.ks_d, c.ks_p, c.request_sizes, c.answer_sizes
                ),
                format!(
                    "median {:.2} ms real, {:.2} ms fake (release every {} ms)",
                    c.real_median_ms, c.fake_median_ms, c.release_period_ms
                ),
                format!(
                    "indistinguishable (D < 0.1, one size): {}",
                    ok(c.ks_d < 0.1 && c.request_sizes == 1 && c.answer_sizes == 1)
                ),
            ]);
        }
        if let Some(c) = &self.codes {
            rows.push([
                "codes issued (durable), 1 / 100 per call, 8 callers".into(),
                format!(
                    "{:.0} / {:.0} codes/s",
                    c.issued_one_per_call, c.issued_bulk_per_second
                ),
                String::new(),
                String::new(),
            ]);
            rows.push([
                format!("codes redeemed, POST /v1/verify, {} clients", c.clients),
                format!(
                    "{:.0}/s (p50 {:.1} ms, p99 {:.1} ms)",
                    c.redeemed_per_second, c.redeem_ms.0, c.redeem_ms.1
                ),
                format!("answers released every {} ms", c.release_period_ms),
                String::new(),
            ]);
            rows.push([
                format!("certificates, POST /v1/certificate, {} clients", c.clients),
                format!(
                    "{:.0}/s (p50 {:.1} ms, p99 {:.1} ms)",
                    c.certificates_per_second, c.certificate_ms.0, c.certificate_ms.1
                ),
                format!(
                    "certificate signing {:.0}/s per core, {:.0}/s all cores",
                    c.signing_one_core, c.signing_bound
                ),
                String::new(),
            ]);
        }
        if let Some(s) = &self.simulator {
            let full = 100_000.0 * 21.0 / s.phone_days_per_second;
            rows.push([
                format!(
                    "simulator, {} phones × {} days, adoption {}",
                    s.phones, s.days, s.adoption
                ),
                format!(
                    "{:.0} phone-days/s ({:.1} s)",
                    s.phone_days_per_second, s.seconds
                ),
                format!("100,000 × 21 days at this rate: {:.0} s", full),
                format!("≤ 600 s: {}", ok(full <= 600.0)),
            ]);
        }
        if let Some(v) = &self.venues {
            for p in &v.points {
                rows.push([
                    format!(
                        "venue matching, {} records vs {} traces ({:.2} MB), 1 core",
                        p.records,
                        p.traces,
                        p.batch_bytes as f64 / 1e6
                    ),
                    format!(
                        "{:.3} s (decode+verify {:.3} s, match {:.3} s; slowest {:.3} s; on-CPU {})",
                        p.total_seconds,
                        p.decode_verify_seconds,
                        p.match_seconds,
                        p.total_max_seconds,
                        p.total_cpu_seconds
                            .map_or("n/a".into(), |c| format!("{c:.3} s"))
                    ),
                    format!(
                        "{} pairings × {:.2} ms = {:.3} s (on-CPU {}); {} notifications",
                        p.pairings,
                        v.pairing_ms,
                        p.pairings as f64 * v.pairing_ms / 1e3,
                        v.pairing_cpu_ms.map_or("n/a".into(), |c| format!("{c:.2} ms")),
                        p.notifications
                    ),
                    match p.target_seconds {
                        Some(t) => format!("< {t} s: {}", ok(p.total_seconds < t)),
                        None => String::new(),
                    },
                ]);
            }
        }
        if let Some(p) = &self.postgres {
            for r in &p.ingest {
                let what = if r.reports_per_request == 1 {
                    "1 report/request".to_string()
                } else {
                    format!("bulk of {}", r.reports_per_request)
                };
                rows.push([
                    format!(
                        "ingest, {} × {} replica(s): {what}, {} clients",
                        r.store, r.replicas, r.concurrency
                    ),
                    format!(
                        "{:.0} reports/s (p50 {:.1} ms, p99 {:.1} ms)",
                        r.per_second, r.p50_ms, r.p99_ms
                    ),
                    if r.store == "sled" {
                        "the reference".into()
                    } else {
                        format!("{:.2} × sled", r.ratio_to_sled)
                    },
                    String::new(),
                ]);
            }
            if let Some((sled, pg)) = &p.batch {
                rows.push([
                    format!("batch of {} keys from PostgreSQL", pg.keys),
                    format!(
                        "{:.2} s ({:.2} M keys/s)",
                        pg.seconds,
                        pg.keys_per_second / 1e6
                    ),
                    format!("sled, same run: {:.2} s", sled.seconds),
                    String::new(),
                ]);
            }
            rows.push([
                "PostgreSQL".into(),
                p.postgres_version.chars().take(40).collect(),
                String::new(),
                String::new(),
            ]);
        }
        let widths: Vec<usize> = (0..4)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (i, r) in rows.iter().enumerate() {
            let line: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(c, v)| format!("{v:<w$}", w = widths[c]))
                .collect();
            out.push_str(line.join(" | ").trim_end());
            out.push('\n');
            if i == 0 {
                out.push_str(
                    &widths
                        .iter()
                        .map(|w| "-".repeat(*w))
                        .collect::<Vec<_>>()
                        .join("-|-"),
                );
                out.push('\n');
            }
        }
        out
    }
}
