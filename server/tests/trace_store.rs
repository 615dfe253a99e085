//! The stores' venue traces. Sled, across restarts: a retry of a stored trace report is
//! recognised, another report with a used nonce is a replay, traces count against the same
//! daily quota as case reports, publication forgets exactly the traces it published, and the
//! trace chain's head and batch list survive a restart. PostgreSQL, the same across two
//! replicas on one database, with traces racing a batch being read and published, and a
//! trace chain that moves only from the head a batch was built on.
//!
//! The PostgreSQL test runs against a throwaway cluster (`support::pg`); it is skipped,
//! saying so, without PostgreSQL unless `EN_REQUIRE_ALL_TESTS` is set.

mod support;

use std::sync::Arc;

use std::collections::BTreeMap;

use en_protocol::accept::{AcceptPolicy, AcceptedUpload};
use en_protocol::keys::{SigningKey, TemporaryExposureKey};
use en_protocol::venue::bench::FixtureRng;
use en_protocol::venue::{
    setup, AcceptedTrace, Hour, SealingSecretKey, SignedTraceReport, TraceReport, TracingSecret,
};
use en_protocol::verify::AuthorityInfo;
use en_protocol::wire::case_report::{CaseReport, SignedCaseReport};
use en_protocol::wire::index::IndexEntry;
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::{Audience, AuthorityId, Region, ReportType};
use en_protocol::{IntervalNumber, UnixTime};
use en_server::store::{Inserted, SledStore, Store, StoreError, TraceHead, TraceStore};

const DAY: u64 = 86_400;
/// Day 20400, 13:00 UTC.
const NOW: UnixTime = UnixTime(20_400 * DAY + 13 * 3600);

fn authority() -> SigningKey {
    SigningKey::from_seed(&[5; 32])
}

fn registry() -> BTreeMap<AuthorityId, AuthorityInfo> {
    BTreeMap::from([(
        AuthorityId::new("moh").unwrap(),
        AuthorityInfo {
            public_key: authority().public_key(),
            region: None,
            revoked: false,
        },
    )])
}

fn policy() -> AcceptPolicy {
    AcceptPolicy::new(Region::new("VN").unwrap(), Audience::new("a").unwrap())
}

struct Venue {
    sealing: SealingSecretKey,
    secret: TracingSecret,
    rng: FixtureRng,
}

impl Venue {
    fn new(seed: u64) -> Self {
        let mut rng = FixtureRng::new(seed);
        let sealing = SealingSecretKey::generate(&mut rng);
        let (_, secret) = setup(&mut rng, "Café", "", &sealing.public_key()).unwrap();
        Venue {
            sealing,
            secret,
            rng,
        }
    }

    /// A trace report of the venue's `hours_ago` hours with `nonce`, verified and accepted
    /// exactly as the upload path does.
    fn trace(&mut self, nonce: u8, hours_ago: &[u32]) -> AcceptedTrace {
        let now_hour = Hour::containing(NOW).0;
        let hours: Vec<Hour> = hours_ago.iter().map(|a| Hour(now_hour - a)).collect();
        let checked = self
            .secret
            .trace_request(&hours)
            .unwrap()
            .open(&self.sealing, NOW)
            .unwrap();
        let report = TraceReport::new(
            &checked,
            "Call 1900 9095.",
            AuthorityId::new("moh").unwrap(),
            Region::new("VN").unwrap(),
            NOW,
            [nonce; 16],
            &mut self.rng,
        )
        .unwrap();
        SignedTraceReport::decode(&report.sign(&authority()).unwrap())
            .unwrap()
            .verify(&registry())
            .unwrap()
            .accept(&policy(), NOW)
            .unwrap()
    }
}

/// A case report by the same authority (for the shared quota).
fn case(nonce: u8) -> AcceptedUpload {
    let report = CaseReport {
        authority: AuthorityId::new("moh").unwrap(),
        region: Region::new("VN").unwrap(),
        report_type: ReportType::ConfirmedTest,
        symptom_onset: None,
        issued_at: NOW,
        nonce: [nonce; 16],
        keys: vec![UploadKey {
            key: TemporaryExposureKey::from_bytes([nonce; 16]),
            rolling_start: IntervalNumber(20_399 * 144),
            rolling_period: 144,
            transmission_risk: 4,
        }],
    }
    .sign(&authority())
    .unwrap();
    SignedCaseReport::decode(&report)
        .unwrap()
        .verify(&registry())
        .unwrap()
        .accept(&policy(), NOW)
        .unwrap()
}

async fn publish(
    store: &(impl TraceStore + ?Sized),
    sequence: u64,
    upto: u64,
    window_end: UnixTime,
) {
    let head = TraceHead {
        sequence,
        hash: [sequence as u8; 32],
        window_end,
        published_upto: upto,
    };
    let entry = IndexEntry {
        sequence,
        window_start: window_end.minus(DAY),
        window_end,
        hash: head.hash,
        size: 5,
    };
    store.publish_traces(&entry, head).await.unwrap();
}

#[tokio::test]
async fn traces_replays_quota_and_publication_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut cafe = Venue::new(1);
    let first = cafe.trace(1, &[5, 4]);
    {
        let store = SledStore::open(&path, DAY, [9; 32]).unwrap();
        let empty = store.fingerprint().await.unwrap();
        assert_eq!(
            store.insert_trace(&first, 3).await.unwrap(),
            Inserted::Stored
        );
        assert_ne!(store.fingerprint().await.unwrap(), empty);
        store.close().await.unwrap();
    }
    let store = SledStore::open(&path, DAY, [9; 32]).unwrap();
    // A retry of the same report is answered as stored; another report with its nonce is a
    // replay, and changes nothing.
    assert_eq!(
        store.insert_trace(&first, 3).await.unwrap(),
        Inserted::AlreadyStored
    );
    let before = store.fingerprint().await.unwrap();
    assert!(matches!(
        store.insert_trace(&cafe.trace(1, &[3]), 3).await,
        Err(StoreError::Replayed(0))
    ));
    assert_eq!(store.fingerprint().await.unwrap(), before);
    // Quota 3 a day, shared with case reports: the trace, a case report, one more trace.
    store.insert(&[case(7)], 3).await.unwrap();
    let second = cafe.trace(2, &[2]);
    store.insert_trace(&second, 3).await.unwrap();
    assert!(matches!(
        store.insert_trace(&cafe.trace(3, &[1]), 3).await,
        Err(StoreError::QuotaExceeded(0))
    ));
    assert!(matches!(
        store.insert(&[case(8)], 3).await,
        Err(StoreError::QuotaExceeded(0))
    ));

    // Pending: both reports, in the order accepted.
    let pending = store.pending_traces().await.unwrap();
    assert_eq!(pending.reports, 2);
    assert_eq!(pending.entries.len(), 3);
    assert_eq!(pending.entries[..2], first.entries()[..]);
    let window_end = UnixTime((NOW.0 / DAY + 1) * DAY);
    publish(&store, 1, pending.upto, window_end).await;
    assert_eq!(store.pending_traces().await.unwrap().reports, 0);
    // A trace stored after publication is the next batch's, also after a restart.
    let third = cafe.trace(4, &[0]);
    store.insert_trace(&third, 9).await.unwrap();
    store.close().await.unwrap();
    let store = SledStore::open(&path, DAY, [9; 32]).unwrap();
    let head = store.trace_head().await.unwrap().unwrap();
    assert_eq!((head.sequence, head.published_upto), (1, pending.upto));
    let later = store.pending_traces().await.unwrap();
    assert_eq!(later.entries, third.entries());
    assert!(later.upto > pending.upto);
    // Published traces' tokens are still refused for other reports.
    assert!(matches!(
        store.insert_trace(&cafe.trace(2, &[6]), 9).await,
        Err(StoreError::Replayed(0))
    ));

    // Retention forgets old trace batches (their sequences are returned for the files).
    publish(&store, 2, later.upto, window_end.plus(DAY)).await;
    let entries = store.trace_index_entries().await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        store.prune_trace_batches(window_end.plus(1)).await.unwrap(),
        [1]
    );
    assert_eq!(store.trace_index_entries().await.unwrap().len(), 1);
    // The key chain is another chain: untouched.
    assert!(store.index_entries().await.unwrap().is_empty());
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_replicas_share_traces_replays_quota_and_one_trace_chain() {
    use en_server::store::postgres::{Connect, Database, PgStore};
    let test = "postgres_replicas_share_traces_replays_quota_and_one_trace_chain";
    let Some(cluster) = support::pg::shared(test) else {
        return;
    };
    let c = Connect {
        url: cluster.create_database("traces").unwrap(),
        password: Some(
            std::fs::read_to_string(cluster.password_file())
                .unwrap()
                .trim()
                .to_string()
                .into(),
        ),
        ca_pem: None,
        pool_size: 8,
    };
    let replica = || async {
        PgStore::open(Database::connect(&c).await.unwrap(), DAY, [9; 32])
            .await
            .unwrap()
    };
    let (a, b) = (Arc::new(replica().await), Arc::new(replica().await));
    let mut cafe = Venue::new(1);
    let first = cafe.trace(1, &[5, 4]);
    let empty = a.fingerprint().await.unwrap();
    assert_eq!(a.insert_trace(&first, 3).await.unwrap(), Inserted::Stored);
    assert_ne!(b.fingerprint().await.unwrap(), empty);
    // A retry on the other replica is answered as stored; another report with the nonce is a
    // replay there too, and changes nothing.
    assert_eq!(
        b.insert_trace(&first, 3).await.unwrap(),
        Inserted::AlreadyStored
    );
    let before = a.fingerprint().await.unwrap();
    assert!(matches!(
        b.insert_trace(&cafe.trace(1, &[3]), 3).await,
        Err(StoreError::Replayed(0))
    ));
    assert_eq!(a.fingerprint().await.unwrap(), before);
    // Quota 3 a day, shared with case reports and across replicas.
    a.insert(&[case(7)], 3).await.unwrap();
    let second = cafe.trace(2, &[2]);
    b.insert_trace(&second, 3).await.unwrap();
    let before = a.fingerprint().await.unwrap();
    assert!(matches!(
        a.insert_trace(&cafe.trace(3, &[1]), 3).await,
        Err(StoreError::QuotaExceeded(0))
    ));
    assert!(matches!(
        b.insert(&[case(8)], 3).await,
        Err(StoreError::QuotaExceeded(0))
    ));
    assert_eq!(
        b.fingerprint().await.unwrap(),
        before,
        "a refusal writes nothing"
    );

    // Pending, on either replica: both reports, in the order accepted.
    let pending = b.pending_traces().await.unwrap();
    assert_eq!(pending.reports, 2);
    assert_eq!(pending.entries.len(), 3);
    assert_eq!(pending.entries[..2], first.entries()[..]);
    assert_eq!(pending.entries[2..], second.entries()[..]);
    let window_end = UnixTime((NOW.0 / DAY + 1) * DAY);
    publish(&*a, 1, pending.upto, window_end).await;
    // The other replica cannot publish a second batch 1: the trace chain does not fork.
    let head = TraceHead {
        sequence: 1,
        hash: [0xee; 32],
        window_end,
        published_upto: pending.upto,
    };
    let entry = IndexEntry {
        sequence: 1,
        window_start: window_end.minus(DAY),
        window_end,
        hash: head.hash,
        size: 5,
    };
    assert!(matches!(
        b.publish_traces(&entry, head).await,
        Err(StoreError::ChainMoved(_))
    ));
    let h = b.trace_head().await.unwrap().unwrap();
    assert_eq!(
        (h.sequence, h.hash, h.published_upto),
        (1, [1; 32], pending.upto)
    );
    assert_eq!(b.pending_traces().await.unwrap().reports, 0);
    // Published traces' tokens are still refused for other reports.
    assert!(matches!(
        a.insert_trace(&cafe.trace(2, &[6]), 99).await,
        Err(StoreError::Replayed(0))
    ));

    // Traces racing a batch: 24 reports inserted on both replicas while a batch reads the
    // pending ones and publishes them. Every report is published exactly once: in this
    // batch, or pending for the next.
    let traces: Vec<AcceptedTrace> = (0..24u8).map(|i| cafe.trace(100 + i, &[1])).collect();
    let tasks: Vec<_> = traces
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { s.insert_trace(&t, 1000).await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let read = a.pending_traces().await.unwrap();
    publish(&*a, 2, read.upto, window_end.plus(DAY)).await;
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), Inserted::Stored);
    }
    let rest = b.pending_traces().await.unwrap();
    assert_eq!(read.reports + rest.reports, 24, "each report once");
    assert!(rest.reports == 0 || rest.upto > read.upto);
    publish(&*b, 3, rest.upto, window_end.plus(2 * DAY)).await;
    assert_eq!(a.pending_traces().await.unwrap().reports, 0);

    // Retention forgets old trace batches (their sequences are returned for the objects);
    // the key chain is another chain: untouched.
    assert_eq!(
        a.trace_index_entries()
            .await
            .unwrap()
            .iter()
            .map(|e| e.sequence)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(
        b.prune_trace_batches(window_end.plus(1)).await.unwrap(),
        [1]
    );
    assert_eq!(a.trace_index_entries().await.unwrap().len(), 2);
    assert!(a.index_entries().await.unwrap().is_empty());
}
