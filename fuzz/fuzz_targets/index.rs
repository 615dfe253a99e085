#![no_main]
//! Index: decode never panics; canonical round trip; verification never panics.
use en_protocol::wire::index::SignedIndex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(i) = SignedIndex::decode(data) {
        assert_eq!(i.encode(), data);
        if let Ok(v) = i.verify(&en_fuzz::export_keys()) {
            assert_eq!(v.index().sign(&en_fuzz::authority_key()).unwrap(), data);
        }
    }
});
