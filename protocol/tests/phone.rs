//! The phone end to end, with no network: two phones meet, one tests positive, its keys are
//! published in a signed batch, and the other phone follows the chain, matches, scores and
//! notifies; its state survives an encode/decode round trip byte for byte.

mod common;

use common::{hear, Chain, T0};
use en_protocol::matching::Scan;
use en_protocol::phone::{FollowerConfig, Phone, STATE_MAGIC};
use en_protocol::validate::to_diagnosis_keys;
use en_protocol::wire::config::RiskConfig;
use en_protocol::wire::key::DiagnosisKey;
use en_protocol::wire::{Region, ReportType};
use en_protocol::{IntervalNumber, UnixTime};
use proptest::prelude::*;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

const DAY: u64 = 86_400;

fn config(c: &Chain) -> FollowerConfig {
    FollowerConfig::new(c.trusted(), c.region.clone())
}

/// Alice hears Bob for 30 minutes (6 sightings, 5 minutes apart, at -60 dBm: 50 dB of
/// attenuation) and hears `noise` random others; Bob tests positive and the server publishes
/// his keys in batch 2. Returns Alice before she syncs, the chain, and the time.
fn world(noise: usize) -> (Phone, Chain, u64) {
    let (alice, chain, now, _) = world_typed(noise, ReportType::ConfirmedTest);
    (alice, chain, now)
}

/// [`world`] with Bob's keys published as `report_type`; also returns Bob's keys re-typed
/// by a function the caller uses to publish revisions.
fn world_typed(
    noise: usize,
    report_type: ReportType,
) -> (Phone, Chain, u64, impl Fn(ReportType) -> Vec<DiagnosisKey>) {
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let mut chain = Chain::new(98);
    let mut alice = Phone::new(config(&chain));
    let mut bob = Phone::new(config(&chain));
    let meet = T0 + 3600;
    alice.handle_timeout(UnixTime(meet), &mut rng);
    bob.handle_timeout(UnixTime(meet), &mut rng);
    hear(&mut alice, &mut bob, UnixTime(meet), 6, -60, &mut rng);
    for i in 0..noise {
        let mut rpi = [0u8; 16];
        rng.fill_bytes(&mut rpi);
        alice
            .record_scan(Scan {
                rpi,
                aem: [1, 2, 3, 4],
                time: UnixTime(meet - 3600 * 20 + (i as u64 * 97) % (20 * 3600)),
                rssi: -80,
                seconds: 240,
            })
            .unwrap();
    }
    let now = UnixTime(meet + 7200);
    let uploaded = bob.upload_keys(now);
    assert_eq!(uploaded.len(), 1);
    let onset = Some(IntervalNumber((meet / DAY * 144) as u32));
    chain.publish(1);
    let mut keys = to_diagnosis_keys(&uploaded, report_type, onset);
    keys.extend(chain.random_keys(20, meet / DAY));
    chain.publish_with(keys, 1);
    let now = now.0.max(chain.now());
    let retype = move |t| to_diagnosis_keys(&uploaded, t, onset);
    (alice, chain, now, retype)
}

fn sync(
    phone: &mut Phone,
    chain: &Chain,
    first: u64,
    now: u64,
) -> Vec<en_protocol::phone::BatchMatch> {
    let last = chain.batches.last().unwrap().0.sequence;
    phone
        .handle_config(&chain.config(now), UnixTime(now))
        .unwrap();
    phone
        .handle_index(&chain.index(first..=last, now), UnixTime(now))
        .unwrap();
    let mut out = Vec::new();
    while let Some(e) = phone.poll_fetch() {
        let seq = e.sequence;
        out.push(phone.handle_batch(chain.batch(seq), UnixTime(now)).unwrap());
    }
    out
}

#[test]
fn contact_is_matched_scored_and_notified() {
    let (mut alice, chain, now) = world(200);
    let matches = sync(&mut alice, &chain, 1, now);
    assert_eq!(matches.len(), 2);
    assert_eq!((matches[0].hits, matches[0].on_trust), (0, true));
    let m = &matches[1];
    assert_eq!((m.sequence, m.keys, m.hits, m.windows), (2, 21, 6, 1));
    assert!(!m.on_trust);
    let day = (T0 + 3600) / DAY;
    assert_eq!(m.days, vec![day]);
    let e = &alice.exposures()[0];
    // 6 sightings x 300 s x 1.5 (50 dB: immediate) x 1.0 (confirmed) x 2.0 (onset today: high).
    assert_eq!(e.score_sum, 6.0 * 300.0 * 1.5 * 2.0);
    assert_eq!((e.day, e.windows, e.newest_batch), (day, 1, 2));
    assert_eq!(e.report_types, vec![ReportType::ConfirmedTest]);
    assert_eq!(alice.notify_days(), vec![day]);
}

#[test]
fn a_revised_key_replaces_its_earlier_metadata_and_a_revoked_key_cancels() {
    let (mut alice, mut chain, now, retype) = world_typed(50, ReportType::SelfReport);
    sync(&mut alice, &chain, 1, now);
    let day = (T0 + 3600) / DAY;
    // 6 sightings x 300 s x 1.5 (immediate) x 2.0 (onset today) x the self-report weight.
    let base = 6.0 * 300.0 * 1.5 * 2.0;
    let w = |i: usize| f64::from(RiskConfig::default().report_type_weights[i]) / 100.0;
    let e = alice.exposures()[0].clone();
    assert_eq!((e.day, e.windows), (day, 1));
    assert_eq!(e.score_sum, base * w(2));
    assert_eq!(e.report_types, vec![ReportType::SelfReport]);
    assert_eq!(alice.cause(day), Some(ReportType::SelfReport));
    assert_eq!(alice.matched_keys().len(), 1);

    // Revised to confirmed in batch 3: replaced, not added to.
    let mut keys = retype(ReportType::ConfirmedTest);
    keys.extend(chain.random_keys(5, day));
    chain.publish_with(keys, 1);
    let now = now.max(chain.now());
    let m = sync(&mut alice, &chain, 3, now);
    assert_eq!(m.last().unwrap().days, vec![day]);
    let e = alice.exposures()[0].clone();
    assert_eq!((e.day, e.windows, e.newest_batch), (day, 1, 3));
    assert_eq!(e.score_sum, base * w(0));
    assert_eq!(e.report_types, vec![ReportType::ConfirmedTest]);
    assert_eq!(alice.cause(day), Some(ReportType::ConfirmedTest));
    assert_eq!(alice.notify_days(), vec![day]);
    assert_eq!(
        alice.matched_keys()[0].meta.report_type,
        ReportType::ConfirmedTest
    );

    // The phone restarts: what each key contributed is remembered.
    let bytes = alice.encode();
    let mut alice = Phone::decode(&bytes, config(&chain)).unwrap();
    assert_eq!(alice.encode(), bytes);
    assert_eq!(alice.cause(day), Some(ReportType::ConfirmedTest));

    // Revoked in batch 4: the exposure and its notification disappear.
    chain.publish_with(retype(ReportType::Revoked), 1);
    let now = now.max(chain.now());
    let m = sync(&mut alice, &chain, 4, now);
    assert_eq!(m.last().unwrap().days, vec![day]);
    assert!(alice.exposures().is_empty());
    assert!(alice.notify_days().is_empty());
    assert_eq!(alice.cause(day), None);
    assert!(alice.matched_keys().is_empty());
}

#[test]
fn state_round_trips_byte_for_byte_and_continues() {
    let (mut alice, mut chain, now) = world(300);
    sync(&mut alice, &chain, 1, now);
    let bytes = alice.encode();
    assert_eq!(&bytes[..4], STATE_MAGIC);
    let mut back = Phone::decode(&bytes, config(&chain)).unwrap();
    assert_eq!(back.encode(), bytes);
    assert_eq!(back.exposures(), alice.exposures());
    assert_eq!(back.follower().state(), alice.follower().state());
    assert_eq!(back.risk_config(), alice.risk_config());
    assert_eq!(back.scans().len(), alice.scans().len());
    assert!(back.keys().iter().eq(alice.keys().iter()));
    // The restored phone continues the chain from its stored head.
    chain.publish(1);
    let later = chain.now().max(now);
    let m = sync(&mut back, &chain, 2, later);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].sequence, 3);
    assert!(!m[0].on_trust);
    // Scans recorded out of order encode the same as in order.
    let mut shuffled = Phone::new(config(&chain));
    let mut scans = alice.scans().scans().to_vec();
    scans.reverse();
    for s in scans {
        shuffled.record_scan(s).unwrap();
    }
    let mut sorted = Phone::new(config(&chain));
    let mut scans = alice.scans().scans().to_vec();
    scans.sort_by_key(|s| (s.time, s.rpi));
    for s in scans {
        sorted.record_scan(s).unwrap();
    }
    assert_eq!(shuffled.encode(), sorted.encode());
}

#[test]
fn state_of_another_region_is_refused() {
    let (alice, chain, _) = world(0);
    let mut th = config(&chain);
    th.region = Region::new("TH").unwrap();
    assert_eq!(
        Phone::decode(&alice.encode(), th).unwrap_err().code(),
        "usage"
    );
}

#[test]
fn after_fourteen_days_everything_is_pruned() {
    let (mut alice, chain, now) = world(50);
    sync(&mut alice, &chain, 1, now);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let later = UnixTime(now + 15 * DAY);
    assert_eq!(
        alice.poll_timeout(UnixTime(now)),
        UnixTime((now / DAY + 1) * DAY)
    );
    alice.handle_timeout(later, &mut rng);
    assert!(alice.scans().is_empty());
    assert!(alice.exposures().is_empty());
    assert_eq!(alice.keys().len(), 1, "only the new day's key is left");
    assert!(
        alice.follower().head().is_some(),
        "the head is never pruned"
    );
}

#[test]
fn debug_never_prints_keys() {
    let (alice, _, now) = world(0);
    let printed = format!("{alice:?}");
    let upload = alice.upload_keys(UnixTime(now));
    let hex = en_protocol::hex::encode(upload[0].key.as_bytes());
    assert!(!printed.contains(&hex[..8]), "{printed}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Arbitrary bytes, or a valid state with one byte changed, never make the decoder
    /// panic, and whatever decodes re-encodes to the same bytes.
    #[test]
    fn decode_is_strict_and_canonical(junk in proptest::collection::vec(any::<u8>(), 0..400), at in any::<usize>(), x in any::<u8>(), use_valid in any::<bool>()) {
        let chain = Chain::new(7);
        let bytes = if use_valid {
            let (mut alice, chain, now) = world(3);
            sync(&mut alice, &chain, 1, now);
            let mut b = alice.encode().to_vec();
            let i = at % b.len();
            b[i] ^= x;
            b
        } else {
            let mut b = STATE_MAGIC.to_vec();
            b.push(1);
            b.extend(junk);
            b
        };
        match Phone::decode(&bytes, config(&chain)) {
            Ok(p) => prop_assert_eq!(p.encode().to_vec(), bytes),
            Err(e) => prop_assert!(!(use_valid && x == 0), "a valid state was refused: {}", e),
        }
    }
}

/// A traveller: Alice (home VN) meets Bob in TH; Bob's keys are published only in TH's chain.
/// Following TH as a visited region, Alice matches them; her state keeps both chains' heads
/// across encode/decode; TH is dropped 14 days after her last visit there.
#[test]
fn a_visited_region_is_followed_matched_persisted_and_dropped() {
    let (mut alice, home, now) = world(10);
    // A second server, region TH, with its own export key, publishes Bob's keys: reuse the
    // home world's batches re-signed as TH's chain.
    let mut th = Chain::new(97);
    th.region = Region::new("TH").unwrap();
    for (h, bytes) in &home.batches {
        let b = en_protocol::wire::batch::SignedBatch::decode(bytes).unwrap();
        let keys = b.verify(&home.trusted()).unwrap().keys().to_vec();
        th.publish_with(keys, h.sequence);
    }
    let th_config = FollowerConfig::new(th.trusted(), th.region.clone());
    // Not followed yet: refused, nothing changes.
    let index = th.index(1..=2, now);
    assert_eq!(
        alice
            .handle_index_of(&th.region, &index, UnixTime(now))
            .unwrap_err()
            .code(),
        "usage"
    );
    alice.visit_region(th_config.clone(), UnixTime(T0)).unwrap();
    assert_eq!(
        alice.followed_regions(),
        vec![&Region::new("VN").unwrap(), &th.region]
    );
    // TH's index signed by TH's key verifies only in TH's follower.
    assert!(alice.handle_index(&index, UnixTime(now)).is_err());
    alice
        .handle_index_of(&th.region, &index, UnixTime(now))
        .unwrap();
    let mut hits = 0;
    while let Some(e) = alice.poll_fetch_of(&th.region) {
        let seq = e.sequence;
        let m = alice
            .handle_batch_of(&th.region, th.batch(seq), UnixTime(now))
            .unwrap();
        assert_eq!(m.region, th.region);
        hits += m.hits;
    }
    assert_eq!(hits, 6);
    let day = (T0 + 3600) / DAY;
    assert_eq!(alice.notify_days(), vec![day]);
    assert!(alice.follower().head().is_none(), "home chain untouched");

    // Stored with both chains; decoding needs TH's configuration.
    let bytes = alice.encode();
    assert_eq!(bytes[4], en_protocol::phone::STATE_VERSION);
    assert_eq!(
        Phone::decode(&bytes, config(&home)).unwrap_err().code(),
        "usage"
    );
    let back = Phone::decode_with(&bytes, config(&home), std::slice::from_ref(&th_config)).unwrap();
    assert_eq!(back.encode(), bytes);
    assert_eq!(
        back.follower_of(&th.region).unwrap().state(),
        alice.follower_of(&th.region).unwrap().state()
    );
    assert_eq!(back.visited_regions().next(), Some((&th.region, T0 / DAY)));

    // 14 days after the visit TH is still followed; the day after, it is dropped.
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    alice.handle_timeout(UnixTime(T0 + 14 * DAY), &mut rng);
    assert_eq!(alice.followed_regions().len(), 2);
    alice.handle_timeout(UnixTime(T0 + 15 * DAY), &mut rng);
    assert_eq!(alice.followed_regions().len(), 1);
    assert!(alice.poll_fetch_of(&th.region).is_none());
}
