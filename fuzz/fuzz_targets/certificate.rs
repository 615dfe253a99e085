#![no_main]
//! Verification certificate: decode never panics; canonical round trip; verification and
//! tekmac binding never panic.
use en_protocol::wire::certificate::SignedCertificate;
use en_protocol::wire::Audience;
use en_protocol::UnixTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = SignedCertificate::decode(data) {
        assert_eq!(c.encode(), data, "non-canonical certificate accepted");
        let now = UnixTime(1_700_000_000);
        if let Ok(v) = c.verify(
            &en_fuzz::registry(),
            &Audience::new("en-server:VN").unwrap(),
            now,
            300,
        ) {
            let _ = v.bind(Vec::new(), b"0123456789abcdef");
        }
    }
});
