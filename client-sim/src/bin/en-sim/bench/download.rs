//! Batch downloads over HTTPS: requests and bytes per second, and memory while serving.

use std::time::{Duration, Instant};

use en_protocol::UnixTime;
use serde::Serialize;

use super::fixtures::{bench_server, fill_pending};
use super::{bench_now, runtime};

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
    let now = bench_now();
    let rt = runtime()?;
    rt.block_on(async {
        let s = bench_server(now).await?;
        fill_pending(&s, 60_000 / 14, now).await?;
        let h = en_server::batcher::close_window(
            &s.server.state,
            UnixTime(now.0 - now.0 % 86_400 + 86_400),
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("no batch"))?;
        let (url, ca) = (s.server.url.clone(), s.server.ca());
        let pem = std::fs::read(&ca)?;
        let client = en_client::transport::builder()
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
        s.server.stop().await?;
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
