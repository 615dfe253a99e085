//! The simulator: determinism, recall with perfect radios at full adoption, the collapse of
//! coverage at Kiên Giang's 12.6% adoption, fake uploads changing nothing, exact pruning of
//! the phones' matching, faster notification with sub-day batches.
//! Counterfactuals and the sniffer adversary are in `counterfactual.rs` and `sniffer.rs`.

use en_sim::sim::{run, server::SimServer, Outcome, SimConfig};

async fn simulate(cfg: SimConfig) -> Outcome {
    let server = SimServer::for_config(&cfg).await.unwrap();
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

fn report_bytes(out: &Outcome) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    en_sim::sim::report::write(dir.path(), out, None).unwrap();
    std::fs::read(dir.path().join("report.json")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_same_report_bytes() {
    let mut reports = Vec::new();
    for _ in 0..2 {
        let (out, _) = en_sim::sim::experiment::run_one(SimConfig::new(7, 1500, 12, 0.7))
            .await
            .unwrap();
        assert!(
            out.uploads > 0 && out.notifications > 0 && out.fake_uploads > 0,
            "the run should exercise uploads, fake uploads and notifications"
        );
        assert!(out.counterfactual.is_some());
        reports.push(report_bytes(&out));
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
    assert_ne!(report_bytes(&other), reports[0]);
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
    // Pairs whose case was published too late for the phones to fetch it before the run
    // ended are missed by construction: measure on the others.
    assert!(
        out.close_contact_pairs_published >= 50,
        "too few published close contacts: {}",
        out.close_contact_pairs_published
    );
    assert!(
        out.recall_published >= 0.95,
        "recall {} over {} published pairs (all pairs: {} over {})",
        out.recall_published,
        out.close_contact_pairs_published,
        out.recall,
        out.close_contact_pairs
    );
    assert!(out.precision > 0.0 && out.precision <= 1.0);
    // Result about a day after the test, upload hours later, a 2-hour batch, a 4-hour fetch.
    let d = &out.delays;
    assert!(d.test_to_notification.median < 48.0, "{d:?}");
    assert!(d.upload_to_publication.mean <= 2.1, "{d:?}");
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

/// The report as JSON without the given keys (at the top and in each day).
fn without(out: &Outcome, keys: &[&str], config_keys: &[&str]) -> serde_json::Value {
    let mut v = serde_json::to_value(out).unwrap();
    for key in keys {
        v.as_object_mut().unwrap().remove(*key);
        for d in v["daily"].as_array_mut().unwrap() {
            d.as_object_mut().unwrap().remove(*key);
        }
    }
    for key in config_keys {
        v["config"].as_object_mut().unwrap().remove(*key);
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_uploads_change_nothing_but_their_counts() {
    let report = |chaff: f64| async move {
        let mut cfg = SimConfig::new(11, 1000, 8, 0.7);
        cfg.chaff_per_day = chaff;
        let out = simulate(cfg).await;
        let keys = ["fake_uploads", "fake_upload_refusals"];
        (
            without(&out, &keys, &["chaff_per_day"]),
            out.fake_uploads,
            out.app_users,
        )
    };
    let (without_fakes, none, _) = report(0.0).await;
    let (with, fakes, users) = report(0.5).await;
    assert_eq!(none, 0);
    // About half of the app users on each of 8 days, less the few a real upload replaced.
    let expected = users as f64 * 8.0 * 0.5;
    assert!(
        (fakes as f64 - expected).abs() < expected * 0.1,
        "{fakes} fake uploads, {expected} expected"
    );
    assert_eq!(with, without_fakes, "fake uploads changed the world");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_matching_equals_matching_everything() {
    let report = |exhaustive: bool| async move {
        let mut cfg = SimConfig::new(13, 800, 10, 0.8);
        cfg.epidemic.beta = 0.006;
        cfg.exhaustive_matching = exhaustive;
        let out = simulate(cfg).await;
        (
            out.notifications,
            without(&out, &["phone_fetches"], &["exhaustive_matching"]),
        )
    };
    let (n, pruned) = report(false).await;
    let (_, everything) = report(true).await;
    assert!(n > 20, "too few notifications to compare: {n}");
    assert_eq!(pruned, everything, "pruning changed a result");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_day_batches_notify_sooner_than_nightly_ones() {
    let delay = |period: u32, fetch: u32| async move {
        let mut cfg = SimConfig::new(17, 3000, 14, 1.0);
        cfg.timing.batch_period_seconds = period;
        cfg.timing.fetch_interval_seconds = fetch;
        cfg.timing.fetch_phase_spread_seconds = fetch;
        cfg.timing.fetch_jitter_seconds = fetch / 4;
        let out = simulate(cfg).await;
        assert!(out.delays.test_to_notification.n > 50, "{:?}", out.delays);
        out.delays
    };
    let nightly = delay(86_400, 86_400).await;
    let fast = delay(3_600, 7_200).await;
    let (a, b) = (&nightly.upload_to_publication, &fast.upload_to_publication);
    assert!(a.mean > 6.0 && b.mean < 1.01, "{a:?} {b:?}");
    let (a, b) = (&nightly.test_to_notification, &fast.test_to_notification);
    assert!(b.median + 10.0 < a.median, "nightly {a:?}, hourly {b:?}");
}
