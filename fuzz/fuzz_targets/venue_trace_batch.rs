#![no_main]
//! Trace batch: decode never panics and never allocates before checking lengths; canonical
//! round trip; verification, the full key check and matching against a store never panic;
//! a verifying batch rebuilt from its decoded content re-encodes to the same bytes.
use en_protocol::venue::{match_entries, CheckInStore, SignedTraceBatch, TraceBatch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = SignedTraceBatch::decode(data) {
        assert_eq!(b.encode(), data, "non-canonical trace batch accepted");
        let h = b.header().clone();
        if let Ok(v) = b.verify(&en_fuzz::export_keys()) {
            let _ = v.check_keys();
            let again = TraceBatch {
                region: h.region.clone(),
                sequence: h.sequence,
                window_start: h.window_start,
                window_end: h.window_end,
                prev_hash: h.prev_hash,
                entries: v.entries().to_vec(),
            }
            .sign(&en_fuzz::authority_key())
            .unwrap();
            assert_eq!(
                again, data,
                "decode -> encode must reproduce a canonical trace batch"
            );
            let found = match_entries(&CheckInStore::new(), v.entries());
            assert_eq!(found.pairings, 0);
        }
    }
});
