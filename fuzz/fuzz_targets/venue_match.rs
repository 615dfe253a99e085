#![no_main]
//! Matching: input is one check-in record (197 bytes) followed by one trace entry (369
//! bytes). Decoding never panics; both round-trip; trying the entry on the record (identity,
//! non-subgroup or garbage keys included) never panics, and a match overlaps its hour.
use en_protocol::venue::{match_entries, try_match, CheckInRecord, CheckInStore, TraceEntry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((r, e)) = data.split_at_checked(197) else {
        return;
    };
    let (Ok(record), Ok(entry)) = (CheckInRecord::decode(r), TraceEntry::decode(e)) else {
        return;
    };
    assert_eq!(record.encode(), r);
    assert_eq!(entry.encode(), e);
    let direct = try_match(&record, &entry);
    if let Ok(n) = &direct {
        assert!(n.overlap_seconds >= 1 && n.overlap_seconds <= 3600);
        assert_eq!(n.hour, entry.hour());
    }
    let mut store = CheckInStore::new();
    store.insert([record]);
    let found = match_entries(&store, std::slice::from_ref(&entry));
    // match_entries tries only same-(hour, tag) candidates: it finds at most what try_match does.
    assert!(found.notifications.len() <= usize::from(direct.is_ok()));
});
