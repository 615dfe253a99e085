#![no_main]
//! Diagnosis key: decode never panics; accepted input re-encodes to itself.
use en_protocol::wire::key::DiagnosisKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = DiagnosisKey::decode(data) {
        assert_eq!(k.encode(), data, "non-canonical diagnosis key accepted");
    }
});
