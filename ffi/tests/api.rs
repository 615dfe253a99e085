//! The exported API from Rust: argument checks, error codes, the KEYS.json export and the
//! stored state. `tests/test_phone.py` drives the same API through the Python bindings
//! against a real server.

use en_ffi::{Phone, PhoneError};
use en_protocol::keys::SigningKey;
use en_protocol::wire::{index::Index, Region};
use en_protocol::UnixTime;

const NOW: u64 = 1_700_000_000;

fn export() -> SigningKey {
    SigningKey::from_seed(&[7; 32])
}

fn phone() -> std::sync::Arc<Phone> {
    Phone::new(vec![export().public_key().to_hex()], "VN".into()).unwrap()
}

fn index_at(t: u64) -> Vec<u8> {
    Index {
        region: Region::new("VN").unwrap(),
        generated_at: UnixTime(t),
        entries: vec![],
    }
    .sign(&export())
    .unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, PhoneError>) -> (String, PhoneError) {
    let e = r.unwrap_err();
    (e.code().to_string(), e)
}

#[test]
fn bad_arguments_are_refused_with_codes() {
    let (c, e) = code(Phone::new(vec!["zz".into()], "VN".into()));
    assert_eq!(c, "bad_encoding");
    assert!(matches!(e, PhoneError::Decode { .. }), "{e:?}");
    let (c, e) = code(Phone::new(vec![], "VN".into()));
    assert_eq!(c, "usage");
    assert!(matches!(e, PhoneError::Usage { .. }), "{e:?}");

    let p = phone();
    let (c, _) = code(p.record_scan(vec![0; 15], vec![0; 4], NOW, -50, 300));
    assert_eq!(c, "usage");
    let (c, _) = code(p.record_scan(vec![0; 16], vec![0; 5], NOW, -50, 300));
    assert_eq!(c, "usage");
    p.record_scan(vec![0; 16], vec![0; 4], NOW, -50, 300)
        .unwrap();
    let (c, _) = code(p.handle_batch(vec![1, 2, 3], NOW));
    assert_eq!(c, "usage", "no batch is pending");
    let (c, _) = code(p.resync());
    assert_eq!(c, "usage", "no gap was reported");
    let (c, e) = code(p.handle_index(b"garbage".to_vec(), NOW));
    assert!(matches!(e, PhoneError::Decode { .. }), "{c}: {e}");
}

#[test]
fn an_older_index_is_refused_as_a_rollback() {
    let p = phone();
    let u = p.handle_index(index_at(NOW - 60), NOW).unwrap();
    assert_eq!(
        (u.generated_at, u.pending, u.newest_listed),
        (NOW - 60, 0, None)
    );
    assert_eq!(p.next_batch(), None);
    p.handle_index(index_at(NOW - 30), NOW).unwrap();
    let (c, e) = code(p.handle_index(index_at(NOW - 60), NOW));
    assert_eq!(c, "index_rollback");
    assert!(matches!(e, PhoneError::Follow { .. }), "{e:?}");
    assert!(e.to_string().starts_with("index_rollback: "), "{e}");
    let other = SigningKey::from_seed(&[8; 32]);
    let forged = Index {
        region: Region::new("VN").unwrap(),
        generated_at: UnixTime(NOW),
        entries: vec![],
    }
    .sign(&other)
    .unwrap();
    let (c, _) = code(p.handle_index(forged, NOW));
    assert_eq!(c, "unknown_export_key");
}

#[test]
fn keys_json_is_what_en_sim_reads() {
    let p = phone();
    assert_eq!(p.upload_keys_json(NOW), "[]");
    assert!(p.tick(NOW) > NOW);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("KEYS.json");
    std::fs::write(&path, p.upload_keys_json(NOW + 86_400)).unwrap();
    let keys = en_api::keyfile::read_keys(&path).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(u64::from(keys[0].rolling_start.0), NOW / 86_400 * 144);
    assert_eq!(keys[0].rolling_period, 144);
}

#[test]
fn saved_state_restores_byte_for_byte_and_keeps_secrets_out_of_debug() {
    let p = phone();
    p.tick(NOW);
    let b = p.broadcast(NOW, -10);
    assert_eq!((b.rpi.len(), b.aem.len()), (16, 4));
    assert_eq!(u64::from(b.interval), NOW / 600);
    p.record_scan(b.rpi.clone(), b.aem.clone(), NOW, -50, 300)
        .unwrap();
    let saved = p.save();
    let keys = p.upload_keys_json(NOW);
    let key_b64 = serde_json::from_str::<serde_json::Value>(&keys).unwrap()[0]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let again = Phone::restore(
        saved.clone(),
        vec![export().public_key().to_hex()],
        "VN".into(),
    )
    .unwrap();
    assert_eq!(again.save(), saved);
    assert_eq!(again.broadcast(NOW, -10), b, "same key, same RPI");
    let printed = format!("{again:?}");
    assert!(printed.contains("scans: 1"), "{printed}");
    assert!(!printed.contains(&key_b64[..8]), "{printed}");

    let (c, _) = code(Phone::restore(
        saved.clone(),
        vec![export().public_key().to_hex()],
        "DE".into(),
    ));
    assert_eq!(c, "usage", "another region");
    let (c, _) = code(Phone::restore(
        saved[..saved.len() - 1].to_vec(),
        vec![export().public_key().to_hex()],
        "VN".into(),
    ));
    assert_eq!(c, "truncated");
}

/// A traveller: the phone follows VN-KG with VN-KG's own key besides home, lists it as
/// visited, verifies VN-KG's chain with that key only, and restores with it.
#[test]
fn a_traveller_follows_the_visited_regions_chain_with_its_own_key() {
    use en_ffi::RegionKeys;
    use en_protocol::wire::batch::{Batch, SignedBatch, GENESIS_HASH};
    use en_protocol::wire::index::IndexEntry;

    let kg = SigningKey::from_seed(&[9; 32]);
    let kg_hex = kg.public_key().to_hex();
    let p = phone();
    p.tick(NOW);
    let (c, _) = code(p.handle_region_index("VN-KG".into(), vec![], NOW));
    assert_eq!(c, "usage", "not followed before a visit");
    let (c, _) = code(p.visit_region(vec![kg_hex.clone()], "VN".into(), NOW));
    assert_eq!(c, "usage", "home is not a visited region");
    p.visit_region(vec![kg_hex.clone()], "VN-KG".into(), NOW)
        .unwrap();
    assert_eq!(p.followed_regions(), vec!["VN", "VN-KG"]);
    let v = p.visited_regions();
    assert_eq!((v.len(), v[0].region.as_str()), (1, "VN-KG"));
    assert_eq!(v[0].last_visit_day, NOW / 86_400);

    // VN-KG's chain, signed by VN-KG's key.
    let batch = Batch {
        region: Region::new("VN-KG").unwrap(),
        sequence: 1,
        window_start: UnixTime(NOW - 7200),
        window_end: UnixTime(NOW - 3600),
        prev_hash: GENESIS_HASH,
        keys: vec![],
    }
    .sign(&kg)
    .unwrap();
    let h = SignedBatch::decode(&batch).unwrap().header().clone();
    let index = |key: &SigningKey| {
        Index {
            region: Region::new("VN-KG").unwrap(),
            generated_at: UnixTime(NOW),
            entries: vec![IndexEntry {
                sequence: 1,
                window_start: h.window_start,
                window_end: h.window_end,
                hash: h.hash,
                size: h.size,
            }],
        }
        .sign(key)
        .unwrap()
    };
    // Signed by the home server's key: not VN-KG's, refused.
    let (c, _) = code(p.handle_region_index("VN-KG".into(), index(&export()), NOW));
    assert_eq!(c, "unknown_export_key");
    let u = p
        .handle_region_index("VN-KG".into(), index(&kg), NOW)
        .unwrap();
    assert_eq!(u.pending, 1);
    let next = p.next_region_batch("VN-KG".into()).unwrap().unwrap();
    assert_eq!((next.sequence, next.size), (1, batch.len() as u64));
    let r = p.handle_region_batch("VN-KG".into(), batch, NOW).unwrap();
    assert_eq!((r.sequence, r.hits), (1, 0));
    assert_eq!(p.next_region_batch("VN-KG".into()).unwrap(), None);
    assert_eq!(p.next_batch(), None, "home's chain is separate");

    // Restored with VN-KG's keys it is the same phone; without them, refused.
    let saved = p.save();
    let home = vec![export().public_key().to_hex()];
    let kg_keys = RegionKeys {
        region: "VN-KG".into(),
        export_public_keys: vec![kg_hex],
    };
    let again =
        Phone::restore_traveller(saved.clone(), home.clone(), "VN".into(), vec![kg_keys]).unwrap();
    assert_eq!(again.save(), saved);
    assert_eq!(again.visited_regions(), p.visited_regions());
    let (c, _) = code(Phone::restore_traveller(saved, home, "VN".into(), vec![]));
    assert_eq!(c, "usage", "a followed region needs its keys");
}
