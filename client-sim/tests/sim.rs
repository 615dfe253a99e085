//! The simulator: determinism, recall with perfect radios at full adoption, and the collapse
//! of coverage at Kiên Giang's 12.6% adoption.

use en_sim::sim::{run, server::SimServer, SimConfig, EPOCH};
use rand::SeedableRng;

async fn simulate(cfg: SimConfig) -> en_sim::sim::Outcome {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(cfg.seed);
    let server = SimServer::in_process(
        en_protocol::UnixTime(EPOCH),
        en_protocol::keys::SigningKey::generate(&mut rng),
        cfg.seed,
    )
    .await
    .unwrap();
    let (out, server) = run(cfg, server, &|_, _| {}).await.unwrap();
    server.stop().await.unwrap();
    assert_eq!(
        out.upload_refusals, 0,
        "the server refused a simulated upload"
    );
    assert_eq!(
        out.fake_upload_refusals, 0,
        "the server refused a fake upload"
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_same_report_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for i in 0..2 {
        let mut cfg = SimConfig::new(7, 1500, 12, 0.7);
        cfg.threads = 2;
        let out = simulate(cfg).await;
        let d = dir.path().join(i.to_string());
        en_sim::sim::report::write(&d, &out).unwrap();
        reports.push(std::fs::read(d.join("report.json")).unwrap());
        assert!(
            out.uploads > 0 && out.notified_phones > 0 && out.fake_uploads > 0,
            "the run should exercise uploads, fake uploads and notifications"
        );
    }
    if reports[0] != reports[1] {
        let (a, b) = (
            String::from_utf8_lossy(&reports[0]),
            String::from_utf8_lossy(&reports[1]),
        );
        let diff: Vec<_> = a
            .lines()
            .zip(b.lines())
            .filter(|(x, y)| x != y)
            .take(10)
            .collect();
        panic!("reports differ: {diff:?}");
    }
    // A different seed gives a different world.
    let other = simulate(SimConfig::new(8, 1500, 12, 0.7)).await;
    let d = dir.path().join("other");
    en_sim::sim::report::write(&d, &other).unwrap();
    assert_ne!(std::fs::read(d.join("report.json")).unwrap(), reports[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_adoption_without_noise_finds_close_contacts() {
    let mut cfg = SimConfig::new(3, 3000, 14, 1.0);
    cfg.noise_db = 0.0;
    cfg.calibration_scale = 0.0;
    let out = simulate(cfg).await;
    assert!(
        out.close_contact_pairs >= 50,
        "too few close contacts to measure: {}",
        out.close_contact_pairs
    );
    assert!(
        out.recall >= 0.95,
        "recall {} over {} pairs",
        out.recall,
        out.close_contact_pairs
    );
    assert!(out.precision > 0.0 && out.precision <= 1.0);
    // Phones notified within a day of the case's result (upload at 14:00, nightly batch).
    assert!(
        out.hours_to_notification.median <= 34.0,
        "{:?}",
        out.hours_to_notification
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_adoption_collapses_coverage() {
    let adoption = 0.126;
    let mut cfg = SimConfig::new(5, 4000, 16, adoption);
    cfg.epidemic.beta = 0.006; // enough cases for a measurable number of pairs
    let out = simulate(cfg).await;
    assert!(
        out.close_contact_pairs >= 200,
        "too few close contacts: {}",
        out.close_contact_pairs
    );
    let covered = out.close_contact_pairs_both_app as f64 / out.close_contact_pairs as f64;
    // About adoption² = 0.016 of pairs have the app on both phones, so recall collapses.
    assert!(covered < 0.06, "pairs with both apps: {covered}");
    assert!(
        out.recall <= covered + 1e-9,
        "recall {} cannot exceed coverage {covered}",
        out.recall
    );
    assert!(out.recall < 0.06);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_uploads_change_nothing_but_their_counts() {
    let report = |chaff: f64| async move {
        let mut cfg = SimConfig::new(11, 1000, 8, 0.7);
        cfg.chaff_per_day = chaff;
        let out = simulate(cfg).await;
        let mut v = serde_json::to_value(&out).unwrap();
        let fakes = v["fake_uploads"].take();
        for key in ["fake_uploads", "fake_upload_refusals"] {
            v.as_object_mut().unwrap().remove(key);
            for d in v["daily"].as_array_mut().unwrap() {
                d.as_object_mut().unwrap().remove(key);
            }
        }
        v["config"].as_object_mut().unwrap().remove("chaff_per_day");
        (v, fakes.as_u64().unwrap(), out.app_users)
    };
    let (without, none, _) = report(0.0).await;
    let (with, fakes, users) = report(0.5).await;
    assert_eq!(none, 0);
    // About half of the app users on each of 8 days, less the few a real upload replaced.
    let expected = users as f64 * 8.0 * 0.5;
    assert!(
        (fakes as f64 - expected).abs() < expected * 0.1,
        "{fakes} fake uploads, {expected} expected"
    );
    assert_eq!(with, without, "fake uploads changed the world");
}
