//! The PostgreSQL store as replicas see it: two stores on one database (two replicas) share
//! every check (replays, keys stored before, quotas, retries), also when they race; the
//! publication cut holds across them; the chain head moves only from the head a batch was
//! built on; one replica at a time holds the batch lock and a dead one's passes on; tokens
//! are kept apart from keys, as keyed hashes, until they expire; a replica with another
//! replay secret or batch period is refused; the password is never printed.
//!
//! Runs against a throwaway cluster (`support::pg`); skipped, saying so, without PostgreSQL
//! unless `EN_REQUIRE_ALL_TESTS` is set.

mod support;

use std::sync::Arc;

use en_protocol::UnixTime;
use en_server::store::postgres::{Connect, Database, PgStore};
use en_server::store::{Inserted, Store, StoreError};
use support::pg;
use support::store::*;

/// A fresh database on the shared cluster and what it takes to connect to it.
fn database(test: &str) -> Option<Connect> {
    let cluster = pg::shared(test)?;
    let url = cluster.create_database("store").unwrap();
    let password = std::fs::read_to_string(cluster.password_file()).unwrap();
    Some(Connect {
        url,
        password: Some(password.trim().to_string().into()),
        ca_pem: None,
        pool_size: 8,
    })
}

async fn replica(c: &Connect, period: u64, secret: [u8; 32]) -> Result<PgStore, StoreError> {
    PgStore::open(Database::connect(c).await?, period, secret).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_every_check() {
    let Some(c) = database("replicas_share_every_check") else {
        return;
    };
    let (a, b) = (
        replica(&c, DAY, SECRET).await.unwrap(),
        replica(&c, DAY, SECRET).await.unwrap(),
    );
    let y = 20_399;
    assert_eq!(
        a.insert(&[upload(1, &[(1, y), (2, y - 1)], NOW)], 3)
            .await
            .unwrap(),
        Inserted::Stored
    );
    // A retry on the other replica is recognised; the token with other keys is a replay; the
    // keys under another token were stored before.
    assert_eq!(
        b.insert(&[upload(1, &[(1, y), (2, y - 1)], NOW)], 3)
            .await
            .unwrap(),
        Inserted::AlreadyStored
    );
    assert!(matches!(
        b.insert(&[upload(1, &[(9, y)], NOW)], 3).await,
        Err(StoreError::Replayed(0))
    ));
    assert!(matches!(
        b.insert(&[upload(2, &[(9, y), (2, y - 1)], NOW)], 3).await,
        Err(StoreError::KeyExists(0))
    ));
    // All or nothing, with the refused upload's index.
    let before = a.fingerprint().await.unwrap();
    assert!(matches!(
        b.insert(&[upload(2, &[(4, y)], NOW), upload(3, &[(4, y)], NOW)], 3)
            .await,
        Err(StoreError::KeyExists(1))
    ));
    assert!(matches!(
        b.insert(&[upload(2, &[(4, y)], NOW), upload(2, &[(5, y)], NOW)], 3)
            .await,
        Err(StoreError::Replayed(1))
    ));
    assert_eq!(b.fingerprint().await.unwrap(), before);
    // Quota 3 a day, counted across replicas: one on A, two on B, the next refused on either.
    b.insert(&[upload(2, &[(4, y)], NOW), upload(3, &[(5, y)], NOW)], 3)
        .await
        .unwrap();
    for s in [&a, &b] {
        assert!(matches!(
            s.insert(&[upload(4, &[(6, y)], NOW)], 3).await,
            Err(StoreError::QuotaExceeded(0))
        ));
    }
    assert!(matches!(
        a.insert(&[upload(4, &[(6, y)], NOW), upload(5, &[(7, y)], NOW)], 4)
            .await,
        Err(StoreError::QuotaExceeded(1))
    ));
    assert_eq!(a.pending_count().await.unwrap(), 4);
    assert_eq!(
        b.fingerprint().await.unwrap(),
        a.fingerprint().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_replicas_store_a_token_or_a_key_once() {
    let Some(c) = database("racing_replicas_store_a_token_or_a_key_once") else {
        return;
    };
    let stores = [
        Arc::new(replica(&c, DAY, SECRET).await.unwrap()),
        Arc::new(replica(&c, DAY, SECRET).await.unwrap()),
    ];
    // Sixteen uploads of the same keys under different tokens, and sixteen retries of one
    // upload, all at once on both replicas: one of each is stored.
    for same_token in [false, true] {
        let first = if same_token { 100 } else { 10 };
        let tasks: Vec<_> = (0..16u8)
            .map(|i| {
                let s = stores[usize::from(i % 2)].clone();
                let nonce = if same_token { first } else { first + i };
                let key = if same_token { 200 } else { 100 };
                tokio::spawn(async move {
                    s.insert(
                        &[upload(nonce, &[(key, 20_399), (key + 1, 20_398)], NOW)],
                        1000,
                    )
                    .await
                })
            })
            .collect();
        let mut stored = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(Inserted::Stored) => stored += 1,
                Ok(Inserted::AlreadyStored) => assert!(same_token),
                Err(StoreError::KeyExists(0)) => assert!(!same_token),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(stored, 1, "same token: {same_token}");
    }
    assert_eq!(stores[0].pending_count().await.unwrap(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_upload_slips_under_a_cut_another_replica_moved() {
    let Some(c) = database("no_upload_slips_under_a_cut_another_replica_moved") else {
        return;
    };
    const HOUR: u64 = 3600;
    let uploader = Arc::new(replica(&c, HOUR, SECRET).await.unwrap());
    let batcher = replica(&c, HOUR, SECRET).await.unwrap();
    // Yesterday's keys, released at 02:00, go in the window ending 03:00 until the cut moves
    // there, and in the next one after.
    let cut = UnixTime(NOW.0 - NOW.0 % HOUR + 2 * HOUR);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (u, s) = (uploader.clone(), stop.clone());
    let stream = tokio::spawn(async move {
        let mut n = 0u32;
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            u.insert(&[upload_n(n)], 1_000_000).await.unwrap();
            n += 1;
        }
        n
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    batcher.advance_cut(cut).await.unwrap();
    let at_cut = batcher.released_before(cut).await.unwrap().len();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let total = stream.await.unwrap() as usize;
    assert!(
        at_cut > 0 && total * 2 > at_cut,
        "{at_cut} keys of {total} uploads"
    );
    // Nothing arrived under the cut once it had moved: the later uploads are in the next
    // window.
    assert_eq!(batcher.released_before(cut).await.unwrap().len(), at_cut);
    assert_eq!(
        batcher.released_before(cut.plus(HOUR)).await.unwrap().len(),
        total * 2
    );
}

/// Upload `n` (a distinct nonce and two distinct keys of yesterday, released at 02:00).
fn upload_n(n: u32) -> en_protocol::accept::AcceptedUpload {
    let bytes = |i: u8| {
        let mut b = [i; 16];
        b[..4].copy_from_slice(&n.to_be_bytes());
        b
    };
    upload_raw(bytes(0), &[(bytes(1), 20_399), (bytes(2), 20_399)], NOW)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_head_moves_once_and_one_replica_holds_the_batch_lock() {
    let Some(c) = database("the_chain_head_moves_once_and_one_replica_holds_the_batch_lock") else {
        return;
    };
    let a = replica(&c, DAY, SECRET).await.unwrap();
    let b = replica(&c, DAY, SECRET).await.unwrap();
    assert!(a.batch_lock().await.unwrap());
    assert!(a.batch_lock().await.unwrap(), "still held");
    assert!(!b.batch_lock().await.unwrap(), "held by the other replica");
    let end = UnixTime((NOW.0 / DAY + 1) * DAY);
    a.insert(&[upload(1, &[(1, 20_399)], NOW)], 9)
        .await
        .unwrap();
    a.advance_cut(end).await.unwrap();
    assert_eq!(teks(&b.released_before(end).await.unwrap()), [1]);
    publish(&a, 1, end).await;
    assert!(b.released_before(end).await.unwrap().is_empty());
    assert_eq!(b.head().await.unwrap().unwrap().sequence, 1);
    assert_eq!(b.index_entries().await.unwrap().len(), 1);
    // A replica that built batch 1 too (it did not see A's) cannot publish it: no fork.
    let head = en_server::store::ChainHead {
        sequence: 1,
        hash: [7; 32],
        window_end: end,
        cut: end,
    };
    let entry = en_protocol::wire::index::IndexEntry {
        sequence: 1,
        window_start: end.minus(DAY),
        window_end: end,
        hash: [7; 32],
        size: 5,
    };
    assert!(matches!(
        b.publish(&entry, head).await,
        Err(StoreError::ChainMoved(_))
    ));
    assert_eq!(b.head().await.unwrap().unwrap().hash, [1; 32]);
    // The holder goes away (its session with it): the other replica takes the lock.
    drop(a);
    let mut took = false;
    for _ in 0..50 {
        if b.batch_lock().await.unwrap() {
            took = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(took, "the lock did not pass on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_kept_apart_as_keyed_hashes_until_they_expire() {
    let test = "tokens_are_kept_apart_as_keyed_hashes_until_they_expire";
    let Some(c) = database(test) else {
        return;
    };
    let cluster = pg::shared(test).unwrap();
    let db = c.url.rsplit('/').next().unwrap().to_string();
    let s = replica(&c, DAY, SECRET).await.unwrap();
    let u = upload(0x5a, &[(1, 20_399)], NOW);
    let token = u.token().to_bytes();
    s.insert(&[u], 9).await.unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let dump = cluster
        .psql(
            &db,
            "SELECT string_agg(encode(token, 'hex') || encode(digest, 'hex'), ',') FROM replay_tokens",
        )
        .unwrap();
    assert_eq!(
        dump.len(),
        128,
        "one keyed hash and one keyed digest: {dump}"
    );
    assert!(!dump.contains(&hex(&[0x5a; 16])), "the nonce is not stored");
    assert!(!dump.contains(&hex(&token)));
    let columns = cluster
        .psql(
            &db,
            "SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns \
             WHERE table_name = 'diagnosis_keys'",
        )
        .unwrap();
    // `destinations`: the federation chains the key also goes to (spec/federation.md §1),
    // only regions this server federates with, never who uploaded; `origin`: the region an
    // imported key came from (spec/federation.md §2).
    assert_eq!(
        columns, "destinations,expiry,meta,origin,slot,tek",
        "a key row says nothing about its upload"
    );
    // The token's record goes when it expires (a case report's nonce: the report age).
    let end = UnixTime((NOW.0 / DAY + 1) * DAY);
    s.advance_cut(end).await.unwrap();
    publish(&s, 1, end).await;
    s.prune(NOW.plus(2 * DAY), UnixTime(0)).await.unwrap();
    assert_eq!(
        cluster
            .psql(&db, "SELECT count(*) FROM replay_tokens")
            .unwrap(),
        "0"
    );
    assert_eq!(
        cluster
            .psql(&db, "SELECT count(*) FROM diagnosis_keys")
            .unwrap(),
        "1",
        "the key is kept (duplicate check) until it expires"
    );
    s.prune(NOW.plus(30 * DAY), UnixTime(0)).await.unwrap();
    assert_eq!(
        cluster
            .psql(&db, "SELECT count(*) FROM diagnosis_keys")
            .unwrap(),
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_does_not_share_the_secret_or_period_is_refused() {
    let Some(c) = database("a_replica_that_does_not_share_the_secret_or_period_is_refused") else {
        return;
    };
    replica(&c, DAY, SECRET).await.unwrap();
    let e = replica(&c, DAY, [1; 32]).await.unwrap_err();
    assert!(e.to_string().contains("replay.key"), "{e}");
    let e = replica(&c, 3600, SECRET).await.unwrap_err();
    assert!(e.to_string().contains("batch_period_seconds"), "{e}");
    // Migrations ran once; a second start finds them applied.
    replica(&c, DAY, SECRET).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_never_shows() {
    let Some(mut c) = database("the_password_never_shows") else {
        return;
    };
    let secret = "correct-horse-battery-staple";
    c.password = Some(secret.to_string().into());
    assert!(!format!("{c:?}").contains(secret));
    let e = Database::connect(&c).await.unwrap_err().to_string();
    assert!(e.contains("password authentication failed"), "{e}");
    assert!(!e.contains(secret), "{e}");
}

/// Not a check: measures what a key costs in PostgreSQL (table and indexes, after VACUUM)
/// for docs/deployment.md. Run with `--ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement for docs/deployment.md, not a check"]
async fn measure_database_bytes_per_key() {
    let Some(c) = database("measure_database_bytes_per_key") else {
        return;
    };
    let store = Arc::new(replica(&c, DAY, SECRET).await.unwrap());
    const UPLOADS: u32 = 20_000;
    let t0 = std::time::Instant::now();
    let tasks: Vec<_> = (0..16u32)
        .map(|w| {
            let s = store.clone();
            tokio::spawn(async move {
                let mut n = w;
                while n < UPLOADS {
                    let mut nonce = [0u8; 16];
                    nonce[..4].copy_from_slice(&n.to_be_bytes());
                    let keys: Vec<([u8; 16], u32)> = (0..14u32)
                        .map(|d| {
                            let mut k = [0xa5u8; 16];
                            k[..4].copy_from_slice(&n.to_be_bytes());
                            k[4..8].copy_from_slice(&d.to_be_bytes());
                            (k, 20_399 - d)
                        })
                        .collect();
                    s.insert(&[upload_raw(nonce, &keys, NOW)], u64::MAX)
                        .await
                        .unwrap();
                    n += 16;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    let cluster = pg::shared("measure_database_bytes_per_key").unwrap();
    let db = c.url.rsplit('/').next().unwrap().to_string();
    cluster.psql(&db, "VACUUM ANALYZE").unwrap();
    let out = cluster
        .psql(
            &db,
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class \
             WHERE relname IN ('diagnosis_keys', 'replay_tokens', 'authority_quota') ORDER BY 1",
        )
        .unwrap();
    let keys = f64::from(UPLOADS * 14);
    eprintln!("{UPLOADS} uploads of 14 keys in {secs:.1} s ({:.0} uploads/s, 16 tasks, one store, debug build of en-server)", f64::from(UPLOADS) / secs);
    for line in out.lines().filter(|l| l.contains('|')) {
        let (name, bytes) = line.split_once('|').unwrap();
        let bytes: f64 = bytes.trim().parse().unwrap_or(0.0);
        eprintln!(
            "{}: {:.1} MB, {:.0} bytes per key",
            name.trim(),
            bytes / 1e6,
            bytes / keys
        );
    }
    assert_eq!(
        store.pending_count().await.unwrap(),
        (UPLOADS * 14) as usize
    );
}
