//! Fake uploads ("chaff") must be indistinguishable from real ones on the wire: the same
//! request size, the same answer size, and answer times from the same distribution. This
//! sends real and fake uploads in random order, as a phone would, and compares them with a
//! two-sample Kolmogorov–Smirnov test. (An observer of the earlier server guessed right 93 of
//! 120 times from timing alone: a KS statistic around 0.5. `en-sim bench --only chaff`
//! measures the same with more uploads; BENCHMARKS.md has its figures.)

mod common;

use std::time::Instant;

use base64::Engine;
use common::*;
use en_api::json::{JsonKey, PublishUpload, PUBLISH_BODY_BYTES};
use en_protocol::wire::ReportType;
use rand::{Rng, SeedableRng};

const N: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_and_fake_uploads_look_the_same() {
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600;
    cfg.authority_daily_upload_quota = 100_000;
    let mut s = TestServer::start_with(cfg).await;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
    let mut bodies = Vec::new();
    for i in 0..2 * N {
        let fake = i % 2 == 1;
        let keys = s.keys(14);
        let body = if fake {
            let mut cert = [0u8; 160];
            rng.fill(&mut cert[..]);
            PublishUpload {
                certificate: B64.encode(cert),
                hmac_key: B64.encode(rng.gen::<[u8; 32]>()),
                keys: keys.iter().map(JsonKey::from_upload_key).collect(),
                fake: true,
                padding: None,
            }
        } else {
            serde_json::from_value(s.certified_body(&keys, ReportType::ConfirmedTest, 3600))
                .unwrap()
        };
        bodies.push((fake, body.to_padded_json(PUBLISH_BODY_BYTES).unwrap()));
    }
    // Random order, so drift in the machine's speed affects both kinds alike.
    for i in (1..bodies.len()).rev() {
        bodies.swap(i, rng.gen_range(0..=i));
    }
    let http = en_client::transport::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(s.ca()).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    // Warm the connection and the server.
    let _ = http.get(format!("{}/healthz", s.url)).send().await.unwrap();
    let (mut real, mut fake) = (Vec::new(), Vec::new());
    let (mut request_sizes, mut answer_sizes) = (Vec::new(), Vec::new());
    for (is_fake, body) in bodies {
        request_sizes.push(body.len());
        let t = Instant::now();
        let r = http
            .post(format!("{}/v1/publish", s.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let b = r.bytes().await.unwrap();
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        answer_sizes.push(b.len());
        if is_fake {
            fake.push(ms)
        } else {
            real.push(ms)
        }
    }
    assert!(
        request_sizes.iter().all(|n| *n == PUBLISH_BODY_BYTES),
        "every request is one size"
    );
    assert!(
        answer_sizes.iter().all(|n| *n == answer_sizes[0]),
        "every answer is one size"
    );
    let (d, p) = en_sim::stats::ks_two_sample(&real, &fake);
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    eprintln!(
        "{N} real / {N} fake uploads: KS D = {d:.3} (p = {p:.3}); median answer time {:.2} ms real, {:.2} ms fake",
        median(&mut real),
        median(&mut fake)
    );
    // Under one distribution, D exceeds 0.22 with probability below 0.1% at these sizes.
    assert!(
        d < 0.22,
        "fake and real answer times differ: KS D = {d:.3}, p = {p:.2e}"
    );
    s.stop().await.unwrap();
}
