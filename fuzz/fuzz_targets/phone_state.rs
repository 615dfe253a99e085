#![no_main]
//! The phone's stored state (ENPS): decoding arbitrary bytes never panics, never allocates
//! past its bounds, and whatever decodes re-encodes canonically: a state in the current
//! version re-encodes to the same bytes; an older version (still read) re-encodes to the
//! current version, which then round-trips exactly.
use en_protocol::phone::{FollowerConfig, Phone};
use en_protocol::wire::Region;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let config = || FollowerConfig::new(en_fuzz::export_keys(), Region::new("VN").unwrap());
    if let Ok(p) = Phone::decode(data, config()) {
        let bytes = p.encode();
        if bytes.get(..5) == data.get(..5) {
            assert_eq!(bytes.as_slice(), data);
        } else {
            // Only versions 1 and 2 are read besides the current one, and they come back as it.
            assert!(matches!(data[4], 1 | 2), "an older version");
            assert_eq!(bytes[4], en_protocol::phone::STATE_VERSION);
            let again = Phone::decode(&bytes, config()).expect("a re-encoded state decodes");
            assert_eq!(again.encode(), bytes);
        }
    }
});
