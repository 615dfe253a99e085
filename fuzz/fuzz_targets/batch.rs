#![no_main]
//! Batch: decode never panics and never over-allocates; canonical round trip (re-signing the
//! decoded content with the same key gives the same bytes); verification never panics.
use en_protocol::wire::batch::{Batch, SignedBatch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = SignedBatch::decode(data) {
        assert_eq!(b.encode(), data);
        let h = b.header().clone();
        if let Ok(v) = b.verify(&en_fuzz::export_keys()) {
            let again = Batch {
                region: h.region.clone(),
                sequence: h.sequence,
                window_start: h.window_start,
                window_end: h.window_end,
                prev_hash: h.prev_hash,
                keys: v.keys().to_vec(),
            }
            .sign(&en_fuzz::authority_key())
            .unwrap();
            assert_eq!(
                again, data,
                "decode -> encode must reproduce a canonical batch"
            );
        }
    }
});
