#![no_main]
//! The phone's venue trace chain follower (`TraceFollower`: trace index `ENTX`, trace
//! batches `ENTB`) fed a hostile sequence of messages: never a panic, and any refusal leaves
//! its state unchanged. Input: records of (kind byte, u16 length, bytes); even kind = index,
//! odd = batch; time advances with each record from just after the venue vectors' index.
use en_protocol::phone::{FollowerConfig, TraceFollower};
use en_protocol::wire::Region;
use en_protocol::UnixTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = en_fuzz::venue_spec_export_keys();
    let mut f = TraceFollower::new(FollowerConfig::new(keys, Region::new("VN").unwrap()));
    en_fuzz::follow(
        &mut f,
        data,
        UnixTime(1_767_484_900),
        |f, kind, msg, now| {
            if kind % 2 == 0 {
                f.handle_index(msg, now).map(|_| ())
            } else {
                f.handle_batch(msg, now).map(|_| ())
            }
        },
    );
});
