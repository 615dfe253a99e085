#![no_main]
//! Trace index (`ENTX`): decode never panics and never allocates before checking lengths;
//! canonical round trip; never also a key chain index; verification never panics; a
//! verifying index re-signs (deterministic ed25519) to the same bytes.
use en_protocol::wire::index::{SignedIndex, TRACE_INDEX};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(i) = SignedIndex::decode_as(data, &TRACE_INDEX) {
        assert_eq!(i.encode(), data, "non-canonical trace index accepted");
        assert!(
            SignedIndex::decode(data).is_err(),
            "a trace index also decodes as the key chain's index"
        );
        if let Ok(v) = i.verify(&en_fuzz::export_keys()) {
            let again = v
                .index()
                .sign_as(&TRACE_INDEX, &en_fuzz::authority_key())
                .unwrap();
            assert_eq!(
                again, data,
                "decode -> encode must reproduce a canonical trace index"
            );
        }
    }
});
