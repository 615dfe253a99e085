//! Federation between regions (spec/federation.md), end to end on real servers.
//!
//! Outbound: a case uploaded with `visited_regions` naming a region this server publishes a
//! federation chain for ends up in that chain, which a follower trusting only the server's
//! export key verifies for that region; a case without the region, with a region the server
//! does not federate with, or certified by an authority that may not share, does not; an
//! unknown region's chain is 404 `unknown_federation_region`.

mod common;

use std::collections::HashSet;

use common::*;
use en_client::fetch::{follow, ChainPaths};
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::{Region, ReportType};

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
