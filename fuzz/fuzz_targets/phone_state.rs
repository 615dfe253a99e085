#![no_main]
//! The phone's stored state (ENPS): decoding arbitrary bytes never panics, never allocates
//! past its bounds, and whatever decodes re-encodes to the same bytes.
use en_protocol::phone::{FollowerConfig, Phone};
use en_protocol::wire::Region;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let config = FollowerConfig::new(en_fuzz::export_keys(), Region::new("VN").unwrap());
    if let Ok(p) = Phone::decode(data, config) {
        assert_eq!(p.encode().as_slice(), data);
    }
});
