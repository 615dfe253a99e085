#![no_main]
//! Trace request: decode never panics (every partial key is point-checked); canonical round
//! trip; the authority's opening (sealed share, identities, pairing check) never panics.
use en_protocol::venue::{SealingSecretKey, TraceRequest};
use en_protocol::UnixTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = TraceRequest::decode(data) {
        assert_eq!(r.encode(), data, "non-canonical trace request accepted");
        // The seed corpus seals to this key (fuzz/src/seed_corpus.rs).
        let sealing = SealingSecretKey::from_bytes([9; 32]);
        if let Ok(c) = r.open(&sealing, UnixTime(1_767_315_600)) {
            assert_eq!(c.hours().collect::<Vec<_>>(), r.hours().collect::<Vec<_>>());
        }
    }
});
