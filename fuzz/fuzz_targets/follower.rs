#![no_main]
//! The phone's chain follower fed a hostile sequence of messages: never a panic, and any
//! refusal leaves its state unchanged. Input: records of (kind byte, u16 length, bytes);
//! kind 0 = index, 1 = batch, 2 = risk configuration; time advances with each record.
use en_protocol::phone::{FollowerConfig, KeyFollower};
use en_protocol::wire::Region;
use en_protocol::UnixTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let config = FollowerConfig::new(en_fuzz::spec_export_keys(), Region::new("VN").unwrap());
    let mut f = KeyFollower::new(config);
    en_fuzz::follow(
        &mut f,
        data,
        UnixTime(1_700_000_000),
        |f, kind, msg, now| match kind % 3 {
            0 => f.handle_index(msg, now).map(|_| ()),
            1 => f.handle_batch(msg, now).map(|_| ()),
            _ => f.handle_config(msg, now).map(|_| ()),
        },
    );
});
