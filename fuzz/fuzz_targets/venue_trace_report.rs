#![no_main]
//! Trace report: decode never panics (every key is point-checked); canonical round trip;
//! verification never panics, and a report that verifies re-signs (deterministic ed25519)
//! to the same bytes.
use en_protocol::venue::SignedTraceReport;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = SignedTraceReport::decode(data) {
        assert_eq!(r.encode(), data, "non-canonical trace report accepted");
        if let Ok(v) = r.verify(&en_fuzz::registry()) {
            let resigned = v.report().sign(&en_fuzz::authority_key()).unwrap();
            assert_eq!(resigned, data);
        }
    }
});
