//! Revisions in both stores (`Store::revise`, `Store::republish`): a key not yet published
//! gets its new metadata in place and is published once; a published key is released again
//! and the next batch carries it with the new metadata; replayed tokens and unknown keys are
//! refused with nothing written; a retry is recognised; a moved key stays pending across a
//! restart (sled) and is seen by another replica (PostgreSQL).

mod support;

use en_protocol::wire::key::DiagnosisKey;
use en_protocol::wire::ReportType;
use en_protocol::UnixTime;
use en_server::store::postgres::{Connect, Database, PgStore};
use en_server::store::{Inserted, SledStore, Store, StoreError};
use support::pg;
use support::store::*;

const Y: u32 = 20_399;

fn today_end() -> UnixTime {
    UnixTime((NOW.0 / DAY + 1) * DAY)
}

/// Keys 1, 2 (upload 1) and 3 (upload 2), released today; key 1 revoked before publication;
/// the refusals, each leaving the store as it was; then today's batch published.
async fn before_publication(store: &dyn Store) {
    store
        .insert(&[upload(1, &[(1, Y), (2, Y - 1)], NOW)], 9)
        .await
        .unwrap();
    store.insert(&[upload(2, &[(3, Y)], NOW)], 9).await.unwrap();
    let r = revision(&[(1, Y)], ReportType::Revoked, 1, 1, NOW);
    assert_eq!(store.revise(&r).await.unwrap(), Inserted::Stored);
    let released = store.released_before(today_end()).await.unwrap();
    assert_eq!(
        types(&released),
        [
            (1, ReportType::Revoked),
            (2, ReportType::ConfirmedTest),
            (3, ReportType::ConfirmedTest)
        ],
        "changed in place: each key once"
    );
    assert_eq!(store.pending_count().await.unwrap(), 3);

    let before = store.fingerprint().await.unwrap();
    // The same revision again (a lost answer): recognised, nothing written.
    assert_eq!(store.revise(&r).await.unwrap(), Inserted::AlreadyStored);
    // The certificate again, with a new token: replayed.
    let again = revision(&[(2, Y - 1)], ReportType::Revoked, 1, 2, NOW);
    assert!(matches!(
        store.revise(&again).await,
        Err(StoreError::Replayed(0))
    ));
    // The token again (same nonce), with a new certificate and other metadata: replayed.
    let token_again = revision(&[(1, Y)], ReportType::ConfirmedTest, 2, 1, NOW);
    assert!(matches!(
        store.revise(&token_again).await,
        Err(StoreError::Replayed(0))
    ));
    // A key this store does not hold, alone or beside a stored one.
    for keys in [&[(9, Y)][..], &[(2, Y - 1), (9, Y)][..]] {
        let unknown = revision(keys, ReportType::ConfirmedTest, 3, 3, NOW);
        assert!(matches!(
            store.revise(&unknown).await,
            Err(StoreError::UnknownKeys)
        ));
    }
    assert!(matches!(
        store.republish(&[key_as(9, ReportType::Revoked)]).await,
        Err(StoreError::UnknownKeys)
    ));
    assert_eq!(store.fingerprint().await.unwrap(), before);
    // The unknown-key refusals spent nothing: their certificate still works.
    let later = revision(&[(3, Y)], ReportType::ConfirmedTest, 3, 4, NOW);
    assert_eq!(store.revise(&later).await.unwrap(), Inserted::Stored);

    publish(store, 1, today_end()).await;
    assert!(store.released_before(today_end()).await.unwrap().is_empty());
    assert_eq!(store.pending_count().await.unwrap(), 0);
}

/// Key 2 was published as confirmed; a revision to revoked releases it again.
async fn after_publication(store: &dyn Store) {
    let r = revision(&[(2, Y - 1)], ReportType::Revoked, 5, 5, NOW.plus(3 * 3600));
    assert_eq!(store.revise(&r).await.unwrap(), Inserted::Stored);
    // Not in a closed window: the next one.
    assert!(store.released_before(today_end()).await.unwrap().is_empty());
}

async fn next_batch(store: &dyn Store) {
    let next_end = today_end().plus(DAY);
    assert_eq!(store.pending_count().await.unwrap(), 1);
    assert_eq!(
        types(&store.released_before(next_end).await.unwrap()),
        [(2, ReportType::Revoked)]
    );
    // The primitive the federation importer uses: key 3 again, as clinical; key 2, pending
    // now, gets newer metadata in place.
    store
        .republish(&[
            key_as(3, ReportType::ConfirmedClinicalDiagnosis),
            key_as_day(2, Y - 1, ReportType::ConfirmedTest),
        ])
        .await
        .unwrap();
    assert_eq!(
        types(&store.released_before(next_end).await.unwrap()),
        [
            (2, ReportType::ConfirmedTest),
            (3, ReportType::ConfirmedClinicalDiagnosis)
        ]
    );
    publish(store, 2, next_end).await;
    assert_eq!(store.pending_count().await.unwrap(), 0);
    assert!(store
        .released_before(next_end.plus(DAY))
        .await
        .unwrap()
        .is_empty());
}

fn key_as(b: u8, t: ReportType) -> DiagnosisKey {
    key_as_day(b, Y, t)
}

fn key_as_day(b: u8, day: u32, t: ReportType) -> DiagnosisKey {
    let mut k = revision(&[(b, day)], ReportType::Revoked, 200 + b, 200, NOW).keys()[0].clone();
    k.meta.report_type = t;
    k
}

#[tokio::test]
async fn sled_revisions_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = SledStore::open(&path, DAY, SECRET).unwrap();
        before_publication(&store).await;
        after_publication(&store).await;
        store.close().await.unwrap();
    }
    let store = SledStore::open(&path, DAY, SECRET).unwrap();
    next_batch(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_revisions_across_replicas() {
    let Some(cluster) = pg::shared("postgres_revisions_across_replicas") else {
        return;
    };
    let url = cluster.create_database("revisions").unwrap();
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
    before_publication(&a).await;
    after_publication(&a).await;
    let b = PgStore::open(Database::connect(&c).await.unwrap(), DAY, SECRET)
        .await
        .unwrap();
    next_batch(&b).await;
}
