//! The chain follower against hostile servers and mirrors, with no network: real signed
//! indexes, batches and risk configurations from a fixed seed, fed in hostile orders. Every
//! refusal is asserted by its exact error code, and leaves the follower's state unchanged.

mod common;

use common::{entry, Chain, T0};
use en_protocol::keys::SigningKey;
use en_protocol::phone::{
    ChainFollower, ChainHead, FollowerConfig, FollowerState, KeyFollower, DEFAULT_MAX_AGE_SECONDS,
    DEFAULT_MAX_FUTURE_SECONDS,
};
use en_protocol::verify::ExportKeys;
use en_protocol::wire::batch::{BatchHeader, KeyBatches, SignedBatch, VerifiedBatch};
use en_protocol::wire::chain::{ChainFormat, IndexFormat};
use en_protocol::wire::index::Index;
use en_protocol::wire::Region;
use en_protocol::{Error, UnixTime};
use proptest::prelude::*;

fn follower(chain: &Chain) -> KeyFollower {
    KeyFollower::new(FollowerConfig::new(chain.trusted(), chain.region.clone()))
}

fn t(x: u64) -> UnixTime {
    UnixTime(x)
}

/// Fetches every pending batch from `chain`; returns the sequences and whether each was
/// accepted on trust.
fn fetch_all(f: &mut KeyFollower, chain: &Chain, now: u64) -> Vec<(u64, bool)> {
    let mut got = Vec::new();
    while let Some(e) = f.poll_fetch() {
        let seq = e.sequence;
        let b = f.handle_batch(chain.batch(seq), t(now)).unwrap();
        assert_eq!(b.batch().header().sequence, seq);
        got.push((seq, b.on_trust()));
    }
    got
}

/// Asserts that `r` failed with `code` and that the follower is as it was.
#[track_caller]
fn refused<T: std::fmt::Debug>(
    f: &KeyFollower,
    before: &FollowerState,
    r: Result<T, Error>,
    code: &str,
) {
    match r {
        Ok(v) => panic!("expected {code}, got Ok({v:?})"),
        Err(e) => assert_eq!(e.code(), code, "{e}"),
    }
    assert_eq!(f.state(), before, "a refusal must not change the state");
}

/// A follower whose head is batch `n` of `chain` (batches 1..=n fetched).
fn synced(chain: &Chain, n: u64) -> KeyFollower {
    let mut f = follower(chain);
    f.handle_index(&chain.index(1..=n, chain.now()), t(chain.now()))
        .unwrap();
    fetch_all(&mut f, chain, chain.now());
    assert_eq!(f.head().unwrap().sequence, n);
    f
}

#[test]
fn fresh_phone_trusts_the_first_batch_and_chains_the_rest() {
    let mut c = Chain::new(1);
    c.publish(3);
    let mut f = follower(&c);
    assert!(f.poll_fetch().is_none());
    let u = f
        .handle_index(&c.index(1..=3, c.now()), t(c.now()))
        .unwrap();
    assert_eq!((u.pending, u.newest_listed), (3, Some(3)));
    assert_eq!(
        fetch_all(&mut f, &c, c.now()),
        vec![(1, true), (2, false), (3, false)]
    );
    assert_eq!(f.head(), Some(&ChainHead::of(c.header(3))));
    assert_eq!(f.state().index_generated_at, Some(t(c.now())));
}

#[test]
fn continuing_phone_fetches_only_new_batches() {
    let mut c = Chain::new(2);
    c.publish(3);
    let mut f = synced(&c, 3);
    c.publish(2);
    // Retention dropped batches 1 to 3, the head's own entry included: 4 must follow 3.
    for listed in [2..=5, 4..=5] {
        let mut g = f.clone();
        let u = g
            .handle_index(&c.index(listed, c.now()), t(c.now()))
            .unwrap();
        assert_eq!(u.pending, 2);
        assert_eq!(fetch_all(&mut g, &c, c.now()), vec![(4, false), (5, false)]);
    }
    // Nothing new: up to date.
    f.handle_index(&c.index(1..=3, c.now()), t(c.now()))
        .unwrap();
    assert!(f.poll_fetch().is_none());
}

#[test]
fn resumed_follower_continues_from_its_persisted_head() {
    let mut c = Chain::new(3);
    c.publish(2);
    let f = synced(&c, 2);
    c.publish(1);
    let mut g = ChainFollower::<KeyBatches>::resume(f.config().clone(), *f.state());
    g.handle_index(&c.index(1..=3, c.now()), t(c.now()))
        .unwrap();
    assert_eq!(fetch_all(&mut g, &c, c.now()), vec![(3, false)]);
}

#[test]
fn key_rotation_with_two_trusted_keys() {
    let mut c = Chain::new(4);
    c.publish(2);
    let old = c.trusted();
    let mut rng =
        <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(40);
    let new_key = SigningKey::generate(&mut rng);
    let both = ExportKeys::new(vec![old.keys()[0], new_key.public_key()]);
    c.key = new_key;
    c.publish(2);
    // The index is signed with the new key; batches 1-2 with the old one.
    let mut f = KeyFollower::new(FollowerConfig::new(both, c.region.clone()));
    f.handle_index(&c.index(1..=4, c.now()), t(c.now()))
        .unwrap();
    assert_eq!(fetch_all(&mut f, &c, c.now()).len(), 4);
    // A phone that trusts only the old key refuses the new index.
    let mut g = KeyFollower::new(FollowerConfig::new(old, c.region.clone()));
    let before = *g.state();
    let r = g.handle_index(&c.index(1..=4, c.now()), t(c.now()));
    refused(&g, &before, r, "unknown_export_key");
}

#[test]
fn gap_is_refused_until_an_explicit_resync() {
    let mut c = Chain::new(5);
    c.publish(3);
    let mut f = synced(&c, 3);
    c.publish(3); // 4, 5, 6
    let now = c.now();
    let before = *f.state();
    let r = f.handle_index(&c.index(5..=6, now), t(now));
    refused(&f, &before, r.clone(), "chain_gap");
    assert_eq!(
        r.unwrap_err(),
        Error::Follow(en_protocol::FollowError::ChainGap {
            have: 3,
            offered: 5
        })
    );
    assert!(f.poll_fetch().is_none(), "nothing is fetched past a gap");
    let resync = f.resync_from_index().unwrap();
    assert_eq!(
        (resync.dropped_head, resync.skipped_from, resync.resume_at),
        (Some(3), 4, 5)
    );
    assert_eq!(resync.skipped(), 1);
    assert!(resync.to_string().contains("4..=4"), "{resync}");
    assert_eq!(f.head(), None);
    assert_eq!(fetch_all(&mut f, &c, now), vec![(5, true), (6, false)]);
    // The offer is used up.
    assert_eq!(f.resync_from_index().unwrap_err().code(), "usage");
}

#[test]
fn resync_needs_a_reported_gap() {
    let mut c = Chain::new(6);
    c.publish(2);
    let mut f = synced(&c, 2);
    assert_eq!(f.resync_from_index().unwrap_err().code(), "usage");
    assert_eq!(f.head().unwrap().sequence, 2);
    // A later good index withdraws an earlier gap's offer.
    c.publish(3);
    let _ = f
        .handle_index(&c.index(4..=5, c.now()), t(c.now()))
        .unwrap_err();
    f.handle_index(&c.index(2..=5, c.now()), t(c.now()))
        .unwrap();
    assert_eq!(f.resync_from_index().unwrap_err().code(), "usage");
}

#[test]
fn gap_inside_the_index_of_a_fresh_phone() {
    let mut c = Chain::new(7);
    c.publish(5);
    let mut f = follower(&c);
    let before = *f.state();
    let r = f.handle_index(&c.index([1, 2, 4, 5], c.now()), t(c.now()));
    refused(&f, &before, r, "chain_gap");
    let resync = f.resync_from_index().unwrap();
    assert_eq!(
        (resync.dropped_head, resync.skipped_from, resync.resume_at),
        (None, 1, 4)
    );
    assert_eq!(resync.skipped(), 3);
    assert_eq!(fetch_all(&mut f, &c, c.now()), vec![(4, true), (5, false)]);
}

#[test]
fn fork_in_the_index_is_refused() {
    let mut c = Chain::new(8);
    c.publish(3);
    let f = synced(&c, 3);
    // The same export key signs a different batch 3 (and 4 on top of it).
    c.batches.truncate(2);
    c.publish(2);
    let mut g = f.clone();
    let before = *g.state();
    let r = g.handle_index(&c.index(1..=4, c.now()), t(c.now()));
    refused(&g, &before, r, "chain_fork");
}

#[test]
fn fork_in_a_batch_is_refused() {
    let mut c = Chain::new(9);
    c.publish(3);
    let mut f = synced(&c, 3);
    let ours = c.batches.clone();
    // Batch 4 built on another batch 3, listed after our 3.
    c.batches.truncate(2);
    c.publish(2);
    let forked4 = entry(c.header(4));
    let mut entries: Vec<_> = ours.iter().map(|(h, _)| entry(h)).collect();
    entries.push(forked4);
    let idx = Index {
        region: c.region.clone(),
        generated_at: t(c.now()),
        entries,
    }
    .sign(&c.key)
    .unwrap();
    f.handle_index(&idx, t(c.now())).unwrap();
    let before = *f.state();
    let r = f.handle_batch(c.batch(4), t(c.now()));
    refused(&f, &before, r.map(|_| ()), "chain_fork");
}

#[test]
fn rollbacks_are_refused() {
    let mut c = Chain::new(10);
    c.publish(4);
    let mut f = synced(&c, 4);
    let now = c.now();
    // An index whose newest batch is below the head, and an empty one.
    let before = *f.state();
    let r = f.handle_index(&c.index(1..=3, now), t(now));
    refused(&f, &before, r, "chain_rollback");
    let r = f.handle_index(&c.index([], now), t(now));
    refused(&f, &before, r, "chain_rollback");
    // An index signed before the newest accepted one (still fresh).
    let r = f.handle_index(&c.index(1..=4, now - 60), t(now));
    refused(&f, &before, r, "index_rollback");
}

#[test]
fn replayed_old_index_is_refused() {
    let mut c = Chain::new(11);
    c.publish(2);
    let old = c.index(1..=2, c.now());
    let mut f = synced(&c, 2);
    c.publish(1);
    f.handle_index(&c.index(1..=3, c.now()), t(c.now()))
        .unwrap();
    let before = *f.state();
    let r = f.handle_index(&old, t(c.now()));
    refused(&f, &before, r, "index_rollback");
    // The same index again is harmless.
    f.handle_index(&c.index(1..=3, c.now()), t(c.now()))
        .unwrap();
}

#[test]
fn stale_and_future_indexes_are_refused() {
    let mut c = Chain::new(12);
    c.publish(1);
    let at = c.now();
    let idx = c.index(1..=1, at);
    let f = follower(&c);
    let before = *f.state();
    let mut g = f.clone();
    g.handle_index(&idx, t(at + DEFAULT_MAX_AGE_SECONDS))
        .unwrap();
    let mut g = f.clone();
    let r = g.handle_index(&idx, t(at + DEFAULT_MAX_AGE_SECONDS + 1));
    refused(&g, &before, r, "stale_index");
    let mut g = f.clone();
    g.handle_index(&idx, t(at - DEFAULT_MAX_FUTURE_SECONDS))
        .unwrap();
    let mut g = f.clone();
    let r = g.handle_index(&idx, t(at - DEFAULT_MAX_FUTURE_SECONDS - 1));
    refused(&g, &before, r, "future_index");
    // A stricter phone.
    let mut cfg = FollowerConfig::new(c.trusted(), c.region.clone());
    cfg.max_age_seconds = 60;
    let mut g = KeyFollower::new(cfg);
    let r = g.handle_index(&idx, t(at + 61));
    refused(&g, &before, r, "stale_index");
}

#[test]
fn wrong_region_is_refused() {
    let mut c = Chain::new(13);
    c.publish(1);
    let mut f = KeyFollower::new(FollowerConfig::new(c.trusted(), Region::new("TH").unwrap()));
    let before = *f.state();
    let r = f.handle_index(&c.index(1..=1, c.now()), t(c.now()));
    refused(&f, &before, r, "wrong_region");
    // A TH batch listed by a VN index.
    let mut c = Chain::new(14);
    c.region = Region::new("TH").unwrap();
    c.publish(1);
    let idx = Index {
        region: Region::new("VN").unwrap(),
        generated_at: t(c.now()),
        entries: vec![entry(c.header(1))],
    }
    .sign(&c.key)
    .unwrap();
    let mut f = KeyFollower::new(FollowerConfig::new(c.trusted(), Region::new("VN").unwrap()));
    f.handle_index(&idx, t(c.now())).unwrap();
    let before = *f.state();
    let r = f.handle_batch(c.batch(1), t(c.now()));
    refused(&f, &before, r.map(|_| ()), "wrong_region");
}

#[test]
fn wrong_signer_is_refused() {
    let mut c = Chain::new(15);
    c.publish(1);
    let other = Chain::new(16);
    let mut f = KeyFollower::new(FollowerConfig::new(other.trusted(), c.region.clone()));
    let before = *f.state();
    let r = f.handle_index(&c.index(1..=1, c.now()), t(c.now()));
    refused(&f, &before, r, "unknown_export_key");
    let mut idx = c.index(1..=1, c.now());
    let n = idx.len();
    idx[n - 1] ^= 1;
    let mut f = follower(&c);
    let r = f.handle_index(&idx, t(c.now()));
    refused(&f, &before, r, "bad_signature");
    let r = f.handle_config(&other.config(c.now()), t(c.now()));
    refused(&f, &before, r, "unknown_export_key");
}

#[test]
fn batches_not_asked_for_are_refused() {
    let mut c = Chain::new(17);
    c.publish(3);
    let mut f = follower(&c);
    let before = *f.state();
    let r = f.handle_batch(c.batch(1), t(c.now()));
    refused(&f, &before, r.map(|_| ()), "usage");
    f.handle_index(&c.index(1..=3, c.now()), t(c.now()))
        .unwrap();
    assert_eq!(f.poll_fetch().unwrap().sequence, 1);
    let before = *f.state();
    let r = f.handle_batch(c.batch(2), t(c.now()));
    refused(&f, &before, r.map(|_| ()), "unexpected_batch");
    let mut bad = c.batch(1).to_vec();
    bad[40] ^= 1;
    let r = f.handle_batch(&bad, t(c.now()));
    refused(&f, &before, r.map(|_| ()), "batch_hash_mismatch");
    let r = f.handle_batch(&c.batch(1)[..10], t(c.now()));
    refused(&f, &before, r.map(|_| ()), "batch_hash_mismatch");
    assert_eq!(fetch_all(&mut f, &c, c.now()).len(), 3);
}

#[test]
fn index_that_lies_about_a_sequence_is_refused() {
    let mut c = Chain::new(18);
    c.publish(2);
    // Batch 2's bytes listed as batch 1.
    let mut e = entry(c.header(2));
    e.sequence = 1;
    let idx = Index {
        region: c.region.clone(),
        generated_at: t(c.now()),
        entries: vec![e],
    }
    .sign(&c.key)
    .unwrap();
    let mut f = follower(&c);
    f.handle_index(&idx, t(c.now())).unwrap();
    let before = *f.state();
    let r = f.handle_batch(c.batch(2), t(c.now()));
    refused(&f, &before, r.map(|_| ()), "unexpected_batch");
}

#[test]
fn first_batch_must_start_the_chain_and_future_batches_are_refused() {
    let mut c = Chain::new(19);
    c.publish(1);
    let mut f = follower(&c);
    f.handle_index(&c.index(1..=1, c.now()), t(c.now()))
        .unwrap();
    let before = *f.state();
    // The batch's window ends more than the skew allowance after the phone's clock.
    let early = c.now() - DEFAULT_MAX_FUTURE_SECONDS - 1;
    let r = f.handle_batch(c.batch(1), t(early));
    refused(&f, &before, r.map(|_| ()), "future_batch");
    // Sequence 1 with a non-zero previous hash.
    let mut c = Chain::new(20);
    c.publish(1);
    let mut h = c.batches[0].0.clone();
    let keys = SignedBatch::decode(&c.batches[0].1)
        .unwrap()
        .verify(&c.trusted())
        .unwrap()
        .keys()
        .to_vec();
    c.batches.clear();
    h.prev_hash = [9; 32];
    let bytes = en_protocol::wire::batch::Batch {
        region: h.region.clone(),
        sequence: 1,
        window_start: h.window_start,
        window_end: h.window_end,
        prev_hash: h.prev_hash,
        keys,
    }
    .sign(&c.key)
    .unwrap();
    let header = SignedBatch::decode(&bytes).unwrap().header().clone();
    c.batches.push((header, bytes));
    let mut f = follower(&c);
    f.handle_index(&c.index(1..=1, c.now()), t(c.now()))
        .unwrap();
    let before = *f.state();
    let r = f.handle_batch(c.batch(1), t(c.now()));
    refused(&f, &before, r.map(|_| ()), "broken_chain");
}

#[test]
fn sequence_u64_max_ends_the_chain_without_overflow() {
    let mut c = Chain::new(21);
    let keys = c.random_keys(1, T0 / 86_400);
    c.publish_with(keys, u64::MAX - 1);
    c.publish(1);
    assert_eq!(c.header(u64::MAX).sequence, u64::MAX);
    let mut f = follower(&c);
    f.handle_index(&c.index([u64::MAX - 1, u64::MAX], c.now()), t(c.now()))
        .unwrap();
    assert_eq!(
        fetch_all(&mut f, &c, c.now()),
        vec![(u64::MAX - 1, true), (u64::MAX, false)]
    );
    let before = *f.state();
    let r = f.handle_index(&c.index([u64::MAX], c.now()), t(c.now()));
    refused(&f, &before, r, "sequence_overflow");
    // The chain rule itself: nothing follows u64::MAX.
    let last: &BatchHeader = c.header(u64::MAX);
    assert!(last.check_follows(last).is_err());
}

#[test]
fn risk_configuration_freshness_and_rollback() {
    let mut c = Chain::new(22);
    c.publish(1);
    let now = c.now();
    let mut f = follower(&c);
    let v = f.handle_config(&c.config(now - 3600), t(now)).unwrap();
    assert_eq!(v.config().issued_at, t(now - 3600));
    assert_eq!(f.state().config_issued_at, Some(t(now - 3600)));
    let before = *f.state();
    let r = f.handle_config(&c.config(now - 7200), t(now));
    refused(&f, &before, r.map(|_| ()), "config_rollback");
    let r = f.handle_config(&c.config(now - DEFAULT_MAX_AGE_SECONDS - 1), t(now));
    refused(&f, &before, r.map(|_| ()), "stale_config");
    let r = f.handle_config(&c.config(now + DEFAULT_MAX_FUTURE_SECONDS + 1), t(now));
    refused(&f, &before, r.map(|_| ()), "future_config");
    f.handle_config(&c.config(now), t(now)).unwrap();
    assert_eq!(f.state().config_issued_at, Some(t(now)));
}

/// A second chain kind, as venue traces will be: here key batches under another index magic
/// and context, to show the follower is generic and indexes do not cross chains.
struct OtherChain;
impl ChainFormat for OtherChain {
    const INDEX: IndexFormat = IndexFormat::new("test index", *b"ENXI", b"en/v1/test-index");
    type Verified = VerifiedBatch;
    fn decode_verify(bytes: &[u8], trusted: &ExportKeys) -> Result<VerifiedBatch, Error> {
        KeyBatches::decode_verify(bytes, trusted)
    }
    fn header(b: &VerifiedBatch) -> &BatchHeader {
        b.header()
    }
}

#[test]
fn a_second_chain_kind_has_its_own_index() {
    let mut c = Chain::new(23);
    c.publish(2);
    let cfg = FollowerConfig::new(c.trusted(), c.region.clone());
    let mut f = ChainFollower::<OtherChain>::new(cfg);
    let key_index = c.index(1..=2, c.now());
    assert_eq!(
        f.handle_index(&key_index, t(c.now())).unwrap_err().code(),
        "bad_magic"
    );
    let idx = Index {
        region: c.region.clone(),
        generated_at: t(c.now()),
        entries: vec![entry(c.header(1)), entry(c.header(2))],
    }
    .sign_as(&OtherChain::INDEX, &c.key)
    .unwrap();
    f.handle_index(&idx, t(c.now())).unwrap();
    while let Some(e) = f.poll_fetch() {
        let seq = e.sequence;
        f.handle_batch(c.batch(seq), t(c.now())).unwrap();
    }
    assert_eq!(f.head().unwrap().sequence, 2);
    // And the key follower refuses the other chain's index.
    let mut k = follower(&c);
    assert_eq!(
        k.handle_index(&idx, t(c.now())).unwrap_err().code(),
        "bad_magic"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Arbitrary bytes, or valid messages with one byte changed, in any order and at any
    /// time, never make the follower panic, and a refusal changes nothing.
    #[test]
    fn never_panics(ops in proptest::collection::vec((0u8..4, any::<u64>(), proptest::collection::vec(any::<u8>(), 0..300), any::<usize>(), any::<u8>()), 1..12)) {
        let mut c = Chain::new(24);
        c.publish(3);
        let valid = [c.index(1..=3, c.now()), c.batch(1).to_vec(), c.batch(2).to_vec(), c.config(c.now())];
        let mut f = follower(&c);
        for (op, now, junk, at, x) in ops {
            let mut bytes = if junk.len() % 3 == 0 { junk } else { valid[usize::from(op)].clone() };
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] ^= x;
            }
            let now = t(if now % 2 == 0 { c.now() } else { now });
            let before = *f.state();
            let pending = f.poll_fetch().cloned();
            let r = match op {
                0 => f.handle_index(&bytes, now).map(|_| ()),
                1 | 2 => f.handle_batch(&bytes, now).map(|_| ()),
                _ => f.handle_config(&bytes, now).map(|_| ()),
            };
            if r.is_err() {
                prop_assert_eq!(f.state(), &before);
                prop_assert_eq!(f.poll_fetch(), pending.as_ref());
            }
            if x == 0 {
                let _ = f.resync_from_index();
            }
        }
    }
}
