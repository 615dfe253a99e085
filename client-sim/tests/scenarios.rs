//! Every scenario in client-sim/scenarios/ parses and passes the configuration's checks (an
//! unknown or misspelt field is an error), and the Kiên Giang scenario is what the README says.

use std::path::Path;

use en_sim::sim::scenario::Scenario;

#[test]
fn every_scenario_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let s = Scenario::load(&path, &toml::Table::new())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!s.variants.is_empty(), "{}", path.display());
            assert!(s.source.is_some());
            n += 1;
        }
    }
    assert!(n >= 3, "only {n} scenarios in {}", dir.display());
}

#[test]
fn kien_giang_has_its_adoption_and_household_sizes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/kien-giang-2021.toml");
    let s = Scenario::load(&path, &toml::Table::new()).unwrap();
    assert_eq!(s.seeds, 10);
    assert_eq!(s.x.as_deref(), Some("adoption"));
    let adoption: Vec<f64> = s.variants.iter().map(|v| v.config.adoption).collect();
    assert_eq!(adoption, [0.126, 0.3, 0.6, 1.0]);
    for v in &s.variants {
        assert_eq!((v.config.phones, v.config.days), (20_000, 21));
        let mean = v.config.population.mean_household_size();
        assert!((mean - 3.5).abs() < 0.05, "mean household size {mean}");
    }
    // Ten seeds per variant, in order.
    let runs = s.runs();
    assert_eq!(runs.len(), 40);
    assert_eq!(runs[9].1.seed, 10);
}
