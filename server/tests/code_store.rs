//! Both code stores give the same answers: issuing under the cap on outstanding short codes
//! (all or nothing, collisions refused), redeeming and spending exactly once (also when
//! requests race), statistics, failed attempts, the audit log, and purging what expired.
//! PostgreSQL runs it on two replicas of one database (issued on one, redeemed on the other);
//! sled on one store.
//!
//! The PostgreSQL half runs against a throwaway cluster (`support::pg`); it is skipped, saying
//! so, without PostgreSQL unless `EN_REQUIRE_ALL_TESTS` is set.

mod support;

use std::sync::Arc;

use en_api::date::Day;
use en_api::verify::TestType;
use en_protocol::UnixTime;
use en_server::store::codes::{
    AuditAction, AuditEntry, Claims, CodeStore, CodeStoreError, NewIssue, Refusal,
};
use en_server::store::postgres::{Connect, Database, PgCodeStore};
use en_server::store::SledStore;
use support::pg;

const DAY: u64 = 86_400;
/// Day 20400, 10:00 UTC.
const NOW: UnixTime = UnixTime(20_400 * DAY + 10 * 3600);

fn claims(authority: &str) -> Claims {
    Claims {
        authority: authority.into(),
        test_type: TestType::Confirmed,
        test_date: Day(20_399),
        symptom_onset: Some(Day(20_397)),
    }
}

/// Issue `n`: its long code's hash is `[n; 32]`, its short code's (if any) `[n + 100; 32]`.
fn issue(n: u8, authority: &str, short: bool) -> NewIssue {
    NewIssue {
        id: [n; 16],
        claims: claims(authority),
        short: short.then_some(([n + 100; 32], NOW.plus(3600))),
        long: ([n; 32], NOW.plus(DAY)),
    }
}

fn audit(count: u64, at: UnixTime) -> AuditEntry {
    AuditEntry {
        at,
        authority: "moh".into(),
        actor: "alice".into(),
        action: AuditAction::Issued,
        count,
    }
}

fn refused<T: std::fmt::Debug>(r: Result<T, CodeStoreError>) -> Refusal {
    match r {
        Err(CodeStoreError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn the_same_answers(a: Arc<dyn CodeStore>, b: Arc<dyn CodeStore>) {
    // Two short codes allowed: issues 1 (short) and 2 (short) and 3 (long only) on A.
    a.issue(
        &[
            issue(1, "moh", true),
            issue(2, "moh", true),
            issue(3, "moh", false),
        ],
        &audit(3, NOW),
        2,
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(b.outstanding_short("moh", NOW).await.unwrap(), 2);
    assert_eq!(b.outstanding_short("other", NOW).await.unwrap(), 0);
    let before = a.fingerprint().await.unwrap();
    // The cap holds on the other replica; a collision with a stored hash refuses the whole
    // issue; neither writes anything.
    assert!(matches!(
        b.issue(&[issue(4, "moh", true)], &audit(1, NOW), 2, NOW)
            .await,
        Err(CodeStoreError::TooManyShortCodes)
    ));
    let mut twin = issue(5, "moh", false);
    twin.long.0 = [2; 32];
    assert!(matches!(
        b.issue(&[issue(6, "moh", false), twin], &audit(2, NOW), 2, NOW)
            .await,
        Err(CodeStoreError::Collision)
    ));
    assert_eq!(b.fingerprint().await.unwrap(), before);

    // Issued on A, redeemed on B: both codes of the issue are used from then on.
    let got = b
        .redeem(&[1; 32], &[201; 32], NOW.plus(600), NOW)
        .await
        .unwrap();
    assert_eq!(got, claims("moh"));
    assert_eq!(
        refused(a.redeem(&[1; 32], &[202; 32], NOW.plus(600), NOW).await),
        Refusal::Used
    );
    assert_eq!(
        refused(a.redeem(&[101; 32], &[202; 32], NOW.plus(600), NOW).await),
        Refusal::Used
    );
    assert_eq!(a.outstanding_short("moh", NOW).await.unwrap(), 1);
    assert_eq!(
        refused(a.redeem(&[99; 32], &[202; 32], NOW.plus(600), NOW).await),
        Refusal::Unknown
    );
    // Issue 2's short code expired an hour after issue; its long code is still good.
    let later = NOW.plus(2 * 3600);
    assert_eq!(
        refused(
            b.redeem(&[102; 32], &[202; 32], later.plus(600), later)
                .await
        ),
        Refusal::Expired
    );
    assert_eq!(a.outstanding_short("moh", later).await.unwrap(), 0);

    // Sixteen redeems of issue 2 racing on both replicas: one wins.
    let tasks: Vec<_> = (0..16u8)
        .map(|k| {
            let s = if k % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                s.redeem(&[2; 32], &[210 + k; 32], later.plus(600), later)
                    .await
            })
        })
        .collect();
    let mut token = None;
    for (k, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(c) => {
                assert!(token.is_none(), "a code was redeemed twice");
                assert_eq!(c, claims("moh"));
                token = Some([210 + k as u8; 32]);
            }
            Err(CodeStoreError::Refused(Refusal::Used)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    let token = token.expect("one redeem wins");

    // Tokens: spent once (racing too), not after they expire, unknown ones refused.
    let tasks: Vec<_> = (0..8)
        .map(|k| {
            let s = if k % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { s.spend_token(&token, later).await })
        })
        .collect();
    let mut spent = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(c) => {
                assert_eq!(c, claims("moh"));
                spent += 1;
            }
            Err(CodeStoreError::Refused(Refusal::Used)) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(spent, 1);
    assert_eq!(
        refused(a.spend_token(&[201; 32], NOW.plus(601)).await),
        Refusal::Expired
    );
    assert_eq!(
        refused(b.spend_token(&[77; 32], NOW).await),
        Refusal::Unknown
    );

    // Statistics, failed attempts and the audit log, whichever replica counted them.
    a.count_keys("moh", Day(20_400), 14).await.unwrap();
    b.count_keys("moh", Day(20_400), 7).await.unwrap();
    a.count_failure(NOW.0 / 3600, "moh").await.unwrap();
    b.count_failure(NOW.0 / 3600, "moh").await.unwrap();
    b.count_failure(NOW.0 / 3600, "other").await.unwrap();
    let mut f = a.failures(NOW.0 / 3600).await.unwrap();
    f.sort();
    assert_eq!(f, [("moh".to_string(), 2), ("other".to_string(), 1)]);
    assert!(b.failures(NOW.0 / 3600 + 1).await.unwrap().is_empty());
    // Key counts wait in memory until they are flushed (by reading statistics here).
    a.stats("moh", Day(20_400)).await.unwrap();
    let stats = b.stats("moh", Day(20_400)).await.unwrap();
    assert_eq!(stats.len(), 1);
    let (day, s) = stats[0];
    assert_eq!(day, Day(20_400));
    assert_eq!(
        (s.issued, s.claimed, s.expired, s.certificates, s.keys),
        (3, 2, 0, 1, 21)
    );
    assert!(a.stats("moh", Day(20_401)).await.unwrap().is_empty());
    b.audit(&audit(1, NOW.plus(5))).await.unwrap();
    let log = a.audit_log("moh", 1).await.unwrap();
    assert_eq!(log, [audit(1, NOW.plus(5))]);
    assert_eq!(a.audit_log("moh", 10).await.unwrap().len(), 2);
    assert!(a.audit_log("other", 10).await.unwrap().is_empty());

    // Purge two days on: every issue's codes expired (issue 3 unused: counted expired), the
    // tokens too; statistics and the log from before the kept day go.
    let purged = a.purge(NOW.plus(2 * DAY), Day(20_400)).await.unwrap();
    assert_eq!((purged.issues, purged.tokens), (3, 2));
    assert_eq!(
        refused(b.redeem(&[3; 32], &[230; 32], NOW.plus(600), NOW).await),
        Refusal::Unknown
    );
    let s = b.stats("moh", Day(20_402)).await.unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].1.expired, 1);
    let purged = b.purge(NOW.plus(2 * DAY), Day(20_402)).await.unwrap();
    assert_eq!((purged.issues, purged.tokens), (0, 0));
    assert!(a.stats("moh", Day(0)).await.unwrap().len() == 1);
    assert!(a.audit_log("moh", 10).await.unwrap().is_empty());
    assert!(b.failures(NOW.0 / 3600).await.unwrap().is_empty());
    // A fake request writes and stores nothing.
    let before = a.fingerprint().await.unwrap();
    b.chaff(300).await.unwrap();
    assert_eq!(a.fingerprint().await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sled_codes() {
    let store = SledStore::temporary(DAY).unwrap();
    let codes: Arc<dyn CodeStore> = Arc::new(store.code_store().unwrap());
    the_same_answers(codes.clone(), codes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_codes_on_two_replicas() {
    let Some(cluster) = pg::shared("postgres_codes_on_two_replicas") else {
        return;
    };
    let c = Connect {
        url: cluster.create_database("codes").unwrap(),
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
    let a = PgCodeStore::open(Database::connect(&c).await.unwrap())
        .await
        .unwrap();
    let b = PgCodeStore::open(Database::connect(&c).await.unwrap())
        .await
        .unwrap();
    the_same_answers(Arc::new(a), Arc::new(b)).await;
}
