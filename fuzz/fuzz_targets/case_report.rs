#![no_main]
//! Case report: decode never panics; accepted input re-encodes to itself (also after
//! verification); verification never panics and, on success, returns exactly the decoded
//! content.
use en_protocol::wire::case_report::SignedCaseReport;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = SignedCaseReport::decode(data) {
        assert_eq!(r.encode(), data, "non-canonical case report accepted");
        let claimed = r.claimed_authority().clone();
        if let Ok(v) = r.verify(&en_fuzz::registry()) {
            assert_eq!(v.report().authority, claimed);
            let resigned = v.report().sign(&en_fuzz::authority_key()).unwrap();
            assert_eq!(
                resigned, data,
                "ed25519 signing is deterministic: re-signing gives the same bytes"
            );
        }
    }
});
