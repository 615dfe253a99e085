//! `en-sim bench`: the hot paths measured beside a reference measured in the same run on the
//! same machine (these machines are noisy: ratios hold better than absolute times).

use std::time::{Duration, Instant};

use aes::cipher::{BlockEncrypt, KeyInit};
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::matching::{Scan, ScanStore};
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata};
use en_protocol::wire::ReportType;
use en_protocol::{IntervalNumber, UnixTime};
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Arguments of `en-sim bench`.
#[derive(clap::Args)]
pub struct Args {
    /// Only these (comma-separated): matching, batch, ingest, download, wire, simulator.
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
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
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
        if want("simulator") {
            step("simulator");
            r.simulator = Some(simulator(self.sim_phones, 21, self.sim_adoption)?);
        }
        print!("{}", r.table());
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

/// A 14-day store of `n` scans (random RPIs; a few match) and `k` daily keys.
pub fn matching_fixture(
    n_scans: usize,
    n_keys: usize,
    seed: u64,
) -> (ScanStore, Vec<DiagnosisKey>) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let today = TODAY;
    let keys: Vec<DiagnosisKey> = (0..n_keys)
        .map(|i| DiagnosisKey {
            key: TemporaryExposureKey::from_bytes(rng.gen()),
            meta: KeyMetadata {
                rolling_start: IntervalNumber((today - 1 - (i as u32 % 14)) * 144),
                rolling_period: 144,
                transmission_risk: 2,
                report_type: ReportType::ConfirmedTest,
                days_since_onset: Some(0),
            },
        })
        .collect();
    let scans = (0..n_scans)
        .map(|_| Scan {
            rpi: rng.gen(),
            aem: rng.gen(),
            time: UnixTime(u64::from(today) * 86_400 - rng.gen_range(0..14 * 86_400)),
            rssi: -70,
            seconds: 300,
        })
        .collect();
    (ScanStore::new(scans), keys)
}

/// Matching throughput on one core beside the raw AES-128 block rate of the same build.
#[derive(Debug, Clone, Serialize)]
pub struct MatchingResult {
    /// Diagnosis keys matched per second on one thread (median of the rounds).
    pub keys_per_second: f64,
    /// Same, with all cores.
    pub keys_per_second_all_cores: f64,
    /// AES-128 blocks per second on one thread (8-block pipelined, like the matcher; median).
    pub aes_blocks_per_second: f64,
    /// (keys/s × 144) / (AES blocks/s): the median of the rounds' ratios.
    pub ratio: f64,
    /// Lowest and highest round ratio.
    pub ratio_range: (f64, f64),
    /// Rounds measured (each: an AES pass, a matching pass, an AES pass).
    pub rounds: usize,
}

fn median(v: &mut [f64]) -> f64 {
    percentile(v, 0.5)
}

/// Measures matching against a 14-day store of 20,000 scans. Matching and the AES reference
/// alternate for at least `min`, in rounds of one matching pass (~0.07 s) bracketed by two AES
/// passes of ~0.015 s, so both see the same machine (frequency, neighbours); each round gives
/// a ratio, and the median is reported.
pub fn matching(min: Duration) -> MatchingResult {
    let (store, keys) = matching_fixture(20_000, 100_000, 1);
    let cipher = aes::Aes128::new(&[7u8; 16].into());
    let mut blocks = vec![aes::Block::default(); 144];
    let (mut kps, mut aes, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    let mut aes_pass = || {
        let t = Instant::now();
        for _ in 0..keys.len() / 4 {
            cipher.encrypt_blocks(&mut blocks);
        }
        std::hint::black_box(&blocks);
        (keys.len() / 4 * 144) as f64 / t.elapsed().as_secs_f64()
    };
    while start.elapsed() < min || kps.len() < 5 {
        // The reference brackets the matching pass: AES, match, AES.
        let before = aes_pass();
        let t = Instant::now();
        std::hint::black_box(store.match_keys(&keys));
        let k = keys.len() as f64 / t.elapsed().as_secs_f64();
        let a = (before + aes_pass()) / 2.0;
        kps.push(k);
        aes.push(a);
        ratio.push(k * 144.0 / a);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (n, t) = timed(min / 2, || {
        std::hint::black_box(store.match_keys_parallel(&keys, threads));
        keys.len() as u64
    });
    let rounds = ratio.len();
    let range = (
        ratio.iter().copied().fold(f64::INFINITY, f64::min),
        ratio.iter().copied().fold(0.0, f64::max),
    );
    MatchingResult {
        keys_per_second: median(&mut kps),
        keys_per_second_all_cores: n as f64 / t.as_secs_f64(),
        aes_blocks_per_second: median(&mut aes),
        ratio: median(&mut ratio),
        ratio_range: range,
        rounds,
    }
}

/// A temporary server data directory with an authority registered.
struct BenchServer {
    _dir: tempfile::TempDir,
    state: std::sync::Arc<en_server::AppState>,
    authority: en_protocol::keys::SigningKey,
}

fn bench_server(now: UnixTime) -> anyhow::Result<BenchServer> {
    let dir = tempfile::tempdir()?;
    let cfg = en_server::config::Config {
        authority_daily_upload_quota: u64::MAX / 2,
        limits: en_server::config::Limits {
            max_connections: 4096,
            ..Default::default()
        },
        ..Default::default()
    };
    let authority = en_protocol::keys::SigningKey::from_seed(&[42; 32]);
    let resolved = en_server::config::init_with_authority(
        dir.path(),
        &cfg,
        "bench",
        &authority.public_key(),
        None,
    )?;
    let state = en_server::AppState::open(resolved, en_server::Clock::virtual_at(now))?;
    Ok(BenchServer {
        _dir: dir,
        state,
        authority,
    })
}

/// Stores `keys` as pending uploads of 30 keys each, released already (setup, not timed).
fn fill_pending(
    s: &BenchServer,
    keys: &[DiagnosisKey],
    now: UnixTime,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> anyhow::Result<()> {
    let authority = en_protocol::wire::AuthorityId::new("bench").expect("valid id");
    for chunk in keys.chunks(30) {
        let nonce: [u8; 16] = rng.gen();
        s.state.store.insert_upload(&en_server::store::NewUpload {
            authority: authority.clone(),
            replay: (
                en_server::store::nonce_key(&authority, &nonce),
                now.plus(86_400),
            ),
            keys: chunk.iter().map(|k| (k.clone(), now.minus(60))).collect(),
            key_expiry: now.plus(20 * 86_400),
            day: now.day(),
            quota: u64::MAX,
        })?;
    }
    Ok(())
}

fn daily_keys(n: usize, today: u32, rng: &mut rand_chacha::ChaCha20Rng) -> Vec<DiagnosisKey> {
    // As uploaded by n/14 cases: 14 daily keys each, days since onset from their onset.
    (0..n)
        .map(|i| {
            let case = i / 14;
            let age = (i % 14) as u32 + 1;
            let onset_age = (case % 7) as i32 + 2;
            DiagnosisKey {
                key: TemporaryExposureKey::from_bytes(rng.gen()),
                meta: KeyMetadata {
                    rolling_start: IntervalNumber((today - age) * 144),
                    rolling_period: 144,
                    transmission_risk: [2, 4, 5][case % 3],
                    report_type: [
                        ReportType::ConfirmedTest,
                        ReportType::ConfirmedClinicalDiagnosis,
                        ReportType::SelfReport,
                    ][case % 3],
                    days_since_onset: Some((onset_age - age as i32) as i8),
                },
            }
        })
        .collect()
}

/// Batch building: build, sort, pad, sign and store a batch of `n` keys.
#[derive(Debug, Clone, Serialize)]
pub struct BatchResult {
    /// Keys in the batch.
    pub keys: usize,
    /// Seconds for the server's close_window (read pending, pad, sort, encode, sign, store, fsync).
    pub seconds: f64,
    /// Keys per second.
    pub keys_per_second: f64,
    /// Seconds for the protocol part alone (sort, encode, sign).
    pub encode_sign_seconds: f64,
    /// Batch size in bytes.
    pub bytes: u64,
}

/// Measures batch building for `n` keys.
pub fn batch_building(n: usize) -> anyhow::Result<BatchResult> {
    let (today, now) = (TODAY, bench_now());
    let rt = runtime()?;
    let _g = rt.enter();
    let s = bench_server(now)?;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    let keys = daily_keys(n, today, &mut rng);
    let t = Instant::now();
    let protocol_batch = en_protocol::wire::batch::Batch {
        region: en_protocol::wire::Region::new("VN").unwrap(),
        sequence: 1,
        window_start: UnixTime(now.0 - 86_400),
        window_end: now,
        prev_hash: [0; 32],
        keys: keys.clone(),
    }
    .sign(&s.state.export_key)?;
    let encode_sign_seconds = t.elapsed().as_secs_f64();
    drop(protocol_batch);
    fill_pending(&s, &keys, now, &mut rng)?;
    s.state.store.flush()?;
    let t = Instant::now();
    let h = en_server::batcher::close_window(&s.state, UnixTime(now.0 - now.0 % 86_400 + 86_400))?
        .ok_or_else(|| anyhow::anyhow!("no batch"))?;
    let seconds = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        h.key_count as usize == n,
        "batch has {} keys, expected {n}",
        h.key_count
    );
    Ok(BatchResult {
        keys: n,
        seconds,
        keys_per_second: n as f64 / seconds,
        encode_sign_seconds,
        bytes: h.size,
    })
}

/// Wire size of a daily batch against GAEN's export format for the same keys.
#[derive(Debug, Clone, Serialize)]
pub struct WireResult {
    /// Keys.
    pub keys: usize,
    /// Our batch, bytes.
    pub batch_bytes: usize,
    /// Bytes per key.
    pub batch_bytes_per_key: f64,
    /// GAEN export.bin + export.sig (one signature), bytes.
    pub gaen_bytes: usize,
    /// Bytes per key.
    pub gaen_bytes_per_key: f64,
}

/// Compares sizes for `n` keys.
pub fn wire_size(n: usize) -> anyhow::Result<WireResult> {
    let today = TODAY;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(6);
    let keys = daily_keys(n, today, &mut rng);
    let sk = en_protocol::keys::SigningKey::from_seed(&[1; 32]);
    let ours = en_protocol::wire::batch::Batch {
        region: en_protocol::wire::Region::new("VN").unwrap(),
        sequence: 9,
        window_start: UnixTime(u64::from(today) * 86_400),
        window_end: UnixTime(u64::from(today + 1) * 86_400),
        prev_hash: [7; 32],
        keys: keys.clone(),
    }
    .sign(&sk)?;
    let gaen = en_protocol::gaen::Export {
        start_timestamp: Some(u64::from(today) * 86_400),
        end_timestamp: Some(u64::from(today + 1) * 86_400),
        region: Some("VN".into()),
        batch_num: Some(1),
        batch_size: Some(1),
        signature_infos: vec![en_protocol::gaen::SignatureInfo {
            verification_key_version: Some("v1".into()),
            verification_key_id: Some("452".into()),
            signature_algorithm: Some("1.2.840.10045.4.3.2".into()),
        }],
        keys: keys
            .iter()
            .map(|k| en_protocol::gaen::GaenKey {
                key_data: k.key.as_bytes().to_vec(),
                transmission_risk_level: Some(i32::from(k.meta.transmission_risk)),
                rolling_start_interval_number: Some(k.meta.rolling_start.0 as i32),
                rolling_period: (k.meta.rolling_period != 144)
                    .then_some(i32::from(k.meta.rolling_period)),
                report_type: Some(i32::from(k.meta.report_type.code())),
                days_since_onset_of_symptoms: k.meta.days_since_onset.map(i32::from),
            })
            .collect(),
        revised_keys: vec![],
    }
    .encode();
    // export.sig with one DER ECDSA signature (≈72 bytes) and its signature info: ~120 bytes.
    let gaen_total = gaen.len() + 120;
    Ok(WireResult {
        keys: n,
        batch_bytes: ours.len(),
        batch_bytes_per_key: ours.len() as f64 / n as f64,
        gaen_bytes: gaen_total,
        gaen_bytes_per_key: gaen_total as f64 / n as f64,
    })
}

/// Ingest over HTTPS on loopback with durability on: one run per upload style, beside the
/// verification bound.
#[derive(Debug, Clone, Serialize)]
pub struct IngestResult {
    /// ed25519 case-report verifications per second on one core (decode + verify).
    pub verify_per_second_one_core: f64,
    /// The same × cores: the bound for a server using every core.
    pub verify_bound_all_cores: f64,
    /// The runs: `POST /v1/cases` (one report per request) and `POST /v1/cases/bulk`.
    pub runs: Vec<IngestRun>,
}

/// One ingest run.
#[derive(Debug, Clone, Serialize)]
pub struct IngestRun {
    /// Case reports per request (1: `POST /v1/cases`; more: `POST /v1/cases/bulk`).
    pub reports_per_request: usize,
    /// Concurrent clients.
    pub concurrency: usize,
    /// Case reports accepted.
    pub accepted: u64,
    /// Accepted per second.
    pub per_second: f64,
    /// Median request latency, ms.
    pub p50_ms: f64,
    /// 99th percentile request latency, ms.
    pub p99_ms: f64,
    /// per_second / the verification bound on all cores.
    pub ratio_to_bound: f64,
}

fn spawn_server(
    s: &BenchServer,
) -> anyhow::Result<(String, std::path::PathBuf, tokio::sync::oneshot::Sender<()>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(en_server::run_with_options(
        s.state.clone(),
        listener,
        en_server::Transport::Tls,
        false,
        async {
            let _ = rx.await;
        },
    ));
    Ok((
        format!("https://localhost:{port}"),
        s.state.cfg.path(&s.state.cfg.config.tls_cert),
        stop,
    ))
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Signs `n` case reports of 14 keys each (base64), on every core (setup, not timed).
fn signed_reports(
    authority: &en_protocol::keys::SigningKey,
    n: usize,
    now: UnixTime,
    seed: u64,
) -> Vec<String> {
    use base64::Engine;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed + t as u64);
                    (0..per.min(n.saturating_sub(t * per)))
                        .map(|_| {
                            let keys = en_client::phone::phone_keys(14, now, &mut rng);
                            let r = en_client::authority::case_report(
                                "bench",
                                "VN",
                                authority,
                                keys,
                                ReportType::ConfirmedTest,
                                None,
                                now,
                                &mut rng,
                            )
                            .expect("sign");
                            base64::engine::general_purpose::STANDARD.encode(r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signing thread"))
            .collect()
    })
}

/// Posts `bodies` (each carrying `per_request` reports) from `concurrency` clients until they
/// run out or `seconds` pass.
async fn ingest_run(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<bytes::Bytes>,
    per_request: usize,
    concurrency: usize,
    seconds: f64,
) -> anyhow::Result<(u64, f64, Vec<f64>)> {
    let path = if per_request == 1 {
        "/v1/cases"
    } else {
        "/v1/cases/bulk"
    };
    let endpoint = format!("{url}{path}");
    let bodies = std::sync::Arc::new(bodies);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, bodies, next, endpoint) = (
            client.clone(),
            bodies.clone(),
            next.clone(),
            endpoint.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= bodies.len() || Instant::now() > deadline {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let t = Instant::now();
                let r = client
                    .post(&endpoint)
                    .header("content-type", "application/json")
                    .body(bodies[i].clone())
                    .send()
                    .await?;
                let status = r.status();
                let body = r.bytes().await?;
                anyhow::ensure!(
                    status == 200,
                    "upload refused: {status} {}",
                    String::from_utf8_lossy(&body)
                );
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok((lat.len() as u64 * per_request as u64, elapsed, lat))
}

/// Measures case-report ingest for `seconds` per run: one report per request from 64 clients,
/// then bulk requests of `bulk` reports from 8 clients.
pub fn ingest(seconds: f64, bulk: usize) -> anyhow::Result<IngestResult> {
    use base64::Engine;
    let now = bench_now();
    let rt = runtime()?;
    rt.block_on(async {
        let s = bench_server(now)?;
        let (url, ca, stop) = spawn_server(&s)?;
        // Enough pre-signed reports for each run (signing is not part of what is measured).
        let single = signed_reports(&s.authority, (seconds * 20_000.0) as usize + 1000, now, 7);
        let bulk = bulk.max(2);
        let many = signed_reports(&s.authority, (seconds * 50_000.0) as usize + bulk, now, 99);
        // The bound: decode + verify of the same reports on one core.
        let mut registry = std::collections::BTreeMap::new();
        registry.insert(
            en_protocol::wire::AuthorityId::new("bench").expect("valid id"),
            en_protocol::verify::AuthorityInfo {
                public_key: s.authority.public_key(),
                region: None,
                revoked: false,
            },
        );
        let raw: Vec<Vec<u8>> = single
            .iter()
            .take(2000)
            .map(|b| base64::engine::general_purpose::STANDARD.decode(b))
            .collect::<Result<_, _>>()?;
        let (k, t) = timed(Duration::from_secs(1), || {
            for r in &raw {
                en_protocol::wire::case_report::SignedCaseReport::decode(r)
                    .expect("decodes")
                    .verify(&registry)
                    .expect("verifies");
            }
            raw.len() as u64
        });
        let verify_rate = k as f64 / t.as_secs_f64();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let bound = verify_rate * cores;

        let pem = std::fs::read(&ca)?;
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
            .pool_max_idle_per_host(64)
            .build()?;
        let single_bodies = single
            .into_iter()
            .map(|r| {
                serde_json::to_vec(&en_api::json::CaseUpload {
                    report: r,
                    padding: None,
                })
                .map(bytes::Bytes::from)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let bulk_bodies = many
            .chunks_exact(bulk)
            .map(|c| {
                serde_json::to_vec(&en_api::json::BulkCaseUpload {
                    reports: c.to_vec(),
                })
                .map(bytes::Bytes::from)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut runs = Vec::new();
        for (bodies, per, conc) in [(single_bodies, 1, 64), (bulk_bodies, bulk, 8)] {
            let (accepted, elapsed, mut lat) =
                ingest_run(&client, &url, bodies, per, conc, seconds).await?;
            let per_second = accepted as f64 / elapsed;
            runs.push(IngestRun {
                reports_per_request: per,
                concurrency: conc,
                accepted,
                per_second,
                p50_ms: percentile(&mut lat, 0.5),
                p99_ms: percentile(&mut lat, 0.99),
                ratio_to_bound: per_second / bound,
            });
        }
        let _ = stop.send(());
        Ok(IngestResult {
            verify_per_second_one_core: verify_rate,
            verify_bound_all_cores: bound,
            runs,
        })
    })
}

/// Batch downloads over HTTPS.
#[derive(Debug, Clone, Serialize)]
pub struct DownloadResult {
    /// Batch size, bytes.
    pub batch_bytes: u64,
    /// Requests per second.
    pub requests_per_second: f64,
    /// Megabytes per second.
    pub mb_per_second: f64,
    /// Concurrent clients.
    pub concurrency: usize,
    /// Peak resident memory of the process during the download phase (server and clients), MiB.
    pub peak_rss_mib: u64,
    /// Resident memory before the download phase, MiB.
    pub rss_before_mib: u64,
}

fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |k| k / 1024)
}

/// Measures downloads of a ~1 MB batch for `seconds`.
pub fn download(seconds: f64, concurrency: usize) -> anyhow::Result<DownloadResult> {
    let (today, now) = (TODAY, bench_now());
    let rt = runtime()?;
    rt.block_on(async {
        let s = bench_server(now)?;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(8);
        let keys = daily_keys(60_000, today, &mut rng);
        fill_pending(&s, &keys, now, &mut rng)?;
        let h =
            en_server::batcher::close_window(&s.state, UnixTime(now.0 - now.0 % 86_400 + 86_400))?
                .ok_or_else(|| anyhow::anyhow!("no batch"))?;
        let (url, ca, stop) = spawn_server(&s)?;
        let pem = std::fs::read(&ca)?;
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
            .build()?;
        let rss_before = rss_mib();
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(rss_before));
        let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let sampler = {
            let (peak, sampling) = (peak.clone(), sampling.clone());
            std::thread::spawn(move || {
                while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                    peak.fetch_max(rss_mib(), std::sync::atomic::Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, url) = (client.clone(), url.clone());
            let size = h.size;
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let b = client
                        .get(format!("{url}/v1/batches/{}", h.sequence))
                        .send()
                        .await?
                        .bytes()
                        .await?;
                    anyhow::ensure!(b.len() as u64 == size, "short batch");
                    n += 1;
                }
                Ok::<_, anyhow::Error>(n)
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await??;
        }
        let elapsed = start.elapsed().as_secs_f64();
        sampling.store(false, std::sync::atomic::Ordering::Relaxed);
        let _ = sampler.join();
        let _ = stop.send(());
        let rps = total as f64 / elapsed;
        Ok(DownloadResult {
            batch_bytes: h.size,
            requests_per_second: rps,
            mb_per_second: rps * h.size as f64 / 1e6,
            concurrency,
            peak_rss_mib: peak.load(std::sync::atomic::Ordering::Relaxed),
            rss_before_mib: rss_before,
        })
    })
}

/// Simulator throughput.
#[derive(Debug, Clone, Serialize)]
pub struct SimResult {
    /// Phones.
    pub phones: usize,
    /// Days.
    pub days: u32,
    /// Adoption.
    pub adoption: f64,
    /// Wall seconds.
    pub seconds: f64,
    /// Phone-days per second.
    pub phone_days_per_second: f64,
}

/// Runs the simulator (in-process server) and times it.
pub fn simulator(phones: usize, days: u32, adoption: f64) -> anyhow::Result<SimResult> {
    let rt = runtime()?;
    rt.block_on(async {
        let cfg = en_sim::sim::SimConfig::new(1, phones, days, adoption);
        let server = en_sim::sim::server::SimServer::in_process(
            UnixTime(en_sim::sim::EPOCH),
            en_protocol::keys::SigningKey::from_seed(&[3; 32]),
        )
        .await?;
        let t = Instant::now();
        let (_, server) = en_sim::sim::run(cfg, server, &|_, _| {}).await?;
        let seconds = t.elapsed().as_secs_f64();
        server.stop().await?;
        Ok(SimResult {
            phones,
            days,
            adoption,
            seconds,
            phone_days_per_second: phones as f64 * f64::from(days) / seconds,
        })
    })
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
    /// Simulator.
    pub simulator: Option<SimResult>,
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
