//! Counterfactuals: a world with the app and the same world without it draw the same
//! contacts, coins and courses, so with no app users they are the same epidemic, byte for
//! byte; with everyone using the app, notification averts infections on average.

use en_sim::sim::experiment::run_one;
use en_sim::sim::SimConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_app_users_the_counterfactual_is_the_baseline() {
    let mut cfg = SimConfig::new(21, 2000, 14, 0.0);
    cfg.epidemic.beta = 0.006;
    let (out, _) = run_one(cfg).await.unwrap();
    let cf = out.counterfactual.as_ref().unwrap();
    assert!(
        out.epidemic.infections > 50,
        "too small an epidemic to compare"
    );
    assert!(out.epidemic.confirmed > 0);
    assert_eq!(
        serde_json::to_vec(&out.epidemic).unwrap(),
        serde_json::to_vec(&cf.epidemic).unwrap()
    );
    assert_eq!(cf.infections_averted, 0);
    assert_eq!(cf.hospitalisations_averted, 0.0);
    assert_eq!((out.app_users, out.notifications), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_adoption_averts_infections_on_average() {
    let mut averted = Vec::new();
    for seed in 1..=4 {
        let mut cfg = SimConfig::new(seed, 2000, 16, 1.0);
        cfg.epidemic.beta = 0.006;
        let (out, _) = run_one(cfg).await.unwrap();
        let cf = out.counterfactual.unwrap();
        assert!(
            cf.epidemic.infections > 50,
            "seed {seed}: too small an epidemic"
        );
        assert!(out.notifications > 0);
        averted.push(cf.infections_averted as f64);
    }
    let ci = en_sim::stats::mean_ci(&averted);
    assert!(ci.mean >= 0.0, "{averted:?}");
    assert!(ci.hi > 0.0, "{averted:?}");
}
