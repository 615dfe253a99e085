//! The sled store across restarts: every check the upload path relies on (replays, keys
//! stored before, quotas, what is pending) is rebuilt from the trees when the store opens,
//! publication moves keys out of the pending set for good, retention forgets them, a retry
//! of a stored upload is recognised, and the token that could tie keys to a patient is kept
//! only as a keyed hash, apart from the keys.

mod support;

use en_protocol::UnixTime;
use en_server::store::{Inserted, SledStore, Store, StoreError};
use support::store::*;

#[tokio::test]
async fn checks_pending_keys_and_retention_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let today_end = UnixTime((NOW.0 / DAY + 1) * DAY);
    // Yesterday's keys are released today (2 h after they expired); today's key, still valid,
    // is released tomorrow at 02:00.
    let (yesterday, today) = (20_399, 20_400);
    {
        let store = SledStore::open(&path, DAY, SECRET).unwrap();
        let u = upload(1, &[(1, yesterday), (2, yesterday - 1), (3, today)], NOW);
        assert_eq!(store.insert(&[u], 3).await.unwrap(), Inserted::Stored);
        assert_eq!(store.pending_count().await.unwrap(), 3);
        store.close().await.unwrap();
    }
    let store = SledStore::open(&path, DAY, SECRET).unwrap();
    assert_eq!(
        store.pending_count().await.unwrap(),
        3,
        "pending keys are rebuilt"
    );
    // The same upload again (a client retrying after a lost answer) is recognised; the same
    // token with other keys is a replay.
    let same = upload(1, &[(1, yesterday), (2, yesterday - 1), (3, today)], NOW);
    assert_eq!(
        store.insert(&[same], 3).await.unwrap(),
        Inserted::AlreadyStored
    );
    assert!(matches!(
        store.insert(&[upload(1, &[(9, yesterday)], NOW)], 3).await,
        Err(StoreError::Replayed(0))
    ));
    assert!(matches!(
        store
            .insert(&[upload(2, &[(9, yesterday), (2, yesterday - 1)], NOW)], 3)
            .await,
        Err(StoreError::KeyExists(0))
    ));
    // All or nothing: the second upload repeats a key of the first.
    let before = store.fingerprint().await.unwrap();
    assert!(matches!(
        store
            .insert(
                &[
                    upload(2, &[(4, yesterday)], NOW),
                    upload(3, &[(4, yesterday)], NOW)
                ],
                3
            )
            .await,
        Err(StoreError::KeyExists(1))
    ));
    assert_eq!(store.fingerprint().await.unwrap(), before);
    assert_eq!(store.pending_count().await.unwrap(), 3);
    // Quota 3 a day: one used before the restart, two more fit, the next does not.
    store
        .insert(
            &[
                upload(2, &[(4, yesterday)], NOW),
                upload(3, &[(5, yesterday)], NOW),
            ],
            3,
        )
        .await
        .unwrap();
    assert!(matches!(
        store.insert(&[upload(4, &[(6, yesterday)], NOW)], 3).await,
        Err(StoreError::QuotaExceeded(0))
    ));

    // Today's window publishes keys 1, 2, 4, 5; key 3 stays pending, also after a restart.
    assert_eq!(
        teks(&store.released_before(today_end).await.unwrap()),
        [1, 2, 4, 5]
    );
    publish(&store, 1, today_end).await;
    assert_eq!(store.pending_count().await.unwrap(), 1);
    assert!(store.released_before(today_end).await.unwrap().is_empty());
    store.close().await.unwrap();
    let store = SledStore::open(&path, DAY, SECRET).unwrap();
    assert_eq!(store.pending_count().await.unwrap(), 1);
    assert!(store.released_before(today_end).await.unwrap().is_empty());
    let next_end = today_end.plus(DAY);
    assert_eq!(teks(&store.released_before(next_end).await.unwrap()), [3]);
    // Published keys are still refused as duplicates.
    assert!(matches!(
        store.insert(&[upload(9, &[(1, yesterday)], NOW)], 9).await,
        Err(StoreError::KeyExists(0))
    ));

    // Retention: before the records expire nothing goes, even once published.
    assert!(store
        .prune(NOW.plus(DAY), UnixTime(0))
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        store
            .insert(&[upload(9, &[(1, yesterday)], NOW.plus(DAY / 2))], 9)
            .await,
        Err(StoreError::KeyExists(0))
    ));
    // Publish the last pending key (key 3); then every record has expired.
    publish(&store, 2, next_end).await;
    let later = NOW.plus(16 * DAY);
    store.prune(later, UnixTime(0)).await.unwrap();
    store.close().await.unwrap();
    let store = SledStore::open(&path, DAY, SECRET).unwrap();
    assert_eq!(store.pending_count().await.unwrap(), 0);
    // Everything expired: key bytes and nonces may be used again, and the quota is a new day's.
    let later_day = (later.0 / DAY) as u32;
    store
        .insert(
            &[upload(1, &[(1, later_day - 1), (3, later_day - 2)], later)],
            1,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn records_of_unpublished_keys_outlive_their_expiry() {
    let store = SledStore::temporary(DAY).unwrap();
    store
        .insert(&[upload(1, &[(1, 20_399)], NOW)], 9)
        .await
        .unwrap();
    // Long past every expiry, but never published (the batcher was down): kept.
    store.prune(NOW.plus(100 * DAY), UnixTime(0)).await.unwrap();
    assert_eq!(store.pending_count().await.unwrap(), 1);
    assert!(matches!(
        store.insert(&[upload(2, &[(1, 20_399)], NOW)], 9).await,
        Err(StoreError::KeyExists(0))
    ));
}

#[tokio::test]
async fn tokens_are_kept_apart_from_keys_and_only_as_keyed_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db"), DAY, SECRET).unwrap();
    let nonce = 0x5a;
    store
        .insert(&[upload(nonce, &[(1, 20_399)], NOW)], 9)
        .await
        .unwrap();
    let db = store.db();
    let upload_records: Vec<Vec<u8>> = db
        .open_tree("uploads")
        .unwrap()
        .iter()
        .map(|kv| kv.unwrap().1.to_vec())
        .collect();
    assert_eq!(upload_records.len(), 1);
    // The upload record holds the keys, and neither the authority nor the nonce.
    let rec = &upload_records[0];
    assert!(rec.windows(16).any(|w| w == [1u8; 16]), "the key is stored");
    assert!(
        !rec.windows(3).any(|w| w == b"moh"),
        "no authority in the record"
    );
    assert!(
        !rec.windows(16).any(|w| w == [nonce; 16]),
        "no nonce in the record"
    );
    // The replay record is a 32-byte keyed hash, not the nonce; nothing in the database
    // holds the nonce in clear.
    let replay: Vec<(Vec<u8>, Vec<u8>)> = db
        .open_tree("replay")
        .unwrap()
        .iter()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    assert_eq!(replay.len(), 1);
    assert_eq!(replay[0].0.len(), 32);
    for name in db.tree_names() {
        for kv in db.open_tree(&name).unwrap().iter() {
            let (k, v) = kv.unwrap();
            for b in [&k[..], &v[..]] {
                assert!(
                    !b.windows(16).any(|w| w == [nonce; 16]),
                    "nonce in clear in tree {:?}",
                    String::from_utf8_lossy(&name)
                );
            }
        }
    }
    // With another secret the same token hashes differently.
    let other = SledStore::temporary(DAY).unwrap();
    other
        .insert(&[upload(nonce, &[(1, 20_399)], NOW)], 9)
        .await
        .unwrap();
    let other_key = other
        .db()
        .open_tree("replay")
        .unwrap()
        .iter()
        .next()
        .unwrap()
        .unwrap()
        .0;
    assert_ne!(other_key.to_vec(), replay[0].0);
    // The replay record goes when the token expires (report age + skew), the keys stay.
    store.prune(NOW.plus(2 * DAY), UnixTime(0)).await.unwrap();
    assert_eq!(db.open_tree("replay").unwrap().len(), 0);
    assert_eq!(store.pending_count().await.unwrap(), 1);
}

#[tokio::test]
async fn a_database_in_the_earlier_layout_is_refused_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = sled::open(&path).unwrap();
        db.open_tree("batches")
            .unwrap()
            .insert(1u64.to_be_bytes(), &[0u8; 8])
            .unwrap();
        db.flush().unwrap();
    }
    let e = SledStore::open(&path, DAY, SECRET).err().expect("refused");
    assert!(matches!(e, StoreError::OldLayout(_)), "{e}");
    assert!(e.to_string().contains("earlier en-server"), "{e}");
}
