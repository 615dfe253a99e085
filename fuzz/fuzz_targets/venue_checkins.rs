#![no_main]
//! Check-in store: decode never panics and never allocates before checking the count
//! against the input; canonical round trip; pruning and candidate lookup never panic; a record is its own candidate.
use en_protocol::venue::{CheckInStore, Hour};
use en_protocol::UnixTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut s) = CheckInStore::decode(data) {
        assert_eq!(s.encode(), data, "non-canonical check-in store accepted");
        if let Some(r) = s.records().first() {
            let (h, t) = (r.hour(), r.tag());
            assert!(!s.candidates(h, t).is_empty());
            s.prune(Hour(h.0.saturating_add(400)).start());
        }
        s.prune(UnixTime(u64::MAX));
    }
});
