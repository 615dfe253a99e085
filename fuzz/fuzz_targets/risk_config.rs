#![no_main]
//! Risk configuration: decode never panics; canonical round trip; verification never panics.
use en_protocol::wire::config::SignedRiskConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = SignedRiskConfig::decode(data) {
        assert_eq!(c.encode(), data);
        if let Ok(v) = c.verify(&en_fuzz::export_keys()) {
            assert_eq!(v.config().sign(&en_fuzz::authority_key()).unwrap(), data);
        }
    }
});
