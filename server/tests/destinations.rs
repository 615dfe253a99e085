//! Federation destinations stored with the keys (spec/federation.md §1), in both stores: each
//! key comes back from `released_destined` with its upload's destinations, also after a
//! restart (sled) and from another replica (PostgreSQL); uploads without any keep none. The
//! federation chains' entries: each chain only grows by its next batch (no fork), chains of
//! different regions are apart, retention forgets old batches.

mod support;

use en_protocol::wire::index::IndexEntry;
use en_protocol::wire::Region;
use en_protocol::UnixTime;
use en_server::store::postgres::{Connect, Database, PgStore};
use en_server::store::{Inserted, SledStore, Store, StoreError};
use support::pg;
use support::store::*;

fn regions(r: &[&str]) -> Vec<Region> {
    r.iter().map(|s| Region::new(s).unwrap()).collect()
}

/// Stores two uploads together (the first with destinations, the second without) and one
/// alone without.
async fn write(store: &dyn Store) {
    let y = 20_399;
    let both = [
        upload(1, &[(1, y), (2, y - 1)], NOW),
        upload(2, &[(3, y)], NOW),
    ];
    assert_eq!(
        store
            .insert_destined(&both, &[regions(&["VN-HN", "VN-KG"]), vec![]], 9)
            .await
            .unwrap(),
        Inserted::Stored
    );
    assert_eq!(
        store.insert(&[upload(3, &[(4, y)], NOW)], 9).await.unwrap(),
        Inserted::Stored
    );
}

async fn check(store: &dyn Store) {
    let mut got: Vec<(u8, Vec<String>)> = store
        .released_destined(UnixTime(NOW.0 + 10 * DAY))
        .await
        .unwrap()
        .into_iter()
        .map(|(k, d)| {
            (
                k.key.as_bytes()[0],
                d.iter().map(|r| r.as_str().to_string()).collect(),
            )
        })
        .collect();
    got.sort();
    let hn_kg = vec!["VN-HN".to_string(), "VN-KG".to_string()];
    assert_eq!(
        got,
        vec![(1, hn_kg.clone()), (2, hn_kg), (3, vec![]), (4, vec![]),]
    );
    assert_eq!(
        store
            .released_before(UnixTime(NOW.0 + 10 * DAY))
            .await
            .unwrap()
            .len(),
        4
    );
}

fn entry(sequence: u64, end_day: u64) -> IndexEntry {
    IndexEntry {
        sequence,
        window_start: UnixTime((end_day - 1) * DAY),
        window_end: UnixTime(end_day * DAY),
        hash: [sequence as u8; 32],
        size: 100 + sequence,
    }
}

async fn federation_chains(store: &dyn Store) {
    let (kg, sg) = (Region::new("VN-KG").unwrap(), Region::new("VN-SG").unwrap());
    assert!(store.federation_entries(&kg).await.unwrap().is_empty());
    store.federation_publish(&kg, &entry(1, 100)).await.unwrap();
    store.federation_publish(&kg, &entry(2, 101)).await.unwrap();
    store.federation_publish(&sg, &entry(1, 101)).await.unwrap();
    // A second batch 2, a gap, or a first batch that is not 1: refused.
    for (r, e) in [
        (&kg, entry(2, 102)),
        (&kg, entry(4, 102)),
        (&sg, entry(3, 102)),
    ] {
        assert!(matches!(
            store.federation_publish(r, &e).await,
            Err(StoreError::ChainMoved(_))
        ));
    }
    assert_eq!(
        store.federation_entries(&kg).await.unwrap(),
        vec![entry(1, 100), entry(2, 101)]
    );
    assert_eq!(
        store.federation_entries(&sg).await.unwrap(),
        vec![entry(1, 101)]
    );
    assert_eq!(
        store.federation_prune(UnixTime(101 * DAY)).await.unwrap(),
        vec![(kg.clone(), 1)]
    );
    assert_eq!(
        store.federation_entries(&kg).await.unwrap(),
        vec![entry(2, 101)]
    );
    store.federation_publish(&kg, &entry(3, 102)).await.unwrap();
}

#[tokio::test]
async fn sled_federation_chains() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db"), DAY, SECRET).unwrap();
    federation_chains(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_federation_chains() {
    let Some(cluster) = pg::shared("postgres_federation_chains") else {
        return;
    };
    let url = cluster.create_database("federation").unwrap();
    let password = std::fs::read_to_string(cluster.password_file()).unwrap();
    let c = Connect {
        url,
        password: Some(password.trim().to_string().into()),
        ca_pem: None,
        pool_size: 4,
    };
    let a = PgStore::open(Database::connect(&c).await.unwrap(), DAY, SECRET)
        .await
        .unwrap();
    federation_chains(&a).await;
}

#[tokio::test]
async fn sled_keeps_destinations_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = SledStore::open(&path, DAY, SECRET).unwrap();
        write(&store).await;
        check(&store).await;
        store.close().await.unwrap();
    }
    let store = SledStore::open(&path, DAY, SECRET).unwrap();
    check(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_destinations_across_replicas() {
    let Some(cluster) = pg::shared("postgres_keeps_destinations_across_replicas") else {
        return;
    };
    let url = cluster.create_database("destinations").unwrap();
    let password = std::fs::read_to_string(cluster.password_file()).unwrap();
    let c = Connect {
        url,
        password: Some(password.trim().to_string().into()),
        ca_pem: None,
        pool_size: 4,
    };
    let a = PgStore::open(Database::connect(&c).await.unwrap(), DAY, SECRET)
        .await
        .unwrap();
    write(&a).await;
    let b = PgStore::open(Database::connect(&c).await.unwrap(), DAY, SECRET)
        .await
        .unwrap();
    check(&b).await;
}
