#![no_main]
//! Venue tracing secret: decode never panics; canonical round trip; a decoded secret makes
//! a trace request that round-trips.
use en_protocol::venue::{Hour, TraceRequest, TracingSecret};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = TracingSecret::decode(data) {
        assert_eq!(
            &s.encode()[..],
            data,
            "non-canonical tracing secret accepted"
        );
        let r = s.trace_request(&[Hour(490_900)]).unwrap();
        assert_eq!(TraceRequest::decode(&r.encode()).unwrap(), r);
    }
});
