#![no_main]
//! Revision token: decode never panics; accepted input re-encodes to itself; verifying a
//! decoded token against a fixed secret and key set never panics.
use en_protocol::time::UnixTime;
use en_protocol::wire::revision::{RevisionSecret, RevisionToken};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = RevisionToken::decode(data) {
        assert_eq!(t.encode(), data, "non-canonical revision token accepted");
        let _ = RevisionSecret::from_bytes([0; 32]).verify(&t, &[], UnixTime(1_700_000_000));
    }
});
