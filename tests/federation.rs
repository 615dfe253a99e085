//! Federation between regions (spec/federation.md), end to end on real servers.
//!
//! Import, on two servers: A (region VN) publishes a federation chain for VN-KG; B (region
//! VN-KG) imports it. A case in A who visited VN-KG ends up in B's own batches, verified by a
//! phone that trusts only B, exactly once — after the importer polls again, and after B
//! restarts — and is never forwarded by B. An importer that does not trust the signer, and a
//! peer (or mirror) that forks the chain or leaves a gap, are refused and change nothing.
//!
//! Outbound: a case uploaded with `visited_regions` naming a region this server publishes a
//! federation chain for ends up in that chain, which a follower trusting only the server's
//! export key verifies for that region; a case without the region, with a region the server
//! does not federate with, or certified by an authority that may not share, does not; an
//! unknown region's chain is 404 `unknown_federation_region`.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use common::mirror::Mirror;
use common::running::{run, Running};
use common::*;
use en_client::fetch::{follow, ChainPaths};
use en_protocol::keys::{PublicKey, SigningKey};
use en_protocol::phone::KeyFollower;
use en_protocol::verify::ExportKeys;
use en_protocol::wire::batch::{Batch, SignedBatch};
use en_protocol::wire::index::{Index, IndexEntry, SignedIndex};
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::{Region, ReportType};
use en_protocol::UnixTime;
use en_server::federation::import::{poll, ImportError};

const PEER: &str = "VN-KG";

fn federating(share: bool) -> en_server::config::Config {
    let mut cfg = test_config();
    cfg.federation.outbound_regions = vec![PEER.into()];
    if share {
        cfg.federation.share_authorities = vec![AUTHORITY.into()];
    }
    cfg
}

fn paths(region: &str) -> ChainPaths {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    ChainPaths {
        index: leak(format!("/v1/federation/{region}/index")),
        batches: leak(format!("/v1/federation/{region}/batches/")),
        batch_name: "federation batch",
    }
}

/// Uploads `keys` from a phone that visited `visited`.
async fn upload(s: &mut TestServer, keys: &[UploadKey], visited: &[&str]) {
    let mut body = s.certified_body(keys, ReportType::ConfirmedTest, 3600);
    body["visited_regions"] = serde_json::json!(visited);
    let (status, b, _) = post_json(s, "/v1/publish", &body).await;
    assert_eq!(status, 200, "{b}");
}

/// Every key of `region`'s federation chain on `s`, verified by a follower that trusts only
/// `s`'s export keys and expects `region`.
async fn federation_keys(s: &TestServer, region: &str) -> HashSet<[u8; 16]> {
    let mut f = en_client::fetch::follower(s.export.clone(), Region::new(region).unwrap());
    let got = follow(&s.client, &mut f, paths(region), now(), false)
        .await
        .unwrap();
    assert!(!got.batches.is_empty(), "the chain has batches");
    got.batches
        .iter()
        .flat_map(|(b, _)| b.keys().iter().map(|k| *k.key.as_bytes()))
        .collect()
}

fn teks(keys: &[UploadKey]) -> Vec<[u8; 16]> {
    keys.iter().map(|k| *k.key.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_cases_who_visited_go_to_that_regions_chain_only() {
    let mut s = TestServer::start_with(federating(true)).await;
    let (visited, home, elsewhere) = (s.keys(3), s.keys(3), s.keys(3));
    upload(&mut s, &visited, &[PEER, "VN-SG"]).await;
    upload(&mut s, &home, &[]).await;
    upload(&mut s, &elsewhere, &["VN-SG"]).await;
    s.wait_for_window_past(now()).await;

    let fed = federation_keys(&s, PEER).await;
    assert!(
        teks(&visited).iter().all(|k| fed.contains(k)),
        "visited: in"
    );
    assert!(!teks(&home).iter().any(|k| fed.contains(k)), "home: out");
    assert!(
        !teks(&elsewhere).iter().any(|k| fed.contains(k)),
        "elsewhere: out"
    );
    // The server's own chain has all of them.
    let mut phone = s.phone();
    let own: HashSet<[u8; 16]> = s
        .sync(&mut phone)
        .await
        .batches
        .iter()
        .flat_map(|(b, _)| b.keys().iter().map(|k| *k.key.as_bytes()))
        .collect();
    for k in teks(&visited)
        .iter()
        .chain(&teks(&home))
        .chain(&teks(&elsewhere))
    {
        assert!(own.contains(k), "every case is in the own chain");
    }

    // A region without a chain here.
    let r = s.client.get("/v1/federation/VN-SG/index").await;
    let e = r.expect_err("no chain for VN-SG");
    assert!(e.to_string().contains("unknown_federation_region"), "{e}");
    // Its own region's chain for a region is not a federation chain either.
    assert!(s.client.get("/v1/federation/VN/index").await.is_err());
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authority_that_may_not_share_keeps_its_cases_home() {
    let mut s = TestServer::start_with(federating(false)).await;
    let visited = s.keys(3);
    upload(&mut s, &visited, &[PEER]).await;
    s.wait_for_window_past(now()).await;
    let fed = federation_keys(&s, PEER).await;
    assert!(!teks(&visited).iter().any(|k| fed.contains(k)));
    // Only padding: as many keys as the minimum batch size per batch.
    assert!(!fed.is_empty());
    s.stop().await.unwrap();
}

// ---- Import: two servers ------------------------------------------------------------------

const HOME: &str = "VN";

/// `key` in a public key file, as `en-server export-public-key --out FILE` writes it.
fn key_file(dir: &Path, key: &PublicKey) -> PathBuf {
    let p = dir.join(format!("peer-{}.pub", key.key_id()));
    en_api::keyfile::write_public_key(&p, key).unwrap();
    p
}

/// B: region VN-KG, importing from `url` (A's region VN) trusting the key in `key` and the
/// CA `ca`, polling every second; it also federates with VN-SG (where nothing it imported
/// may go).
fn visited_region(
    dir: &Path,
    url: &str,
    key: &Path,
    ca: Option<&Path>,
) -> en_server::config::Resolved {
    visited_region_with(dir, url, key, ca, serde_json::json!({}))
}

/// [`visited_region`] with more settings of the peer (`limits`, a JSON object).
fn visited_region_with(
    dir: &Path,
    url: &str,
    key: &Path,
    ca: Option<&Path>,
    limits: serde_json::Value,
) -> en_server::config::Resolved {
    let mut cfg = test_config();
    cfg.region = PEER.into();
    cfg.federation.outbound_regions = vec!["VN-SG".into()];
    cfg.federation.share_authorities = vec![AUTHORITY.into()];
    let mut peer = serde_json::json!({
        "region": HOME, "url": url, "export_public_key": key, "poll_seconds": 1,
    });
    if let Some(ca) = ca {
        peer["tls_ca"] = serde_json::json!(ca);
    }
    for (k, v) in limits.as_object().unwrap() {
        peer[k] = v.clone();
    }
    for (k, v) in limits.as_object().unwrap() {
        peer[k] = v.clone();
    }
    cfg.federation.peers = vec![serde_json::from_value(peer).unwrap()];
    use_store_under_test(&mut cfg);
    make_data_dir(dir, &cfg, &SigningKey::generate(&mut rand::rngs::OsRng))
}

/// A phone of region VN-KG: follows B's own chain trusting only B's export keys.
fn kg_phone(b: &Running) -> KeyFollower {
    en_client::fetch::follower(
        ExportKeys::new(b.state.export_public_keys.clone()),
        Region::new(PEER).unwrap(),
    )
}

/// Syncs `phone` on B and adds how often each key appeared in the new batches to `seen`.
async fn count_keys(b: &Running, phone: &mut KeyFollower, seen: &mut HashMap<[u8; 16], usize>) {
    let got = en_client::fetch::sync(&b.client, phone, now(), false)
        .await
        .unwrap();
    for (batch, _) in &got.batches {
        for k in batch.keys() {
            *seen.entry(*k.key.as_bytes()).or_default() += 1;
        }
    }
}

/// Waits (up to 30 s) until B's own chain, read by `phone`, holds every key of `want`.
async fn wait_for_keys(
    b: &Running,
    phone: &mut KeyFollower,
    seen: &mut HashMap<[u8; 16], usize>,
    want: &[[u8; 16]],
) {
    for _ in 0..150 {
        count_keys(b, phone, seen).await;
        if want.iter().all(|k| seen.contains_key(k)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("B did not publish the imported keys within 30 s");
}

/// Waits until B has published a batch whose window ends after `t`.
async fn wait_for_b_window_past(b: &Running, t: UnixTime) {
    for _ in 0..100 {
        if b.state
            .store
            .head()
            .await
            .unwrap()
            .is_some_and(|h| h.window_end > t)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("B published no batch past {t:?} within 10 s");
}

fn exactly_once(seen: &HashMap<[u8; 16], usize>, keys: &[[u8; 16]]) {
    for k in keys {
        assert_eq!(seen.get(k), Some(&1), "each imported key is published once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_reaches_the_visited_regions_batches_exactly_once_across_polls_and_restarts() {
    let mut a = TestServer::start_with(federating(true)).await;
    let (visitor, home) = (a.keys(3), a.keys(3));
    upload(&mut a, &visitor, &[PEER]).await;
    upload(&mut a, &home, &[]).await;
    a.wait_for_window_past(now()).await;

    let tmp = tempfile::tempdir().unwrap();
    let key = key_file(tmp.path(), &a.export_public_key());
    let cfg = visited_region(tmp.path().join("b").as_path(), &a.url, &key, Some(&a.ca()));
    let b = run(&cfg, true).await;
    let mut phone = kg_phone(&b);
    let mut seen = HashMap::new();
    wait_for_keys(&b, &mut phone, &mut seen, &teks(&visitor)).await;
    exactly_once(&seen, &teks(&visitor));
    assert!(
        !teks(&home).iter().any(|k| seen.contains_key(k)),
        "a case that stayed home is not imported"
    );

    // Polling again (while B's own importer polls too) imports nothing twice.
    for _ in 0..2 {
        poll(&b.state, &b.state.peers[0]).await.unwrap();
    }
    wait_for_b_window_past(&b, now()).await;
    count_keys(&b, &mut phone, &mut seen).await;
    exactly_once(&seen, &teks(&visitor));
    let imported = b
        .state
        .store
        .import_state(&Region::new(HOME).unwrap())
        .await
        .unwrap()
        .expect("B remembers where it is in A's chain");
    assert!(imported.head.is_some());

    // A restart resumes where the import stopped: still exactly once, for a phone that
    // continues and for one that reads B's whole chain.
    b.halt().await;
    let b = run(&cfg, true).await;
    let restarted = now();
    wait_for_b_window_past(&b, restarted).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await; // the importer polled again
    wait_for_b_window_past(&b, now()).await;
    count_keys(&b, &mut phone, &mut seen).await;
    exactly_once(&seen, &teks(&visitor));
    let mut fresh = HashMap::new();
    count_keys(&b, &mut kg_phone(&b), &mut fresh).await;
    exactly_once(&fresh, &teks(&visitor));

    // B never forwards what it imported: its VN-SG federation chain has none of it.
    let sg: HashSet<[u8; 16]> = {
        let mut f = en_client::fetch::follower(
            ExportKeys::new(b.state.export_public_keys.clone()),
            Region::new("VN-SG").unwrap(),
        );
        follow(&b.client, &mut f, paths("VN-SG"), now(), false)
            .await
            .unwrap()
            .batches
            .iter()
            .flat_map(|(x, _)| x.keys().iter().map(|k| *k.key.as_bytes()))
            .collect()
    };
    assert!(!teks(&visitor).iter().any(|k| sg.contains(k)));
    // B counts what it imported per peer (padding included: it cannot be told apart).
    let metrics = b.state.metrics.render();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("en_federation_imported_keys_total{peer=\"VN\"}"))
        .expect("an import counter for VN");
    let n: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= visitor.len(), "{line}");
    b.halt().await;
    a.stop().await.unwrap();
}

fn refusal(e: ImportError) -> &'static str {
    match &e {
        ImportError::Refused { .. } => e.reason(),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_signer_is_refused_and_nothing_is_imported() {
    let mut a = TestServer::start_with(federating(true)).await;
    let visitor = a.keys(2);
    upload(&mut a, &visitor, &[PEER]).await;
    a.wait_for_window_past(now()).await;

    let tmp = tempfile::tempdir().unwrap();
    // B trusts some other key for VN.
    let other = SigningKey::generate(&mut rand::rngs::OsRng).public_key();
    let key = key_file(tmp.path(), &other);
    let cfg = visited_region(tmp.path().join("b").as_path(), &a.url, &key, Some(&a.ca()));
    let b = run(&cfg, false).await;
    let before = b.state.store.fingerprint().await.unwrap();
    let e = poll(&b.state, &b.state.peers[0]).await.unwrap_err();
    assert_eq!(refusal(e), "unknown_export_key");
    assert_eq!(
        b.state.store.fingerprint().await.unwrap(),
        before,
        "nothing stored"
    );
    assert_eq!(b.state.store.pending_count().await.unwrap(), 0);
    b.halt().await;
    a.stop().await.unwrap();
}

/// A's federation chain for VN-KG as A lists it.
async fn fed_entries(a: &TestServer) -> Vec<IndexEntry> {
    let raw = a
        .client
        .get(&format!("/v1/federation/{PEER}/index"))
        .await
        .unwrap();
    SignedIndex::decode(&raw)
        .unwrap()
        .verify(&a.export)
        .unwrap()
        .index()
        .entries
        .clone()
}

/// An index of A's federation chain for VN-KG listing `entries`, signed with A's key.
fn fed_index(a: &TestServer, entries: Vec<IndexEntry>, at: UnixTime) -> Vec<u8> {
    Index {
        region: Region::new(PEER).unwrap(),
        generated_at: at,
        entries,
    }
    .sign(&a.state.export_key)
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_or_gapped_chain_is_refused_even_when_validly_signed() {
    let mut a = TestServer::start_with(federating(true)).await;
    let visitor = a.keys(2);
    upload(&mut a, &visitor, &[PEER]).await;
    a.wait_for_window_past(now()).await;
    a.wait_for_batch(a.head().await.unwrap().sequence).await;
    let all = fed_entries(&a).await;
    assert!(all.len() >= 2, "A's chain for VN-KG has two batches");

    // B imports through a mirror of A's chain (B trusts A's key: the mirror cannot sign,
    // but a peer that holds its key can; neither may fork the chain or leave a gap).
    let m = Mirror::start().await;
    let (idx, bat) = (format!("/v1/federation/{PEER}/index"), |seq: u64| {
        format!("/v1/federation/{PEER}/batches/{seq}")
    });
    let first: Vec<IndexEntry> = all[..all.len() - 1].to_vec();
    for e in &all {
        m.put(
            &bat(e.sequence),
            a.client.get(&bat(e.sequence)).await.unwrap(),
        );
    }
    m.put(&idx, fed_index(&a, first.clone(), now()));
    let tmp = tempfile::tempdir().unwrap();
    let key = key_file(tmp.path(), &a.export_public_key());
    let cfg = visited_region(tmp.path().join("b").as_path(), &m.url, &key, None);
    let b = run(&cfg, false).await;
    let p = poll(&b.state, &b.state.peers[0]).await.unwrap();
    assert_eq!(p.batches, first.len());
    let before = b.state.store.fingerprint().await.unwrap();
    let head = b
        .state
        .store
        .import_state(&Region::new(HOME).unwrap())
        .await
        .unwrap();

    // A fork: the last imported batch replaced by another one, validly signed by A's key,
    // carrying keys of its own.
    let n = first.last().unwrap().sequence;
    let real = SignedBatch::decode(&a.client.get(&bat(n)).await.unwrap()).unwrap();
    let h = real.header().clone();
    let mut rng = rand::rngs::OsRng;
    let forged = Batch {
        region: Region::new(PEER).unwrap(),
        sequence: n,
        window_start: h.window_start,
        window_end: h.window_end,
        prev_hash: h.prev_hash,
        keys: en_protocol::validate::padding(5, 5, (now().0 / 86_400) as u32, &mut rng),
    }
    .sign(&a.state.export_key)
    .unwrap();
    let fh = SignedBatch::decode(&forged).unwrap().header().clone();
    let mut forked = first.clone();
    let last = forked.last_mut().unwrap();
    last.hash = fh.hash;
    last.size = fh.size;
    m.put(&bat(n), forged);
    m.put(&idx, fed_index(&a, forked, now().plus(1)));
    let e = poll(&b.state, &b.state.peers[0]).await.unwrap_err();
    assert_eq!(refusal(e), "chain_fork");
    assert_eq!(
        b.state.store.fingerprint().await.unwrap(),
        before,
        "a fork changes nothing"
    );

    // A gap: the batch after the head left out of a fresh index, the next one listed.
    let next = all.last().unwrap().clone();
    let gap = Batch {
        region: Region::new(PEER).unwrap(),
        sequence: next.sequence + 1,
        window_start: next.window_end,
        window_end: next.window_end.plus(2),
        prev_hash: next.hash,
        keys: en_protocol::validate::padding(5, 5, (now().0 / 86_400) as u32, &mut rng),
    }
    .sign(&a.state.export_key)
    .unwrap();
    let gh = SignedBatch::decode(&gap).unwrap().header().clone();
    m.put(&bat(next.sequence + 1), gap);
    let gapped = vec![IndexEntry {
        sequence: gh.sequence,
        window_start: gh.window_start,
        window_end: gh.window_end,
        hash: gh.hash,
        size: gh.size,
    }];
    m.put(&idx, fed_index(&a, gapped, now().plus(2)));
    let e = poll(&b.state, &b.state.peers[0]).await.unwrap_err();
    assert_eq!(refusal(e), "chain_gap");
    assert_eq!(
        b.state.store.fingerprint().await.unwrap(),
        before,
        "a gap changes nothing"
    );
    assert_eq!(
        b.state
            .store
            .import_state(&Region::new(HOME).unwrap())
            .await
            .unwrap(),
        head
    );

    // The honest continuation is still imported.
    let real_n = a.client.get(&bat(n)).await.unwrap();
    m.put(&bat(n), real_n);
    m.put(
        &bat(next.sequence),
        a.client.get(&bat(next.sequence)).await.unwrap(),
    );
    m.put(&idx, fed_index(&a, all.clone(), now().plus(3)));
    let p = poll(&b.state, &b.state.peers[0]).await.unwrap();
    assert_eq!(p.batches, 1);

    // The peer's chain breaks for good (say its server was rebuilt): a gap B cannot bridge.
    // The operator resynchronises (`en-server federation resync VN`): B forgets its head,
    // keeps the time of the newest index, trusts the first batch listed and follows the
    // chain from there. Keys imported before are known: nothing is stored or published twice.
    let home = Region::new(HOME).unwrap();
    let last = all.last().unwrap().clone();
    let broken = Batch {
        region: Region::new(PEER).unwrap(),
        sequence: last.sequence + 2,
        window_start: last.window_end.plus(2),
        window_end: last.window_end.plus(4),
        prev_hash: [7; 32],
        // Five keys (`padding(real, min, ..)` gives min - real).
        keys: en_protocol::validate::padding(0, 5, (now().0 / 86_400) as u32, &mut rng),
    }
    .sign(&a.state.export_key)
    .unwrap();
    let bh = SignedBatch::decode(&broken).unwrap().header().clone();
    m.put(&bat(bh.sequence), broken);
    let broken_entry = IndexEntry {
        sequence: bh.sequence,
        window_start: bh.window_start,
        window_end: bh.window_end,
        hash: bh.hash,
        size: bh.size,
    };
    m.put(
        &idx,
        fed_index(&a, vec![broken_entry.clone()], now().plus(4)),
    );
    let e = poll(&b.state, &b.state.peers[0]).await.unwrap_err();
    assert_eq!(refusal(e), "chain_gap");
    let before = b.state.store.import_state(&home).await.unwrap().unwrap();
    let pending = b.state.store.pending_count().await.unwrap();
    assert_eq!(
        b.state.store.forget_import_head(&home).await.unwrap(),
        Some(last.sequence)
    );
    let after = b.state.store.import_state(&home).await.unwrap().unwrap();
    assert_eq!(after.head, None);
    assert_eq!(after.index_generated_at, before.index_generated_at);
    // An index older than the newest accepted is still refused after the resync.
    let newest = after.index_generated_at.unwrap();
    m.put(&idx, fed_index(&a, all.clone(), UnixTime(newest.0 - 1)));
    let e = poll(&b.state, &b.state.peers[0]).await.unwrap_err();
    assert_eq!(refusal(e), "index_rollback");
    // The whole chain listed again: imported anew, every key already known.
    m.put(&idx, fed_index(&a, all.clone(), now().plus(5)));
    let p = poll(&b.state, &b.state.peers[0]).await.unwrap();
    assert_eq!((p.batches, p.stored, p.revised), (all.len(), 0, 0));
    assert!(p.known > 0, "the keys imported before are known");
    assert_eq!(b.state.store.pending_count().await.unwrap(), pending);
    // And after another resync, the broken-off chain is followed even when the peer still
    // lists the batches before the hole: a follower without a head trusts the last unbroken
    // run. Its keys are new.
    assert_eq!(
        b.state.store.forget_import_head(&home).await.unwrap(),
        Some(last.sequence)
    );
    let mut holed = all.clone();
    holed.push(broken_entry);
    m.put(&idx, fed_index(&a, holed, now().plus(6)));
    let p = poll(&b.state, &b.state.peers[0]).await.unwrap();
    assert_eq!((p.batches, p.stored), (1, 5), "{p:?}");
    assert_eq!(b.state.store.pending_count().await.unwrap(), pending + 5);
    b.halt().await;
    a.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_are_bounded_in_bytes_and_keys_per_day() {
    let mut a = TestServer::start_with(federating(true)).await;
    let visitor = a.keys(2);
    upload(&mut a, &visitor, &[PEER]).await;
    a.wait_for_window_past(now()).await;
    let tmp = tempfile::tempdir().unwrap();
    let key = key_file(tmp.path(), &a.export_public_key());

    // At most 5 keys a day: A's first batch (padded to 20) waits for the next day.
    let dir = tmp.path().join("b");
    let limits = serde_json::json!({ "max_keys_per_day": 5 });
    let cfg = visited_region_with(&dir, &a.url, &key, Some(&a.ca()), limits);
    let b = run(&cfg, false).await;
    let before = b.state.store.fingerprint().await.unwrap();
    let e = poll(&b.state, &b.state.peers[0]).await.unwrap_err();
    assert_eq!(e.reason(), "daily_limit", "{e}");
    assert_eq!(b.state.store.fingerprint().await.unwrap(), before);
    b.halt().await;

    // An answer larger than max_batch_bytes is not read past the limit.
    let m = Mirror::start().await;
    m.put(&format!("/v1/federation/{PEER}/index"), vec![7u8; 4096]);
    let dir = tmp.path().join("c");
    let limits = serde_json::json!({ "max_batch_bytes": 1024 });
    let cfg = visited_region_with(&dir, &m.url, &key, None, limits);
    let c = run(&cfg, false).await;
    let before = c.state.store.fingerprint().await.unwrap();
    let e = poll(&c.state, &c.state.peers[0]).await.unwrap_err();
    assert_eq!(e.reason(), "too_large", "{e}");
    assert_eq!(c.state.store.fingerprint().await.unwrap(), before);
    c.halt().await;
    a.stop().await.unwrap();
}

/// What B's own chain, read by `phone`, carried for `key` in the batches since the last sync.
async fn b_published(
    b: &Running,
    phone: &mut KeyFollower,
    key: &UploadKey,
) -> Vec<(u64, ReportType)> {
    en_client::fetch::sync(&b.client, phone, now(), false)
        .await
        .unwrap()
        .batches
        .iter()
        .flat_map(|(x, _)| {
            let seq = x.header().sequence;
            x.keys()
                .iter()
                .filter(|k| k.key == key.key)
                .map(move |k| (seq, k.meta.report_type))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_at_the_origin_travels_to_the_visited_region() {
    let mut a = TestServer::start_with(federating(true)).await;
    // A self-report of a case who visited VN-KG; later revoked by a negative lab test.
    let visitor = a.keys(2);
    let mut body = a.certified_body(&visitor, ReportType::SelfReport, 3600);
    body["visited_regions"] = serde_json::json!([PEER]);
    let (status, answer, _) = post_json(&a, "/v1/publish", &body).await;
    assert_eq!(status, 200, "{answer}");
    let token = answer["revision_token"].as_str().unwrap().to_string();
    a.wait_for_window_past(now()).await;

    let tmp = tempfile::tempdir().unwrap();
    let key = key_file(tmp.path(), &a.export_public_key());
    let cfg = visited_region(tmp.path().join("b").as_path(), &a.url, &key, Some(&a.ca()));
    let b = run(&cfg, true).await;
    let mut phone = kg_phone(&b);
    let mut first = Vec::new();
    for _ in 0..150 {
        first = b_published(&b, &mut phone, &visitor[0]).await;
        if !first.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(first.len(), 1, "imported once: {first:?}");
    assert_eq!(first[0].1, ReportType::SelfReport);

    // Revoked at A: A publishes the key again (own and VN-KG chains), B imports the revision
    // and publishes the key again with the new type, once.
    let mut revision = a.certified_body(&visitor, ReportType::Revoked, 3600);
    revision["revision_token"] = serde_json::json!(token);
    let (status, answer, _) = post_json(&a, "/v1/revisions", &revision).await;
    assert_eq!(status, 200, "{answer}");
    let mut again = Vec::new();
    for _ in 0..150 {
        again.extend(b_published(&b, &mut phone, &visitor[0]).await);
        if !again.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(again.len(), 1, "the revision is published once: {again:?}");
    assert_eq!(again[0].1, ReportType::Revoked);
    assert!(again[0].0 > first[0].0, "in a later batch of B");
    // And not again after more polls and windows.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    wait_for_b_window_past(&b, now()).await;
    assert!(b_published(&b, &mut phone, &visitor[0]).await.is_empty());

    // B's operator resynchronises with A (`en-server federation resync VN`, B stopped): B
    // imports A's whole chain again, the self-report batch included. An older batch cannot
    // undo the revocation: nothing is revised, no key is queued for publication again.
    b.halt().await;
    let b = run(&cfg, false).await;
    let home = Region::new(HOME).unwrap();
    let head = b
        .state
        .store
        .import_state(&home)
        .await
        .unwrap()
        .unwrap()
        .head
        .unwrap();
    let pending = b.state.store.pending_count().await.unwrap();
    assert_eq!(
        b.state.store.forget_import_head(&home).await.unwrap(),
        Some(head.sequence)
    );
    let p = poll(&b.state, &b.state.peers[0]).await.unwrap();
    assert!(
        p.batches as u64 >= head.sequence,
        "the whole chain again: {p:?}"
    );
    // (A kept publishing padding batches while B was stopped: their keys are new.)
    assert_eq!(p.revised, 0, "an older batch undid the revocation: {p:?}");
    assert_eq!(
        b.state.store.pending_count().await.unwrap(),
        pending + p.stored,
        "only new keys are queued: {p:?}"
    );
    b.halt().await;
    a.stop().await.unwrap();
}
