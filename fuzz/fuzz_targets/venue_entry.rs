#![no_main]
//! Venue entry payload: decode never panics; canonical round trip; the URL form parses
//! strictly (accepted URLs re-encode to themselves) and never panics.
use en_protocol::venue::EntryPayload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = EntryPayload::decode(data) {
        assert_eq!(p.encode(), data, "non-canonical entry payload accepted");
        let url = p.to_url("venue.example").unwrap();
        assert_eq!(EntryPayload::from_url(&url, "venue.example").unwrap(), p);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = EntryPayload::from_url(text, "venue.example") {
            assert_eq!(
                p.to_url("venue.example").unwrap(),
                text,
                "non-canonical URL accepted"
            );
        }
    }
});
