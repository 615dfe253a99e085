//! The two-region travel simulation on a small world with a fixed seed: phones that follow
//! the regions they visited notify more of the people exposed to a case than phones that
//! follow home only; both runs use the same world, and neither notifies anyone unexposed.
//! Federation (condition c) is refused until `en-server` has it, not faked.

use en_sim::sim::travel::{run_seeds, Condition, TravelParams};

#[test]
fn following_visited_regions_raises_recall() {
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
    let s = rt
        .block_on(run_seeds(
            &p,
            &[Condition::HomeOnly, Condition::FollowVisited],
            2,
        ))
        .unwrap();
    let (a, b) = (&s[0], &s[1]);
    for (ra, rb) in a.runs.iter().zip(&b.runs) {
        assert_eq!(ra.exposed, rb.exposed, "same world in both conditions");
        assert!(ra.exposed > 0);
        assert_eq!((ra.false_notified, rb.false_notified), (0, 0));
        assert!(rb.notified >= ra.notified);
    }
    assert!(
        b.recall.mean > a.recall.mean,
        "(b) {:?} should beat (a) {:?}",
        b.recall,
        a.recall
    );
    assert!(
        a.recall.mean < 1.0,
        "home only misses the travellers' contacts"
    );
    eprintln!(
        "recall (a) {:.3} [{:.3}, {:.3}], (b) {:.3} [{:.3}, {:.3}]",
        a.recall.mean, a.recall.lo, a.recall.hi, b.recall.mean, b.recall.lo, b.recall.hi
    );

    let e = rt
        .block_on(en_sim::sim::travel::run(&p, Condition::Federation))
        .unwrap_err();
    assert!(e.to_string().contains("federation"), "{e}");
}
