//! Venue check-in: the end-to-end sans-IO flow, the properties the design promises (a key for
//! the wrong venue or hour never matches, neither share alone traces, the authority refuses
//! keys that fail the pairing check, crafted traces never panic a phone), and round trips of
//! every format (proptest).

use std::collections::BTreeMap;

use en_protocol::keys::SigningKey;
use en_protocol::time::UnixTime;
use en_protocol::venue::{
    self, context, fake_trace, match_entries, try_match, CheckInRecord, CheckInStore, EntryPayload,
    Hour, SealingSecretKey, SignedTraceBatch, SignedTraceReport, TraceBatch, TraceEntry,
    TraceReport, TraceRequest, TracingSecret, VisitTracker,
};
use en_protocol::verify::{AuthorityInfo, ExportKeys};
use en_protocol::wire::batch::GENESIS_HASH;
use en_protocol::wire::{AuthorityId, Region};
use en_protocol::Error;
use proptest::prelude::*;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// 2026-01-01 00:00 UTC.
const DAY: u64 = 1_767_225_600;
const MESSAGE: &str = "Bạn đã đến nơi có ca bệnh. Hãy gọi 1900 9095.";

fn at(hour: u64, minute: u64) -> UnixTime {
    UnixTime(DAY + hour * 3600 + minute * 60)
}

struct World {
    rng: ChaCha20Rng,
    sealing: SealingSecretKey,
    authority: SigningKey,
    export: SigningKey,
}

impl World {
    fn new(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        World {
            sealing: SealingSecretKey::generate(&mut rng),
            authority: SigningKey::generate(&mut rng),
            export: SigningKey::generate(&mut rng),
            rng,
        }
    }
    fn venue(&mut self, name: &str) -> (EntryPayload, TracingSecret) {
        venue::setup(
            &mut self.rng,
            name,
            "1 Example St",
            &self.sealing.public_key(),
        )
        .unwrap()
    }
    fn registry(&self) -> BTreeMap<AuthorityId, AuthorityInfo> {
        let mut m = BTreeMap::new();
        m.insert(
            AuthorityId::new("moh.vn").unwrap(),
            AuthorityInfo {
                public_key: self.authority.public_key(),
                region: Some(Region::new("VN").unwrap()),
                revoked: false,
            },
        );
        m
    }
    /// Owner → authority → signed report → server-verified entries.
    fn trace(&mut self, secret: &TracingSecret, hours: &[Hour], now: UnixTime) -> Vec<TraceEntry> {
        let checked = secret
            .trace_request(hours)
            .unwrap()
            .open(&self.sealing, now)
            .unwrap();
        let report = TraceReport::new(
            &checked,
            MESSAGE,
            AuthorityId::new("moh.vn").unwrap(),
            Region::new("VN").unwrap(),
            now,
            [9; 16],
            &mut self.rng,
        )
        .unwrap();
        let bytes = report.sign(&self.authority).unwrap();
        let verified = SignedTraceReport::decode(&bytes)
            .unwrap()
            .verify(&self.registry())
            .unwrap();
        verified.report().entries().to_vec()
    }
    fn batch(&mut self, entries: Vec<TraceEntry>, fakes: usize) -> Vec<u8> {
        let mut entries = entries;
        for _ in 0..fakes {
            let h = Hour::containing(at(8 + self.rng.next_u64() % 12, 0));
            entries.push(fake_trace(&mut self.rng, h));
        }
        TraceBatch {
            region: Region::new("VN").unwrap(),
            sequence: 1,
            window_start: UnixTime(DAY + 86_400),
            window_end: UnixTime(DAY + 2 * 86_400),
            prev_hash: GENESIS_HASH,
            entries,
        }
        .sign(&self.export)
        .unwrap()
    }
    fn export_keys(&self) -> ExportKeys {
        self.export.public_key().into()
    }
}

fn now() -> UnixTime {
    UnixTime(DAY + 86_400 + 3600)
}

#[test]
fn end_to_end_only_phones_present_in_the_traced_hour_match() {
    let mut w = World::new(1);
    let (cafe, cafe_secret) = w.venue("Café Lâm");
    let url = cafe.to_url("venue.example").unwrap();
    assert!(url.len() < 400, "{}", url.len());
    // Three phones scan the door's QR code: 09:05-09:50, 10:30-11:10, 13:00-13:40.
    let visits = [
        (at(9, 5), at(9, 50)),
        (at(10, 30), at(11, 10)),
        (at(13, 0), at(13, 40)),
    ];
    let mut phones: Vec<CheckInStore> = Vec::new();
    for (arrive, leave) in visits {
        let mut tracker = VisitTracker::new();
        let scanned = EntryPayload::from_url(&url, "venue.example").unwrap();
        let s = tracker
            .handle_scan(
                scanned.clone(),
                arrive,
                venue::visit::DEFAULT_VISIT_SECONDS,
                &mut w.rng,
            )
            .unwrap();
        assert!(s.checked_in && s.closed.is_empty());
        assert_eq!(tracker.poll_timeout(), Some(arrive.plus(7200)));
        // Re-scanning the same code checks out.
        let s = tracker
            .handle_scan(scanned, leave, 7200, &mut w.rng)
            .unwrap();
        assert!(!s.checked_in);
        assert!(tracker.current().is_none());
        let mut store = CheckInStore::new();
        assert_eq!(store.insert(s.closed), 0);
        // The persisted store round-trips.
        let store = CheckInStore::decode(&store.encode()).unwrap();
        phones.push(store);
    }
    assert_eq!(
        phones.iter().map(CheckInStore::len).collect::<Vec<_>>(),
        [1, 2, 1]
    );
    // The owner traces 10:00-11:00 only.
    let entries = w.trace(&cafe_secret, &[Hour::containing(at(10, 0))], now());
    assert_eq!(entries.len(), 1);
    let bytes = w.batch(entries, 200);
    let batch = SignedTraceBatch::decode(&bytes)
        .unwrap()
        .verify(&w.export_keys())
        .unwrap();
    batch.check_keys().unwrap();
    let found: Vec<_> = phones.iter().map(|p| p.match_batch(&batch)).collect();
    assert!(found[0].notifications.is_empty());
    assert!(found[2].notifications.is_empty());
    assert_eq!(found[1].notifications.len(), 1);
    let n = &found[1].notifications[0];
    assert_eq!(n.hour, Hour::containing(at(10, 0)));
    assert_eq!((n.arrival, n.departure), visits[1]);
    assert_eq!(n.overlap_seconds, 30 * 60);
    assert_eq!(n.message.as_deref(), Some(MESSAGE));
    assert!(found.iter().all(|f| f.invalid_keys == 0));
}

#[test]
fn keys_for_another_venue_or_hour_never_match() {
    let mut w = World::new(2);
    let (v, v_secret) = w.venue("V");
    let (_, u_secret) = w.venue("U");
    let mut store = CheckInStore::new();
    store
        .insert_visit(&v, at(9, 10), at(9, 50), &mut w.rng)
        .unwrap();
    let rec = &store.records()[0];
    let (h9, h10) = (Hour::containing(at(9, 0)), Hour::containing(at(10, 0)));
    // Venue U, same hour: another venue's key.
    let other_venue = w.trace(&u_secret, &[h9], now());
    // Venue V, the next hour, and the same key relabelled as 09:00 and with the tag forced.
    let next_hour = w.trace(&v_secret, &[h10], now());
    let mut relabelled = next_hour[0].encode();
    relabelled[..4].copy_from_slice(&h9.0.to_be_bytes());
    relabelled[4 + 32 + 48] = rec.tag();
    let relabelled = TraceEntry::decode(&relabelled).unwrap();
    // U's key with U's id, relabelled to V's tag.
    let mut u_tagged = other_venue[0].encode();
    u_tagged[4 + 32 + 48] = rec.tag();
    let u_tagged = TraceEntry::decode(&u_tagged).unwrap();
    // V's right key for 09:00 under the id of 10:00.
    let right = w.trace(&v_secret, &[h9], now());
    let mut wrong_id = right[0].encode();
    wrong_id[4..36].copy_from_slice(next_hour[0].id());
    let wrong_id = TraceEntry::decode(&wrong_id).unwrap();
    for (e, code) in [
        (&other_venue[0], "decryption_failed"),
        (&u_tagged, "decryption_failed"),
        (&next_hour[0], "no_overlap"),
        (&relabelled, "decryption_failed"),
        (&wrong_id, "decryption_failed"),
    ] {
        assert_eq!(try_match(rec, e).unwrap_err().code(), code, "{e:?}");
        assert!(match_entries(&store, std::slice::from_ref(e))
            .notifications
            .is_empty());
    }
    assert!(try_match(rec, &right[0]).is_ok());
}

#[test]
fn the_authority_refuses_partial_keys_that_fail_the_pairing_check() {
    let mut w = World::new(3);
    let (_, v_secret) = w.venue("V");
    let (_, u_secret) = w.venue("U");
    let hours = [Hour::containing(at(9, 0)), Hour::containing(at(10, 0))];
    let good = v_secret.trace_request(&hours).unwrap();
    assert!(good.open(&w.sealing, now()).is_ok());
    let b = good.encode();
    let keys_at = b.len() - 2 * 52;
    // The two hours' partial keys swapped: each is V's, but for the other hour.
    let mut swapped = b.clone();
    swapped[keys_at + 4..keys_at + 52].copy_from_slice(&b[keys_at + 56..keys_at + 104]);
    swapped[keys_at + 56..keys_at + 104].copy_from_slice(&b[keys_at + 4..keys_at + 52]);
    // U's owner's partial keys for the same hours under V's payload and sealed share.
    let u = u_secret.trace_request(&hours).unwrap().encode();
    let mut foreign = b.clone();
    foreign[keys_at..].copy_from_slice(&u[u.len() - 2 * 52..]);
    for bad in [swapped, foreign] {
        let req = TraceRequest::decode(&bad).unwrap();
        assert_eq!(
            req.open(&w.sealing, now()).unwrap_err().code(),
            "venue_key_mismatch"
        );
    }
    // Another authority cannot open the sealed share.
    let other = SealingSecretKey::generate(&mut w.rng);
    assert_eq!(
        good.open(&other, now()).unwrap_err().code(),
        "sealed_share_invalid"
    );
    // Hours outside the retention window.
    assert_eq!(
        good.open(&w.sealing, at(8, 0)).unwrap_err().code(),
        "trace_hour_out_of_range"
    );
    assert_eq!(
        good.open(&w.sealing, UnixTime(DAY + 15 * 86_400))
            .unwrap_err()
            .code(),
        "trace_hour_out_of_range"
    );
}

#[test]
fn the_owners_partial_key_alone_decrypts_nothing() {
    let mut w = World::new(4);
    let (v, v_secret) = w.venue("V");
    let mut store = CheckInStore::new();
    store
        .insert_visit(&v, at(9, 0), at(9, 30), &mut w.rng)
        .unwrap();
    let h = Hour::containing(at(9, 0));
    let req = v_secret.trace_request(&[h]).unwrap().encode();
    let psk = &req[req.len() - 48..];
    let real = w.trace(&v_secret, &[h], now());
    let mut e = real[0].encode();
    e[36..84].copy_from_slice(psk);
    let owner_only = TraceEntry::decode(&e).unwrap();
    assert_eq!(
        try_match(&store.records()[0], &owner_only)
            .unwrap_err()
            .code(),
        "decryption_failed"
    );
    assert!(try_match(&store.records()[0], &real[0]).is_ok());
}

#[test]
fn visits_close_on_rescan_other_code_and_timeout() {
    let mut w = World::new(5);
    let (a, _) = w.venue("A");
    let (b, _) = w.venue("B");
    let mut t = VisitTracker::new();
    assert_eq!(t.poll_timeout(), None);
    t.handle_scan(a.clone(), at(9, 0), 3600, &mut w.rng)
        .unwrap();
    // Another code: A closes at 09:40 (1 record), B opens.
    let s = t
        .handle_scan(b.clone(), at(9, 40), 1800, &mut w.rng)
        .unwrap();
    assert!(s.checked_in);
    assert_eq!(s.closed.len(), 1);
    assert_eq!(t.current().unwrap().payload(), &b);
    // Nothing before the deadline; at it, B closes at 10:10 (records for 09:00 and 10:00).
    assert!(t.handle_timeout(at(10, 9), &mut w.rng).is_empty());
    let closed = t.handle_timeout(at(11, 0), &mut w.rng);
    assert_eq!(closed.len(), 2);
    assert!(t.current().is_none());
    // A scan after a missed deadline closes the old visit at its deadline and opens anew.
    t.handle_scan(a.clone(), at(12, 0), 600, &mut w.rng)
        .unwrap();
    let s = t
        .handle_scan(a.clone(), at(15, 0), 600, &mut w.rng)
        .unwrap();
    assert!(
        s.checked_in,
        "the same code after the automatic check-out opens a new visit"
    );
    assert_eq!(s.closed.len(), 1);
    // A clock that went backwards still closes a visit, as one second.
    let r = t.handle_check_out(at(14, 0), &mut w.rng);
    assert_eq!(r.len(), 1);
    // Usage errors.
    assert_eq!(
        t.handle_scan(a, at(9, 0), 0, &mut w.rng)
            .unwrap_err()
            .code(),
        "usage"
    );
}

#[test]
fn the_store_prunes_after_14_days_and_finds_candidates() {
    let mut w = World::new(6);
    let (v, _) = w.venue("V");
    let mut store = CheckInStore::new();
    for d in 0..16 {
        let a = UnixTime(DAY + d * 86_400 + 9 * 3600);
        store.insert_visit(&v, a, a.plus(5400), &mut w.rng).unwrap();
    }
    assert_eq!(store.len(), 32);
    let now = UnixTime(DAY + 16 * 86_400);
    // Kept: hours at or after now - 14 days, i.e. days 2..=15.
    assert_eq!(store.prune(now), 4);
    assert_eq!(store.len(), 28);
    let h = Hour::containing(UnixTime(DAY + 5 * 86_400 + 9 * 3600));
    let c = store.candidates(h, v.tag(h.day()));
    assert_eq!(c.len(), 1);
    assert!(store.candidates(h, (v.tag(h.day()) + 1) % 16).is_empty());
}

#[test]
fn trace_batches_chain_like_key_batches() {
    let mut w = World::new(7);
    let b1 = w.batch(vec![], 3);
    let v1 = SignedTraceBatch::decode(&b1)
        .unwrap()
        .verify(&w.export_keys())
        .unwrap();
    let b2 = TraceBatch {
        region: Region::new("VN").unwrap(),
        sequence: 2,
        window_start: v1.header().window_end,
        window_end: v1.header().window_end.plus(86_400),
        prev_hash: v1.header().hash,
        entries: vec![],
    }
    .sign(&w.export)
    .unwrap();
    let v2 = SignedTraceBatch::decode(&b2)
        .unwrap()
        .verify(&w.export_keys())
        .unwrap();
    assert_eq!(v2.check_follows(v1.header()), Ok(()));
    assert!(v1.check_follows(v2.header()).is_err());
    // A trace batch never passes as a key batch, even with the key batch's magic: the
    // signature context differs.
    let mut as_key_batch = b1.clone();
    as_key_batch[..4].copy_from_slice(b"ENBA");
    let accepted = en_protocol::wire::batch::SignedBatch::decode(&as_key_batch)
        .ok()
        .and_then(|b| b.verify(&w.export_keys()).ok());
    assert!(accepted.is_none());
    assert_eq!(context::TRACE_BATCH, b"en/v1/trace-batch");
}

/// An encoding of a point on the curve outside the prime-order subgroup: the first small x
/// whose point is not torsion-free.
fn non_subgroup_g1() -> [u8; 48] {
    (0u8..=255)
        .find_map(|x| {
            let mut b = [0u8; 48];
            b[0] = 0x80;
            b[47] = x;
            let p =
                Option::<blstrs::G1Affine>::from(blstrs::G1Affine::from_compressed_unchecked(&b))?;
            (!bool::from(p.is_torsion_free())).then_some(b)
        })
        .expect("a small x on the curve")
}

/// A shared one-record store and that record's venue-hour key, for the crafted-entry tests.
fn fixture() -> &'static (CheckInStore, TraceEntry) {
    static F: std::sync::OnceLock<(CheckInStore, TraceEntry)> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let mut w = World::new(99);
        let (v, secret) = w.venue("V");
        let mut store = CheckInStore::new();
        store
            .insert_visit(&v, at(9, 0), at(9, 30), &mut w.rng)
            .unwrap();
        let real = w.trace(&secret, &[Hour::containing(at(9, 0))], now());
        (store, real[0].clone())
    })
}

fn assert_canonical<T, E>(bytes: &[u8], decoded: Result<T, E>, encode: impl Fn(&T) -> Vec<u8>) {
    if let Ok(x) = decoded {
        assert_eq!(encode(&x), bytes, "accepted input must be canonical");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn entry_payload_url_and_tracing_secret_round_trip(seed in any::<u64>(), d in "[^\\p{C}]{1,25}", a in "[^\\p{C}]{0,25}") {
        let mut w = World::new(seed);
        let (p, s) = venue::setup(&mut w.rng, &d, &a, &w.sealing.public_key()).unwrap();
        prop_assert_eq!(p.description(), d.as_str());
        prop_assert_eq!(p.address(), a.as_str());
        prop_assert_eq!(&EntryPayload::decode(p.encode()).unwrap(), &p);
        let url = p.to_url("venue.example:8443").unwrap();
        prop_assert_eq!(&EntryPayload::from_url(&url, "venue.example:8443").unwrap(), &p);
        prop_assert!(EntryPayload::from_url(&url, "other.example").is_err());
        let bytes = s.encode();
        let back = TracingSecret::decode(&bytes).unwrap();
        prop_assert_eq!(&back.encode()[..], &bytes[..]);
        prop_assert_eq!(back.payload(), &p);
        let h = [Hour::containing(at(9, 0))];
        prop_assert_eq!(back.trace_request(&h).unwrap(), s.trace_request(&h).unwrap());
    }

    #[test]
    fn check_in_store_round_trips(seed in any::<u64>(), visits in proptest::collection::vec((0u64..48 * 60, 1u64..600), 0..5)) {
        let mut w = World::new(seed);
        let (v, _) = w.venue("V");
        let mut store = CheckInStore::new();
        let mut hours = 0;
        for (start, minutes) in visits {
            let a = UnixTime(DAY + start * 60);
            let d = a.plus(minutes * 60);
            hours += (Hour::containing(d.minus(1)).0 - Hour::containing(a).0 + 1) as usize;
            store.insert_visit(&v, a, d, &mut w.rng).unwrap();
        }
        prop_assert_eq!(store.len(), hours);
        let bytes = store.encode();
        let back = CheckInStore::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &store);
        prop_assert_eq!(back.encode(), bytes);
        for r in store.records() {
            prop_assert_eq!(&CheckInRecord::decode(&r.encode()).unwrap(), r);
            prop_assert_eq!(r.tag(), v.tag(r.hour().day()));
        }
    }

    #[test]
    fn visit_state_round_trips(seed in any::<u64>(), ops in proptest::collection::vec((0u8..4, 1u64..300), 0..8)) {
        let mut w = World::new(seed);
        let (a, _) = w.venue("A");
        let (b, _) = w.venue("B");
        let mut t = VisitTracker::new();
        let mut now = at(8, 0);
        for (op, minutes) in ops {
            now = now.plus(minutes * 60);
            match op {
                0 => { t.handle_scan(a.clone(), now, 3600, &mut w.rng).unwrap(); }
                1 => { t.handle_scan(b.clone(), now, 7200, &mut w.rng).unwrap(); }
                2 => { t.handle_check_out(now, &mut w.rng); }
                _ => { t.handle_timeout(now, &mut w.rng); }
            }
            let bytes = t.encode();
            let back = VisitTracker::decode(&bytes).unwrap();
            prop_assert_eq!(&back, &t);
            prop_assert_eq!(back.encode(), bytes);
        }
    }

    #[test]
    fn trace_request_report_and_batch_round_trip(seed in any::<u64>(), hours in proptest::collection::btree_set(0u32..40, 1..5),
                                                 msg in "\\PC{0,60}", fakes in 0usize..12) {
        let mut w = World::new(seed);
        let (_, secret) = w.venue("V");
        let hours: Vec<Hour> = hours.into_iter().map(|h| Hour(Hour::containing(UnixTime(DAY)).0 + h)).collect();
        let req = secret.trace_request(&hours).unwrap();
        let bytes = req.encode();
        let back = TraceRequest::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &req);
        prop_assert_eq!(back.encode(), bytes);
        let checked = back.open(&w.sealing, UnixTime(DAY + 3 * 86_400)).unwrap();
        prop_assert_eq!(&checked.hours().collect::<Vec<_>>(), &hours);
        let report = TraceReport::new(&checked, &msg, AuthorityId::new("moh.vn").unwrap(), Region::new("VN").unwrap(),
            UnixTime(DAY + 3 * 86_400), [1; 16], &mut w.rng).unwrap();
        let rb = report.sign(&w.authority).unwrap();
        let signed = SignedTraceReport::decode(&rb).unwrap();
        prop_assert_eq!(signed.encode(), &rb[..]);
        let verified = signed.verify(&w.registry()).unwrap();
        prop_assert_eq!(verified.report(), &report);
        for e in report.entries() {
            prop_assert_eq!(&TraceEntry::decode(&e.encode()).unwrap(), e);
        }
        let bb = w.batch(report.entries().to_vec(), fakes);
        let v = SignedTraceBatch::decode(&bb).unwrap().verify(&w.export_keys()).unwrap();
        prop_assert_eq!(v.entries().len(), hours.len() + fakes);
        v.check_keys().unwrap();
        let again = TraceBatch { region: v.header().region.clone(), sequence: v.header().sequence,
            window_start: v.header().window_start, window_end: v.header().window_end, prev_hash: v.header().prev_hash,
            entries: v.entries().to_vec() }.sign(&w.export).unwrap();
        prop_assert_eq!(again, bb);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes, also behind each format's magic and version: decoders return errors,
    /// never panic, and accept only canonical input.
    #[test]
    fn decoders_never_panic(magic in 0usize..9, rest in proptest::collection::vec(any::<u8>(), 0..900)) {
        let magics: [&[u8]; 9] = [b"ENVQ\x01", b"ENVO\x01", b"ENVS\x01", b"ENVV\x01", b"ENVR\x01", b"ENTR\x01", b"ENTB\x01", b"", b"ENVS\x01\x00\x00\x00\x01"];
        let bytes = [magics[magic], &rest].concat();
        assert_canonical(&bytes, EntryPayload::decode(&bytes), |x| x.encode().to_vec());
        assert_canonical(&bytes, TracingSecret::decode(&bytes), |x| x.encode().to_vec());
        assert_canonical(&bytes, CheckInStore::decode(&bytes), CheckInStore::encode);
        assert_canonical(&bytes, VisitTracker::decode(&bytes), VisitTracker::encode);
        assert_canonical(&bytes, TraceRequest::decode(&bytes), TraceRequest::encode);
        assert_canonical(&bytes, SignedTraceReport::decode(&bytes), |x| x.encode().to_vec());
        assert_canonical(&bytes, SignedTraceBatch::decode(&bytes), |x| x.encode().to_vec());
        assert_canonical(&bytes, CheckInRecord::decode(&bytes), CheckInRecord::encode);
        assert_canonical(&bytes, TraceEntry::decode(&bytes), TraceEntry::encode);
        let text = String::from_utf8_lossy(&rest);
        let _ = EntryPayload::from_url(&format!("https://venue.example/v#{text}"), "venue.example");
    }

    /// Crafted trace entries for the record's hour and tag, with garbage, identity,
    /// non-subgroup, random valid or bit-flipped keys: decoding and matching never panic
    /// and never notify.
    #[test]
    fn crafted_trace_entries_never_panic(kind in 0u8..5, key in any::<[u8; 48]>(), id in any::<[u8; 32]>(), real_id in any::<bool>(),
                                         message in proptest::collection::vec(any::<u8>(), 284), bit in 0usize..384) {
        let (store, real) = fixture();
        let rec = &store.records()[0];
        let key: [u8; 48] = match kind {
            0 => key,
            1 => { let mut b = [0u8; 48]; b[0] = 0xc0; b }
            2 => non_subgroup_g1(),
            3 => { let mut r = ChaCha20Rng::from_seed([key[0]; 32]); fake_trace(&mut r, rec.hour()).key_bytes().to_owned() }
            _ => { let mut b = *real.key_bytes(); b[bit / 8] ^= 1 << (bit % 8); b }
        };
        let mut e = Vec::new();
        e.extend_from_slice(&rec.hour().0.to_be_bytes());
        e.extend_from_slice(if real_id { real.id() } else { &id });
        e.extend_from_slice(&key);
        e.push(rec.tag());
        e.extend_from_slice(&message);
        let Ok(entry) = TraceEntry::decode(&e) else { return Ok(()); };
        prop_assert!(try_match(rec, &entry).is_err());
        let found = match_entries(store, std::slice::from_ref(&entry));
        prop_assert!(found.notifications.is_empty());
        // Through a signed batch, as a phone receives it.
        let export = SigningKey::from_seed(&[5; 32]);
        let b = TraceBatch { region: Region::new("VN").unwrap(), sequence: 1, window_start: UnixTime(1), window_end: UnixTime(2),
            prev_hash: GENESIS_HASH, entries: vec![entry] }.sign(&export).unwrap();
        let v = SignedTraceBatch::decode(&b).unwrap().verify(&export.public_key().into()).unwrap();
        let found = store.match_batch(&v);
        prop_assert!(found.notifications.is_empty());
        prop_assert_eq!(found.pairings + found.invalid_keys, 1);
    }
}

#[test]
fn non_subgroup_and_identity_keys_are_refused_before_pairing() {
    let (store, real) = fixture();
    let rec = &store.records()[0];
    let mut e = real.encode();
    e[36..84].copy_from_slice(&non_subgroup_g1());
    let entry = TraceEntry::decode(&e).expect("the form is fine");
    assert_eq!(entry.key().unwrap_err().code(), "invalid_point");
    assert_eq!(try_match(rec, &entry).unwrap_err().code(), "invalid_point");
    let found = match_entries(store, &[entry]);
    assert_eq!((found.pairings, found.invalid_keys), (0, 1));
    let mut e = real.encode();
    e[36..84].fill(0);
    e[36] = 0xc0;
    assert_eq!(
        Error::from(TraceEntry::decode(&e).unwrap_err()).code(),
        "identity_point"
    );
}
