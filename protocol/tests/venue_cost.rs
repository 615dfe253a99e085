//! Cost of venue matching for a heavy user (20 check-ins a day for 14 days) against one day
//! of published traces. Ignored by default; a measurement, not a timed test:
//!
//! `cargo test --release -p en-protocol --test venue_cost -- --ignored --nocapture`
//!
//! It asserts only what can be checked exactly (the notifications found); the printed times
//! are for BENCHMARKS.md and the venue spec.

use std::time::Instant;

use en_protocol::venue::bench::heavy_user_fixture;
use en_protocol::venue::SignedTraceBatch;

fn run(traces: usize) {
    let t = Instant::now();
    let f = heavy_user_fixture(1, traces);
    let built = t.elapsed();
    let t = Instant::now();
    let batch = SignedTraceBatch::decode(&f.batch)
        .unwrap()
        .verify(&f.export_keys)
        .unwrap();
    let decoded = t.elapsed();
    let t = Instant::now();
    let report = f.store.match_batch(&batch);
    let matched = t.elapsed();
    // What checking every key up front would add (matching checks only the keys it tries).
    let t = Instant::now();
    batch.check_keys().unwrap();
    let all_keys = t.elapsed();
    println!(
        "traces {traces:>6}: records {} | batch {} B | decode+verify {:>7.1?} | match {:>8.1?} | pairings {} | notifications {} | (check of all keys {:.1?}; fixture built in {:.1?})",
        f.store.len(),
        f.batch.len(),
        decoded,
        matched,
        report.pairings,
        report.notifications.len(),
        all_keys,
        built,
    );
    // What the same batch would cost with coarser labels (counted, not run).
    let records = f.store.records();
    let (mut by_hour, mut by_day) = (0usize, 0usize);
    for e in batch.entries() {
        by_hour += records.iter().filter(|r| r.hour() == e.hour()).count();
        by_day += records
            .iter()
            .filter(|r| r.hour().day() == e.hour().day())
            .count();
    }
    println!(
        "                decryptions with an hour label only: {by_hour}; with a day label only (CrowdNotifier): {by_day}"
    );
    assert_eq!(report.notifications.len(), f.expected_notifications);
    assert!(f.expected_notifications >= 2);
    assert_eq!(report.invalid_keys, 0);
}

#[test]
#[ignore = "measurement: run with --release --ignored --nocapture"]
fn heavy_user_matching_cost() {
    for traces in [2_000, 10_000] {
        run(traces);
    }
}
