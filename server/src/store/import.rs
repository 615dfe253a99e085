//! What every store keeps about imports from peers (spec/federation.md §2): the follower
//! state of each peer's chain, in one fixed encoding, and the day counts that bound them.
//!
//! ```text
//! state := version 1 ‖ has_head u8 ‖ sequence u64 ‖ hash 32 ‖ window_end u64
//!          ‖ has_index u8 ‖ index_generated_at u64          -- 59 bytes, big-endian
//! ```
//!
//! Absent parts are zero and their flag 0; the decoder refuses anything else, so one state
//! has one encoding.

use en_protocol::phone::{ChainHead, FollowerState};
use en_protocol::wire::Region;
use en_protocol::UnixTime;

/// Version of the state encoding.
const VERSION: u8 = 1;
/// Length of an encoded state.
pub const STATE_LEN: usize = 59;

/// What one import stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Imported {
    /// Keys stored now (released in the next window of this server's chain).
    pub stored: usize,
    /// Keys stored before from the same origin whose new metadata revises the stored one
    /// ([`en_protocol::import::is_import_revision`]), given the new metadata (published again
    /// in the next window, as [`crate::store::Store::republish`] does).
    pub revised: usize,
    /// Keys skipped because they were stored before (unchanged or not a revision, from another
    /// origin, or uploaded here).
    pub known: usize,
}

/// The name under which imports from `origin` are counted per day, beside the authorities'
/// upload counts. Authority ids are lower case without `:`, so no authority has it.
pub fn day_count_name(origin: &Region) -> String {
    format!("import:{}", origin.as_str())
}

/// Encodes a follower state.
pub fn encode_state(s: &FollowerState) -> [u8; STATE_LEN] {
    let mut out = [0u8; STATE_LEN];
    out[0] = VERSION;
    if let Some(h) = &s.head {
        out[1] = 1;
        out[2..10].copy_from_slice(&h.sequence.to_be_bytes());
        out[10..42].copy_from_slice(&h.hash);
        out[42..50].copy_from_slice(&h.window_end.0.to_be_bytes());
    }
    if let Some(t) = s.index_generated_at {
        out[50] = 1;
        out[51..59].copy_from_slice(&t.0.to_be_bytes());
    }
    out
}

/// Decodes [`encode_state`] strictly: `None` unless canonical.
pub fn decode_state(b: &[u8]) -> Option<FollowerState> {
    if b.len() != STATE_LEN || b[0] != VERSION {
        return None;
    }
    let u = |r: std::ops::Range<usize>| u64::from_be_bytes(b[r].try_into().expect("8 bytes"));
    let mut s = FollowerState::default();
    match b[1] {
        0 if b[2..50].iter().all(|x| *x == 0) => {}
        1 => {
            s.head = Some(ChainHead::new(
                u(2..10),
                b[10..42].try_into().expect("32 bytes"),
                UnixTime(u(42..50)),
            ))
        }
        _ => return None,
    }
    match b[50] {
        0 if b[51..].iter().all(|x| *x == 0) => {}
        1 => s.index_generated_at = Some(UnixTime(u(51..59))),
        _ => return None,
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_only_canonical_ones_decode() {
        let mut s = FollowerState::default();
        assert_eq!(decode_state(&encode_state(&s)), Some(s));
        s.head = Some(ChainHead::new(7, [9; 32], UnixTime(1_700_000_000)));
        assert_eq!(decode_state(&encode_state(&s)), Some(s));
        s.index_generated_at = Some(UnixTime(1_700_000_100));
        let b = encode_state(&s);
        assert_eq!(decode_state(&b), Some(s));
        // Each must-fail case: wrong length, version, flag; bytes behind an absent part.
        assert_eq!(decode_state(&b[..58]), None);
        let mut longer = b.to_vec();
        longer.push(0);
        assert_eq!(decode_state(&longer), None);
        for (i, v) in [(0, 2), (1, 2), (50, 2)] {
            let mut bad = b;
            bad[i] = v;
            assert_eq!(decode_state(&bad), None, "byte {i} = {v}");
        }
        let mut no_head = encode_state(&FollowerState::default());
        no_head[5] = 1;
        assert_eq!(decode_state(&no_head), None);
        let mut no_index = encode_state(&FollowerState::default());
        no_index[58] = 1;
        assert_eq!(decode_state(&no_index), None);
    }

    #[test]
    fn day_counts_cannot_collide_with_authorities() {
        let name = day_count_name(&Region::new("VN-HN").unwrap());
        assert_eq!(name, "import:VN-HN");
        assert!(en_protocol::wire::AuthorityId::new(&name).is_err());
    }
}
