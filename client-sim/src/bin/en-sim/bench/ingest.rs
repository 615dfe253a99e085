//! Ingest over HTTPS on loopback with durability on: case reports per second, one per request
//! and in bulk, beside the bound set by ed25519 verification on all cores.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::fixtures::{bench_server, case_reports, AUTHORITY};
use super::{bench_now, percentile, runtime, timed};

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

/// Posts `bodies` (each carrying `per_request` reports) from `concurrency` clients until they
/// run out or `seconds` pass; client `i` posts to `urls[i % urls.len()]` (replicas).
pub(super) async fn ingest_run(
    client: &reqwest::Client,
    urls: &[String],
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
    let bodies = std::sync::Arc::new(bodies);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let endpoint = format!("{}{path}", urls[c % urls.len()]);
        let (client, bodies, next) = (client.clone(), bodies.clone(), next.clone());
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
        let s = bench_server(now).await?;
        let (url, ca) = (s.server.url.clone(), s.server.ca());
        let b64 = |v: Vec<Vec<u8>>| -> Vec<String> {
            v.iter()
                .map(|r| base64::engine::general_purpose::STANDARD.encode(r))
                .collect()
        };
        // Enough pre-signed reports for each run (signing is not part of what is measured).
        let single = b64(case_reports(
            &s.authority,
            (seconds * 20_000.0) as usize + 1000,
            now,
            7,
        ));
        let bulk = bulk.max(2);
        let many = b64(case_reports(
            &s.authority,
            (seconds * 50_000.0) as usize + bulk,
            now,
            99,
        ));
        // The bound: decode + verify of the same reports on one core.
        let mut registry = std::collections::BTreeMap::new();
        registry.insert(
            en_protocol::wire::AuthorityId::new(AUTHORITY).expect("valid id"),
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
        let client = en_client::transport::builder()
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
            let (accepted, elapsed, mut lat) = ingest_run(
                &client,
                std::slice::from_ref(&url),
                bodies,
                per,
                conc,
                seconds,
            )
            .await?;
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
        s.server.stop().await?;
        Ok(IngestResult {
            verify_per_second_one_core: verify_rate,
            verify_bound_all_cores: bound,
            runs,
        })
    })
}
