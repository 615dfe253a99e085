//! The store across restarts: every check the upload path relies on (replays, keys stored
//! before, quotas, what is pending) is rebuilt from the upload records when the store opens,
//! publication moves keys out of the pending set for good, and retention forgets them.

use en_protocol::keys::TemporaryExposureKey;
use en_protocol::wire::index::IndexEntry;
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata};
use en_protocol::wire::{AuthorityId, ReportType};
use en_protocol::{IntervalNumber, UnixTime};
use en_server::store::{nonce_key, ChainHead, NewUpload, Store, StoreError};

const DAY: u64 = 86_400;
const NOW: UnixTime = UnixTime(20_400 * DAY + 3_600);

fn key(b: u8, day: u32) -> DiagnosisKey {
    DiagnosisKey {
        key: TemporaryExposureKey::from_bytes([b; 16]),
        meta: KeyMetadata {
            rolling_start: IntervalNumber(day * 144),
            rolling_period: 144,
            transmission_risk: 4,
            report_type: ReportType::ConfirmedTest,
            days_since_onset: None,
        },
    }
}

/// An upload with `nonce` whose keys are released at the given times.
fn upload(nonce: u8, keys: &[(u8, UnixTime)]) -> NewUpload {
    let authority = AuthorityId::new("moh").unwrap();
    NewUpload {
        replay: (nonce_key(&authority, &[nonce; 16]), NOW.plus(DAY)),
        authority,
        keys: keys.iter().map(|(b, r)| (key(*b, 20_399), *r)).collect(),
        key_expiry: NOW.plus(15 * DAY),
        day: NOW.day(),
        quota: 3,
    }
}

fn teks(keys: &[DiagnosisKey]) -> Vec<u8> {
    let mut v: Vec<u8> = keys.iter().map(|k| k.key.as_bytes()[0]).collect();
    v.sort_unstable();
    v
}

fn publish(store: &Store, sequence: u64, cut: UnixTime) {
    let head = ChainHead {
        sequence,
        hash: [sequence as u8; 32],
        window_end: cut,
        cut,
    };
    let entry = IndexEntry {
        sequence,
        window_start: cut.minus(DAY),
        window_end: cut,
        hash: head.hash,
        size: 5,
    };
    store.publish(b"batch", &entry, head, b"index").unwrap();
}

#[test]
fn checks_pending_keys_and_retention_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let today_end = UnixTime((NOW.0 / DAY + 1) * DAY);
    let tomorrow = NOW.plus(DAY);
    {
        let store = Store::open(&path, DAY).unwrap();
        // Keys 1 and 2 are released today, key 3 tomorrow.
        store
            .insert_upload(&upload(1, &[(1, NOW), (2, NOW), (3, tomorrow)]))
            .unwrap();
        assert_eq!(store.pending_count(), 3);
        store.flush().unwrap();
    }
    let store = Store::open(&path, DAY).unwrap();
    assert_eq!(store.pending_count(), 3, "pending keys are rebuilt");
    assert!(matches!(
        store.insert_upload(&upload(1, &[(9, NOW)])),
        Err(StoreError::Replayed(0))
    ));
    assert!(matches!(
        store.insert_upload(&upload(2, &[(9, NOW), (2, NOW)])),
        Err(StoreError::KeyExists(0))
    ));
    // All or nothing: the second upload repeats a key of the first.
    let before = store.fingerprint().unwrap();
    assert!(matches!(
        store.insert_uploads(&[upload(2, &[(4, NOW)]), upload(3, &[(4, NOW)])]),
        Err(StoreError::KeyExists(1))
    ));
    assert_eq!(store.fingerprint().unwrap(), before);
    assert_eq!(store.pending_count(), 3);
    // Quota 3 a day: one used before the restart, two more fit, the next does not.
    store
        .insert_uploads(&[upload(2, &[(4, NOW)]), upload(3, &[(5, NOW)])])
        .unwrap();
    assert!(matches!(
        store.insert_upload(&upload(4, &[(6, NOW)])),
        Err(StoreError::QuotaExceeded(0))
    ));

    // Today's window publishes keys 1, 2, 4, 5; key 3 stays pending, also after a restart.
    assert_eq!(
        teks(&store.released_before(today_end).unwrap()),
        [1, 2, 4, 5]
    );
    publish(&store, 1, today_end);
    assert_eq!(store.pending_count(), 1);
    assert!(store.released_before(today_end).unwrap().is_empty());
    store.flush().unwrap();
    drop(store);
    let store = Store::open(&path, DAY).unwrap();
    assert_eq!(store.pending_count(), 1);
    assert!(store.released_before(today_end).unwrap().is_empty());
    let next_end = today_end.plus(DAY);
    assert_eq!(teks(&store.released_before(next_end).unwrap()), [3]);
    // Published keys are still refused as duplicates.
    assert!(matches!(
        store.insert_upload(&upload(9, &[(1, NOW)])),
        Err(StoreError::KeyExists(0))
    ));

    // Retention: before the records expire nothing goes, even once published.
    let later = NOW.plus(16 * DAY);
    assert_eq!(store.prune(NOW.plus(DAY), UnixTime(0)).unwrap(), 0);
    assert!(matches!(
        store.insert_upload(&upload(9, &[(1, NOW)])),
        Err(StoreError::KeyExists(0))
    ));
    // Publish the last pending key (key 3); then every record has expired.
    publish(&store, 2, next_end);
    store.prune(later, UnixTime(0)).unwrap();
    drop(store);
    let store = Store::open(&path, DAY).unwrap();
    assert_eq!(store.pending_count(), 0);
    // Everything expired: keys and nonces may be used again (the day, and so the quota, too).
    let mut again = upload(1, &[(1, later), (3, later)]);
    again.day = later.day();
    store.insert_upload(&again).unwrap();
}

#[test]
fn records_of_unpublished_keys_outlive_their_expiry() {
    let store = Store::temporary().unwrap();
    store.insert_upload(&upload(1, &[(1, NOW)])).unwrap();
    // Long past every expiry, but never published (the batcher was down): kept.
    store.prune(NOW.plus(100 * DAY), UnixTime(0)).unwrap();
    assert_eq!(store.pending_count(), 1);
    assert!(matches!(
        store.insert_upload(&upload(2, &[(1, NOW)])),
        Err(StoreError::KeyExists(0))
    ));
}

#[test]
fn a_database_in_the_earlier_layout_is_refused_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = sled::open(&path).unwrap();
        db.open_tree("pending/00000000001762646400")
            .unwrap()
            .insert([1u8; 16], &[0u8; 8])
            .unwrap();
        db.flush().unwrap();
    }
    let e = Store::open(&path, DAY).err().expect("refused");
    assert!(matches!(e, StoreError::OldLayout), "{e}");
    assert!(e.to_string().contains("earlier en-server"), "{e}");
}
