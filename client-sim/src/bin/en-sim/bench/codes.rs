//! Verification codes: codes issued per second (in process, each call one durable store
//! transaction, as the console and the back-office API issue them), redeemed
//! (`POST /v1/verify`) and exchanged for certificates (`POST /v1/certificate`) per second over
//! HTTPS, beside the ed25519 certificate-signing bound measured in the same run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use en_api::date::Day;
use en_api::verify::{
    padded, CertificateRequest, TestResult, TestType, VerifyAnswer, VerifyRequest,
    PHONE_REQUEST_BYTES,
};
use en_protocol::wire::certificate::Certificate;
use en_protocol::wire::{AuthorityId, ReportType};
use en_protocol::UnixTime;
use en_server::store::codes::AuditAction;
use en_server::AppState;
use rand::Rng;
use serde::Serialize;

use super::fixtures::{bench_server, AUTHORITY};
use super::{bench_now, percentile, runtime, timed, TODAY};

/// Codes issued, redeemed and certified per second.
#[derive(Debug, Clone, Serialize)]
pub struct CodesResult {
    /// Codes issued per second, one test result per call, 8 concurrent callers.
    pub issued_one_per_call: f64,
    /// Codes issued per second, 100 test results per call (a bulk CSV), 8 concurrent callers.
    pub issued_bulk_per_second: f64,
    /// Concurrent HTTPS clients of the phone endpoints.
    pub clients: usize,
    /// Codes redeemed per second (`POST /v1/verify`).
    pub redeemed_per_second: f64,
    /// Median and 99th percentile answer times of redeems, ms.
    pub redeem_ms: (f64, f64),
    /// Certificates signed per second (`POST /v1/certificate`).
    pub certificates_per_second: f64,
    /// Median and 99th percentile answer times of certificate requests, ms.
    pub certificate_ms: (f64, f64),
    /// Certificates encoded and signed per second on one core (protocol only).
    pub signing_one_core: f64,
    /// The same times the cores: the bound of `POST /v1/certificate`.
    pub signing_bound: f64,
    /// The server's release period of phone answers, ms.
    pub release_period_ms: u64,
}

fn test_result() -> TestResult {
    TestResult {
        test_type: TestType::Confirmed,
        test_date: Day(TODAY - 1).to_string(),
        symptom_onset: None,
        short: false,
    }
}

/// Issues `per_call` codes per call from 8 tasks for `d`; returns codes/s and the long codes.
async fn issue(
    state: &Arc<AppState>,
    per_call: usize,
    d: Duration,
    now: UnixTime,
) -> anyhow::Result<(f64, Vec<String>)> {
    let codes = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (state, codes) = (state.clone(), codes.clone());
        tasks.push(tokio::spawn(async move {
            let tests = vec![test_result(); per_call];
            while start.elapsed() < d {
                let issued = state
                    .verification
                    .issue(AUTHORITY, "bench", AuditAction::IssuedApi, &tests, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("issue: {e}"))?;
                codes
                    .lock()
                    .expect("codes lock")
                    .extend(issued.into_iter().map(|c| c.long_code));
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    let codes = std::mem::take(&mut *codes.lock().expect("codes lock"));
    Ok((codes.len() as f64 / secs, codes))
}

/// Posts one body per item of `items` from `clients` tasks until `d` has passed or the items
/// run out; returns requests/s, latencies (ms) and the answers.
async fn post_all(
    http: &reqwest::Client,
    url: String,
    items: Vec<Vec<u8>>,
    clients: usize,
    d: Duration,
) -> anyhow::Result<(f64, Vec<f64>, Vec<bytes::Bytes>)> {
    let items = Arc::new(items);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, items, next) = (http.clone(), url.clone(), items.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            while start.elapsed() < d {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = items.get(i) else { break };
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 200, "{url}: {}", r.status());
                let b = r.bytes().await?;
                out.push((t.elapsed().as_secs_f64() * 1000.0, b));
            }
            anyhow::Ok(out)
        }));
    }
    let mut lat = Vec::new();
    let mut answers = Vec::new();
    for t in tasks {
        for (ms, b) in t.await?? {
            lat.push(ms);
            answers.push(b);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok((answers.len() as f64 / secs, lat, answers))
}

/// Runs the measurement, `seconds` per phase, with `clients` HTTPS clients.
pub fn codes(seconds: f64, clients: usize) -> anyhow::Result<CodesResult> {
    let now = bench_now();
    let d = Duration::from_secs_f64(seconds);
    runtime()?.block_on(async {
        let s = bench_server(now).await?;
        let state = s.server.state.clone();
        // The server holds the authority's key, as `en-server authority add --server-key` makes.
        let dir = en_server::datadir::DataDir::new(s.server.dir.path()).authority_keys();
        en_server::datadir::create_private_dir(&dir)?;
        en_api::keyfile::write_signing_key(
            &en_server::verification::keys::key_path(&dir, AUTHORITY),
            &s.authority,
        )?;
        let (issued_one_per_call, mut pool) = issue(&state, 1, d, now).await?;
        let (issued_bulk_per_second, more) = issue(&state, 100, d, now).await?;
        pool.extend(more);

        let pem = std::fs::read(s.server.ca())?;
        let http = en_client::transport::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
            .pool_max_idle_per_host(clients)
            .build()?;
        let _ = http.get(format!("{}/healthz", s.server.url)).send().await?;
        let bodies = pool
            .iter()
            .map(|code| {
                let r = VerifyRequest {
                    authority: AUTHORITY.into(),
                    code: code.clone(),
                    fake: false,
                    padding: None,
                };
                padded(&r, PHONE_REQUEST_BYTES).expect("fits")
            })
            .collect();
        let url = format!("{}/v1/verify", s.server.url);
        let (redeemed_per_second, mut lat, answers) =
            post_all(&http, url, bodies, clients, d).await?;
        let redeem_ms = (percentile(&mut lat, 0.5), percentile(&mut lat, 0.99));

        let mut rng = rand::thread_rng();
        let b64 = base64::engine::general_purpose::STANDARD;
        let bodies = answers
            .iter()
            .map(|b| {
                let a: VerifyAnswer = serde_json::from_slice(b)?;
                let r = CertificateRequest {
                    token: a.token,
                    tekmac: b64.encode(rng.gen::<[u8; 32]>()),
                    fake: false,
                    padding: None,
                };
                Ok(padded(&r, PHONE_REQUEST_BYTES).expect("fits"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let url = format!("{}/v1/certificate", s.server.url);
        let (certificates_per_second, mut lat, _) =
            post_all(&http, url, bodies, clients, d).await?;
        let certificate_ms = (percentile(&mut lat, 0.5), percentile(&mut lat, 0.99));

        let audience = state.policy.audience.clone();
        // The fixture's authority key (signing keys are not Clone).
        let key = en_protocol::keys::SigningKey::from_seed(&[42; 32]);
        let signing_one_core = tokio::task::spawn_blocking(move || {
            let cert = Certificate {
                authority: AuthorityId::new(AUTHORITY).expect("valid id"),
                report_type: ReportType::ConfirmedTest,
                symptom_onset: None,
                issued_at: now,
                expires_at: now.plus(900),
                audience,
                id: [1; 16],
                tekmac: [2; 32],
            };
            let (n, t) = timed(Duration::from_secs(1), || {
                cert.sign(&key).expect("signs");
                1
            });
            n as f64 / t.as_secs_f64()
        })
        .await?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let release_period_ms = state.cfg.config.publish_release_period_ms;
        drop(state);
        s.server.stop().await?;
        Ok(CodesResult {
            issued_one_per_call,
            issued_bulk_per_second,
            clients,
            redeemed_per_second,
            redeem_ms,
            certificates_per_second,
            certificate_ms,
            signing_one_core,
            signing_bound: signing_one_core * cores as f64,
            release_period_ms,
        })
    })
}
