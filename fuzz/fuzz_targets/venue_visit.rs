#![no_main]
//! Visit state: decode never panics; canonical round trip; closing a decoded visit (by
//! timeout, check-out or a scan) never panics and yields records for every hour it covers.
use en_protocol::venue::bench::FixtureRng;
use en_protocol::venue::VisitTracker;
use en_protocol::UnixTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = VisitTracker::decode(data) {
        assert_eq!(t.encode(), data, "non-canonical visit state accepted");
        let mut rng = FixtureRng::new(1);
        let Some(v) = t.current().cloned() else {
            return;
        };
        let mut a = t.clone();
        let deadline = a.poll_timeout().unwrap();
        assert!(!a.handle_timeout(deadline, &mut rng).is_empty());
        let mut b = t.clone();
        assert!(!b.handle_check_out(UnixTime(0), &mut rng).is_empty());
        // The same code again before the automatic check-out checks out.
        let mut c = t;
        let now = v.arrival().plus(1);
        if now < v.checkout_at() {
            if let Ok(s) = c.handle_scan(v.payload().clone(), now, 3600, &mut rng) {
                assert!(!s.checked_in && !s.closed.is_empty());
            }
        }
    }
});
