//! Fake against real uploads: sizes on the wire and answer times, compared with a two-sample
//! Kolmogorov–Smirnov test (the same measurement as `tests/chaff.rs`, with more uploads, on
//! a release build).

use std::time::Instant;

use base64::Engine;
use en_api::json::{JsonKey, PublishUpload, PUBLISH_BODY_BYTES};
use en_protocol::wire::ReportType;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::fixtures::{bench_server, AUTHORITY};
use super::{bench_now, percentile, runtime};

/// What an observer of the wire sees of real and fake uploads.
#[derive(Debug, Clone, Serialize)]
pub struct ChaffResult {
    /// Uploads of each kind.
    pub per_kind: usize,
    /// Distinct request body sizes seen (1: every upload is one size).
    pub request_sizes: usize,
    /// Distinct answer sizes seen.
    pub answer_sizes: usize,
    /// Two-sample KS statistic of the answer times (0: same distribution).
    pub ks_d: f64,
    /// Its p-value.
    pub ks_p: f64,
    /// Median answer time of real uploads, ms.
    pub real_median_ms: f64,
    /// Median answer time of fake uploads, ms.
    pub fake_median_ms: f64,
    /// The server's release period, ms.
    pub release_period_ms: u64,
}

/// Sends `n` real (certified) and `n` fake uploads in random order, one at a time.
pub fn chaff(n: usize) -> anyhow::Result<ChaffResult> {
    let now = bench_now();
    runtime()?.block_on(async {
        let s = bench_server(now).await?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(12);
        let audience = s.server.state.cfg.config.audience.clone();
        let mut bodies = Vec::with_capacity(2 * n);
        for i in 0..2 * n {
            let fake = i % 2 == 1;
            let keys = en_client::phone::phone_keys(14, now, &mut rng);
            let hmac_key: [u8; 32] = rng.gen();
            let certificate = if fake {
                let mut c = [0u8; 160];
                rng.fill(&mut c[..]);
                c.to_vec()
            } else {
                en_client::authority::certify(
                    AUTHORITY,
                    &s.authority,
                    en_protocol::tekmac::tekmac(&hmac_key, &keys, true),
                    &audience,
                    ReportType::ConfirmedTest,
                    None,
                    now,
                    3600,
                    &mut rng,
                )?
            };
            let body = PublishUpload {
                certificate: b64.encode(certificate),
                hmac_key: b64.encode(hmac_key),
                keys: keys.iter().map(JsonKey::from_upload_key).collect(),
                fake,
                visited_regions: Vec::new(),
                padding: None,
            };
            let bytes = body
                .to_padded_json(PUBLISH_BODY_BYTES)
                .ok_or_else(|| anyhow::anyhow!("does not fit"))?;
            bodies.push((fake, bytes));
        }
        for i in (1..bodies.len()).rev() {
            bodies.swap(i, rng.gen_range(0..=i));
        }
        let pem = std::fs::read(s.server.ca())?;
        let http = en_client::transport::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
            .build()?;
        let url = format!("{}/v1/publish", s.server.url);
        let _ = http.get(format!("{}/healthz", s.server.url)).send().await?;
        let (mut real, mut fake) = (Vec::new(), Vec::new());
        let (mut req_sizes, mut ans_sizes) = (Vec::new(), Vec::new());
        for (is_fake, body) in bodies {
            req_sizes.push(body.len());
            let t = Instant::now();
            let r = http
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "upload refused: {}", r.status());
            let b = r.bytes().await?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            ans_sizes.push(b.len());
            if is_fake {
                fake.push(ms);
            } else {
                real.push(ms);
            }
        }
        let (ks_d, ks_p) = en_sim::stats::ks_two_sample(&real, &fake);
        req_sizes.sort_unstable();
        req_sizes.dedup();
        ans_sizes.sort_unstable();
        ans_sizes.dedup();
        let release_period_ms = s.server.state.cfg.config.publish_release_period_ms;
        s.server.stop().await?;
        Ok(ChaffResult {
            per_kind: n,
            request_sizes: req_sizes.len(),
            answer_sizes: ans_sizes.len(),
            ks_d,
            ks_p,
            real_median_ms: percentile(&mut real, 0.5),
            fake_median_ms: percentile(&mut fake, 0.5),
            release_period_ms,
        })
    })
}
