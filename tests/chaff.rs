//! Fake uploads ("chaff") must be indistinguishable from real ones on the wire: the same
//! request size, the same answer size, and answer times from the same distribution. This
//! sends real and fake uploads in random order, as a phone would, and compares them with a
//! two-sample Kolmogorov–Smirnov test; the same for fake and real `POST /v1/verify` and
//! `POST /v1/certificate` requests. (An observer of the earlier server guessed right 93 of
//! 120 times from timing alone: a KS statistic around 0.5. `en-sim bench --only chaff`
//! measures the same with more uploads; BENCHMARKS.md has its figures.)

mod common;

use std::time::Instant;

use base64::Engine;
use common::*;
use en_api::json::{JsonKey, PublishUpload, PUBLISH_BODY_BYTES};
use en_api::verify::{
    padded, CertificateRequest, TestResult, TestType, VerifyAnswer, VerifyRequest,
    PHONE_REQUEST_BYTES,
};
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
                visited_regions: Vec::new(),
                padding: None,
            }
        } else {
            serde_json::from_value(s.certified_body(&keys, ReportType::ConfirmedTest, 3600))
                .unwrap()
        };
        bodies.push((fake, body.to_padded_json(PUBLISH_BODY_BYTES).unwrap()));
    }
    // Random order, so drift in the machine's speed affects both kinds alike.
    shuffle(&mut bodies, &mut rng);
    let (real, fake, answers) = timed(&s, "/v1/publish", PUBLISH_BODY_BYTES, bodies).await;
    let d = check("upload", &real, &fake, &answers);
    // Under one distribution, D exceeds 0.22 with probability below 0.1% at these sizes.
    assert!(d < 0.22, "fake and real answer times differ: KS D = {d:.3}");
    s.stop().await.unwrap();
}

/// Posts each body (each `size` bytes) in order; each answer must be 200. Answer times (ms)
/// of the real and the fake requests, and the answers' bodies in order.
async fn timed(
    s: &TestServer,
    path: &str,
    size: usize,
    bodies: Vec<(bool, Vec<u8>)>,
) -> (Vec<f64>, Vec<f64>, Vec<bytes::Bytes>) {
    let http = en_client::transport::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(s.ca()).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    let _ = http.get(format!("{}/healthz", s.url)).send().await.unwrap();
    let (mut real, mut fake, mut answers) = (Vec::new(), Vec::new(), Vec::new());
    for (is_fake, body) in bodies {
        assert_eq!(body.len(), size, "every request is one size");
        let t = Instant::now();
        let r = http
            .post(format!("{}{path}", s.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let b = r.bytes().await.unwrap();
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if is_fake {
            fake.push(ms)
        } else {
            real.push(ms)
        }
        answers.push(b);
    }
    (real, fake, answers)
}

/// Shuffles `v` with `rng` (Fisher–Yates).
fn shuffle<T>(v: &mut [T], rng: &mut impl Rng) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.gen_range(0..=i));
    }
}

const M: usize = 120;

/// Real and fake code redemptions and certificate requests: one request size, one answer size,
/// and answer times from one distribution (two-sample KS on 120 + 120 of each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_and_fake_verification_requests_look_the_same() {
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600;
    let s = TestServer::start_with(cfg).await;
    s.hold_authority_key();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(12);
    let day = en_api::date::Day::of_unix(now().0);
    let tests: Vec<TestResult> = (0..M)
        .map(|_| TestResult {
            test_type: TestType::Confirmed,
            test_date: en_api::date::Day(day.0 - 1).to_string(),
            symptom_onset: None,
            short: false,
        })
        .collect();
    let codes = s
        .state
        .verification
        .issue(
            AUTHORITY,
            "tester",
            en_server::store::codes::AuditAction::Issued,
            &tests,
            now(),
        )
        .await
        .unwrap();
    let verify = |code: String, fake: bool| {
        let r = VerifyRequest {
            authority: AUTHORITY.into(),
            code,
            fake,
            padding: None,
        };
        (fake, padded(&r, PHONE_REQUEST_BYTES).unwrap())
    };
    let mut bodies: Vec<_> = codes
        .iter()
        .map(|c| verify(c.long_code.clone(), false))
        .chain((0..M).map(|_| verify(format!("{:08}", rng.gen_range(0..100_000_000u32)), true)))
        .collect();
    shuffle(&mut bodies, &mut rng);
    let fakes: Vec<bool> = bodies.iter().map(|(f, _)| *f).collect();
    let (real, fake, answers) = timed(&s, "/v1/verify", PHONE_REQUEST_BYTES, bodies).await;
    let verify_d = check("verify", &real, &fake, &answers);
    let tokens: Vec<String> = answers
        .iter()
        .zip(&fakes)
        .filter(|(_, f)| !**f)
        .map(|(a, _)| serde_json::from_slice::<VerifyAnswer>(a).unwrap().token)
        .collect();
    assert_eq!(tokens.len(), M);

    let certificate = |token: String, fake: bool, rng: &mut rand_chacha::ChaCha20Rng| {
        let r = CertificateRequest {
            token,
            tekmac: B64.encode(rng.gen::<[u8; 32]>()),
            fake,
            padding: None,
        };
        (fake, padded(&r, PHONE_REQUEST_BYTES).unwrap())
    };
    let mut bodies = Vec::new();
    for t in tokens {
        bodies.push(certificate(t, false, &mut rng));
        let fake_token =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rng.gen::<[u8; 32]>());
        bodies.push(certificate(fake_token, true, &mut rng));
    }
    shuffle(&mut bodies, &mut rng);
    let (real, fake, answers) = timed(&s, "/v1/certificate", PHONE_REQUEST_BYTES, bodies).await;
    let certificate_d = check("certificate", &real, &fake, &answers);
    // Under one distribution, D exceeds 0.26 with probability below 0.1% at these sizes.
    assert!(
        verify_d < 0.26 && certificate_d < 0.26,
        "fake and real answer times differ: KS D = {verify_d:.3} (verify), {certificate_d:.3} (certificate)"
    );
    s.stop().await.unwrap();
}

/// Every answer one size; prints and returns the KS statistic of the answer times.
fn check(what: &str, real: &[f64], fake: &[f64], answers: &[bytes::Bytes]) -> f64 {
    assert!(
        answers.iter().all(|a| a.len() == answers[0].len()),
        "{what}: every answer is one size"
    );
    let (d, p) = en_sim::stats::ks_two_sample(real, fake);
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    eprintln!(
        "{} real / {} fake {what} requests: KS D = {d:.3} (p = {p:.3}); median answer time {:.2} ms real, {:.2} ms fake",
        real.len(),
        fake.len(),
        median(real),
        median(fake)
    );
    d
}
