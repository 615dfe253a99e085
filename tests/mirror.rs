//! A hostile mirror (or a server that holds the export key) against a phone: it withholds a
//! batch, shows a fork, rolls the index back, freezes it, or lists an absurd sequence. The
//! phone's chain follower must refuse each loudly, keep what it verified, and resynchronise
//! past a gap only when told to (and say so). The same through the `en-sim fetch` CLI.

mod common;

use common::mirror::Mirror;
use common::*;
use en_protocol::wire::batch::{Batch, SignedBatch};
use en_protocol::wire::index::{Index, IndexEntry, SignedIndex};
use en_protocol::UnixTime;

/// The real server's config, index and batches 1..=n, copied to the mirror (with the venue
/// trace chain as the server lists it, which `en-sim fetch` follows too).
async fn copy(s: &TestServer, m: &Mirror, n: u64) {
    for path in ["/v1/config", "/v1/index", "/v1/traces/index"] {
        m.put(path, s.client.get(path).await.unwrap());
    }
    for seq in 1..=n {
        let p = format!("/v1/batches/{seq}");
        m.put(&p, s.client.get(&p).await.unwrap());
    }
    let traces = SignedIndex::decode_as(
        &s.client.get("/v1/traces/index").await.unwrap(),
        &en_protocol::wire::index::TRACE_INDEX,
    )
    .unwrap();
    for e in &traces.verify(&s.export).unwrap().index().entries {
        let p = format!("/v1/traces/batches/{}", e.sequence);
        m.put(&p, s.client.get(&p).await.unwrap());
    }
}

/// An index of `entries`, signed with the server's export key at `at`.
fn index(s: &TestServer, entries: Vec<IndexEntry>, at: UnixTime) -> Vec<u8> {
    Index {
        region: s.state.cfg.region.clone(),
        generated_at: at,
        entries,
    }
    .sign(&s.state.export_key)
    .unwrap()
}

async fn entries(s: &TestServer) -> Vec<IndexEntry> {
    let raw = s.client.get("/v1/index").await.unwrap();
    SignedIndex::decode(&raw)
        .unwrap()
        .verify(&s.export)
        .unwrap()
        .index()
        .entries
        .clone()
}

fn code(e: en_client::Error) -> String {
    match e {
        en_client::Error::Protocol { source, .. } => source.code().to_string(),
        other => panic!("expected a protocol refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_mirror_cannot_hide_fork_or_freeze_the_chain() {
    let s = TestServer::start().await;
    s.wait_for_batch(2).await; // batches 1, 2, 3
    let m = Mirror::start().await;
    let all = entries(&s).await;
    copy(&s, &m, all.last().unwrap().sequence).await;
    let client = m.client();

    // An honest copy: the phone verifies the whole chain.
    let mut phone = s.phone();
    let got = en_client::fetch::sync(&client, &mut phone, now(), false)
        .await
        .unwrap();
    assert_eq!(got.batches.len(), all.len());
    let head = *phone.state();

    // Withholding: batch N+1 is dropped from a fresh, validly signed index. Before, the phone
    // dropped its anchor and accepted what followed; now it is a gap it reports.
    let n = head.head.unwrap().sequence;
    let newest = s.wait_for_batch(n + 1).await; // at least N+2
    copy(&s, &m, newest).await;
    let mut withheld = entries(&s).await;
    withheld.retain(|e| e.sequence != n + 1);
    m.put("/v1/index", index(&s, withheld, now()));
    let e = en_client::fetch::sync(&client, &mut phone, now(), false)
        .await
        .err()
        .unwrap();
    assert_eq!(code(e), "chain_gap");
    let chain =
        |p: &en_protocol::phone::KeyFollower| (p.state().head, p.state().index_generated_at);
    assert_eq!(
        chain(&phone),
        (head.head, head.index_generated_at),
        "a refusal changes nothing"
    );
    // Only when told to does the phone resynchronise, and then it says what it skipped.
    let got = en_client::fetch::sync(&client, &mut phone, now(), true)
        .await
        .unwrap();
    let r = got.resync.expect("a resync is reported");
    assert!(!r.to_string().is_empty());
    assert_eq!(got.batches[0].0.header().sequence, n + 2);

    // A fork: batch 2 replaced by another, validly signed batch with the same sequence.
    let mut phone = s.phone();
    copy(&s, &m, newest).await;
    let b1 = SignedBatch::decode(&s.client.get("/v1/batches/1").await.unwrap()).unwrap();
    let b2 = SignedBatch::decode(&s.client.get("/v1/batches/2").await.unwrap()).unwrap();
    let forged = Batch {
        region: s.state.cfg.region.clone(),
        sequence: 2,
        window_start: b2.header().window_start,
        window_end: b2.header().window_end,
        prev_hash: b1.header().hash,
        keys: vec![],
    }
    .sign(&s.state.export_key)
    .unwrap();
    let forged_header = SignedBatch::decode(&forged).unwrap().header().clone();
    // First the phone follows the real chain up to batch 2 ...
    let mut upto2: Vec<IndexEntry> = all.iter().filter(|e| e.sequence <= 2).cloned().collect();
    m.put("/v1/index", index(&s, upto2.clone(), now()));
    en_client::fetch::sync(&client, &mut phone, now(), false)
        .await
        .unwrap();
    // ... then the mirror shows the fork.
    upto2[1].hash = forged_header.hash;
    upto2[1].size = forged_header.size;
    m.put("/v1/batches/2", forged.clone());
    m.put("/v1/index", index(&s, upto2, now().plus(1)));
    let before = chain(&phone);
    let e = en_client::fetch::sync(&client, &mut phone, now().plus(1), false)
        .await
        .err()
        .unwrap();
    assert_eq!(code(e), "chain_fork");
    assert_eq!(chain(&phone), before);

    // Freezing: the index the phone already saw, replayed later — refused as a rollback once a
    // newer one was seen, and as stale once it is older than 6 hours.
    copy(&s, &m, newest).await;
    let mut phone = s.phone();
    let fresh = index(&s, all.clone(), now());
    let old = index(&s, all.clone(), now().minus(60));
    m.put("/v1/index", fresh);
    en_client::fetch::sync(&client, &mut phone, now(), false)
        .await
        .unwrap();
    m.put("/v1/index", old);
    let e = en_client::fetch::sync(&client, &mut phone, now(), false)
        .await
        .err()
        .unwrap();
    assert_eq!(code(e), "index_rollback");
    m.put("/v1/index", index(&s, all.clone(), now().minus(7 * 3600)));
    let e = en_client::fetch::sync(&client, &mut s.phone(), now(), false)
        .await
        .err()
        .unwrap();
    assert_eq!(code(e), "stale_index");

    // An index listing an absurd sequence after the head: no overflow, no panic, a refusal.
    let mut absurd = all.clone();
    let last = absurd.last().unwrap().clone();
    absurd.push(IndexEntry {
        sequence: u64::MAX,
        window_start: last.window_end,
        window_end: last.window_end.plus(2),
        ..last
    });
    m.put("/v1/index", index(&s, absurd, now().plus(2)));
    let e = en_client::fetch::sync(&client, &mut phone, now().plus(2), false)
        .await
        .err()
        .unwrap();
    assert!(matches!(
        code(e).as_str(),
        "chain_gap" | "sequence_overflow"
    ));
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_to_dir_refuses_a_replayed_index_and_keeps_its_state() {
    let s = TestServer::start().await;
    s.wait_for_batch(1).await;
    let m = Mirror::start().await;
    let all = entries(&s).await;
    copy(&s, &m, all.last().unwrap().sequence).await;
    m.put("/v1/index", index(&s, all.clone(), now()));
    let dir = tempfile::tempdir().unwrap();
    // What `en-sim fetch` runs (on the test clock: the server's batches are on it).
    let run = |resync: bool| {
        let client = m.client();
        let export = s.export.clone();
        let dir = dir.path().to_path_buf();
        async move {
            en_client::fetch::fetch_to_dir(
                &client,
                export,
                en_protocol::wire::Region::new("VN").unwrap(),
                &dir,
                now(),
                resync,
            )
            .await
        }
    };
    let out = run(false).await.unwrap();
    assert!(out.contains("verified and chained"), "{out}");
    let saved = std::fs::read(dir.path().join("follower.json")).unwrap();
    // A replay of an older index (frozen mirror) is an error now, not "0 new batches".
    m.put("/v1/index", index(&s, all.clone(), now().minus(120)));
    let e = run(false).await.unwrap_err();
    assert_eq!(code(e), "index_rollback");
    assert_eq!(
        std::fs::read(dir.path().join("follower.json")).unwrap(),
        saved,
        "state kept"
    );
    s.stop().await.unwrap();
}
