//! The two-region travel simulation on a small world with a fixed seed, in the four
//! conditions of `sim::travel` on the same world: (a) home only, (b) travellers follow the
//! region they visit, (c) federated servers, (d) both. Following and federation each notify
//! people the other misses, so: (b) and (c) each notify everyone (a) does, (d) everyone (b)
//! or (c) does, both (b) and (c) beat (a) on average, and nobody unexposed is notified.

use en_sim::sim::travel::{run_seeds, Condition, TravelParams};

#[test]
fn following_and_federation_each_raise_recall() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let p = TravelParams {
        seed: 14,
        people_per_region: 30,
        traveller_fraction: 0.5,
        trip_days: 3,
        days: 5,
        contacts_per_day: 2,
        case_fraction: 0.15,
    };
    let s = rt.block_on(run_seeds(&p, &Condition::ALL, 2)).unwrap();
    let (a, b, c, d) = (&s[0], &s[1], &s[2], &s[3]);
    for i in 0..a.runs.len() {
        let (ra, rb, rc, rd) = (&a.runs[i], &b.runs[i], &c.runs[i], &d.runs[i]);
        assert!(ra.exposed > 0);
        for r in [rb, rc, rd] {
            assert_eq!(r.exposed, ra.exposed, "the same world in every condition");
            assert_eq!(r.false_notified, 0, "nobody unexposed is notified");
        }
        assert_eq!(ra.false_notified, 0);
        assert!(rb.notified >= ra.notified && rc.notified >= ra.notified);
        assert!(rd.notified >= rb.notified.max(rc.notified));
    }
    for (x, name) in [(b, "(b)"), (c, "(c)")] {
        assert!(
            x.recall.mean > a.recall.mean,
            "{name} {:?} should beat (a) {:?}",
            x.recall,
            a.recall
        );
    }
    assert!(a.recall.mean < 1.0, "home only misses travellers' contacts");
    for x in &s {
        eprintln!(
            "recall {}: {:.3} [{:.3}, {:.3}] (notified/exposed per seed: {:?})",
            x.condition.label(),
            x.recall.mean,
            x.recall.lo,
            x.recall.hi,
            x.runs
                .iter()
                .map(|r| (r.notified, r.exposed))
                .collect::<Vec<_>>()
        );
    }
}

/// `en-sim travel` writes its table, data and figure, and refuses a bad fraction with one line.
#[test]
fn the_travel_command_writes_table_data_and_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_en-sim"))
        .args(["travel", "--quiet", "--seeds", "2", "--people", "12"])
        .args(["--fractions", "0.2,0.6", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.path().join("travel.md")).unwrap();
    assert_eq!(md.matches("| 0.20 |").count(), 4, "four conditions: {md}");
    assert_eq!(md.matches("| 0.60 |").count(), 4);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("travel.json")).unwrap()).unwrap();
    assert_eq!(json["points"].as_array().unwrap().len(), 8);
    let svg = std::fs::read_to_string(dir.path().join("travel.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("(c) federated servers"));

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_en-sim"))
        .args(["travel", "--fractions", "1.5", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--fractions"), "{err}");
}

/// `en-sim phone upload --visited` refuses a malformed region before sending anything.
#[test]
fn phone_upload_refuses_a_malformed_visited_region() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let bin = env!("CARGO_BIN_EXE_en-sim");
    let made = std::process::Command::new(bin)
        .args(["phone", "keys", "--days", "2", "--out"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let out = std::process::Command::new(bin)
        .args([
            "phone",
            "upload",
            "--server",
            "https://127.0.0.1:9",
            "--code",
            "12345678",
        ])
        .args(["--visited", "vn-kg", "--keys"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--visited \"vn-kg\""), "{err}");
}
