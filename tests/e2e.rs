//! End to end: a real server over TLS with a real sled store; authorities upload case reports,
//! phones upload with certificates, a batch closes, and a phone downloads, verifies and finds
//! exactly the uploaded keys plus padding.

mod common;

use std::collections::BTreeMap;

use base64::Engine;
use common::*;
use en_protocol::wire::ReportType;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_published_in_a_verified_chained_batch() {
    let mut s = TestServer::start().await;

    // Authority flow: two case reports.
    let k1 = s.keys(14);
    let k2 = s.keys(3);
    for keys in [&k1, &k2] {
        let report = s.case_report(keys.clone());
        let (status, body, _) = post_json(&s, "/v1/cases", &TestServer::case_body(&report)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accepted_keys"], keys.len());
        assert!(
            body.get("revision_token").is_none(),
            "confirmed uploads are not revisable"
        );
    }
    // Authority flow, in bulk: two more reports in one request.
    let k4 = s.keys(2);
    let k5 = s.keys(4);
    let reports: Vec<String> = [&k4, &k5]
        .iter()
        .map(|k| B64.encode(s.case_report((*k).clone())))
        .collect();
    let (status, body, _) = post_json(
        &s,
        "/v1/cases/bulk",
        &serde_json::json!({ "reports": reports }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted_reports"], 2);
    assert_eq!(body["accepted_keys"], k4.len() + k5.len());
    // Patient flow: a certified phone upload (self-report) and a fake upload.
    let k3 = s.keys(5);
    let body = s.certified_body(&k3, ReportType::SelfReport, 3600);
    let (status, real, real_len) = post_json(&s, "/v1/publish", &body).await;
    assert_eq!(status, 200, "{real}");
    // A self-report is revisable: the answer carries a revision token for exactly its keys.
    let token = B64
        .decode(real["revision_token"].as_str().expect("a revision token"))
        .unwrap();
    let token = en_protocol::wire::revision::RevisionToken::decode(&token).unwrap();
    assert_eq!(token.report_type, ReportType::SelfReport);
    let secret =
        en_server::datadir::read_replay_key(&s.dir().join(en_server::datadir::REVISION_KEY_FILE))
            .unwrap();
    let secret = en_protocol::wire::revision::RevisionSecret::from_bytes(secret);
    assert_eq!(
        secret.verify(&token, &k3, now()),
        Ok(ReportType::SelfReport)
    );
    assert!(secret.verify(&token, &k3[1..], now()).is_err());
    let mut fake = body.clone();
    fake["fake"] = serde_json::json!(true);
    let before_fake = s.fingerprint().await;
    let (status, fake_body, fake_len) = post_json(&s, "/v1/publish", &fake).await;
    assert_eq!(status, 200);
    assert_eq!(
        fake_len, real_len,
        "fake and real answers must be the same size"
    );
    assert_eq!(fake_body["accepted_keys"], real["accepted_keys"]);
    assert!(fake_body.get("revision_token").is_none());
    assert_eq!(
        s.fingerprint().await,
        before_fake,
        "a fake upload stores nothing"
    );

    // Wait for a batch that contains them, then download as a phone would.
    s.wait_for_window_past(now()).await;
    let mut phone = s.phone();
    let synced = s.sync(&mut phone).await;
    assert!(!synced.batches.is_empty());
    let mut published: BTreeMap<[u8; 16], en_protocol::wire::key::KeyMetadata> = BTreeMap::new();
    let mut total = 0;
    for (b, _) in &synced.batches {
        assert!(
            b.header().key_count as usize >= 20,
            "every batch is padded to the minimum size"
        );
        total += b.keys().len();
        for k in b.keys() {
            published.insert(*k.key.as_bytes(), k.meta);
        }
    }
    let expect = |keys: &[en_protocol::wire::key::UploadKey], rt: ReportType| {
        for k in keys {
            let m = published
                .get(k.key.as_bytes())
                .unwrap_or_else(|| panic!("uploaded key missing from batches"));
            assert_eq!(m.report_type, rt);
            assert_eq!(m.rolling_start, k.rolling_start);
            assert_eq!(m.rolling_period, k.rolling_period);
            assert_eq!(m.transmission_risk, rt.default_transmission_risk());
        }
    };
    expect(&k1, ReportType::ConfirmedTest);
    expect(&k2, ReportType::ConfirmedTest);
    expect(&k3, ReportType::SelfReport);
    expect(&k4, ReportType::ConfirmedTest);
    expect(&k5, ReportType::ConfirmedTest);
    // Exactly the uploaded keys plus padding: the batch holding the real keys has
    // max(real, min) keys, and every other key is padding that copies real metadata.
    let real = k1.len() + k2.len() + k3.len() + k4.len() + k5.len();
    let with_real: Vec<_> = synced
        .batches
        .iter()
        .filter(|(b, _)| b.keys().iter().any(|k| k.key == k1[0].key))
        .collect();
    assert_eq!(with_real.len(), 1);
    assert_eq!(with_real[0].0.keys().len(), real.max(20));
    assert_eq!(
        published.len(),
        total,
        "no key appears twice across batches"
    );
    // Days since onset come from the signed onset (3 days before today).
    let first = published.get(k1[0].key.as_bytes()).unwrap();
    assert_eq!(
        first.days_since_onset,
        Some(2),
        "yesterday's key, onset three days ago"
    );

    // The chain continues across syncs: a later sync from the last header accepts only newer batches.
    let last = synced.batches.last().unwrap().0.header().clone();
    s.wait_for_batch(last.sequence).await;
    let more = s.sync(&mut phone).await;
    assert!(!more.batches.is_empty());
    more.batches[0].0.check_follows(&last).unwrap();

    // Signed risk configuration.
    let rc = s.client.get("/v1/config").await.unwrap();
    let rc = en_protocol::wire::config::SignedRiskConfig::decode(&rc)
        .unwrap()
        .verify(&s.export)
        .unwrap();
    assert_eq!(rc.config().notification_threshold, 900);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_immutable_and_cacheable() {
    let s = TestServer::start().await;
    let seq = s.wait_for_batch(0).await;
    let pem = std::fs::read(s.ca()).unwrap();
    let http = en_client::transport::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let url = format!("{}/v1/batches/{seq}", s.url);
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let cc = r.headers()["cache-control"].to_str().unwrap().to_string();
    assert!(
        cc.contains("immutable") && cc.contains("public") && cc.contains("max-age="),
        "{cc}"
    );
    let bytes = r.bytes().await.unwrap();
    let hash = en_protocol::wire::batch::SignedBatch::decode(&bytes)
        .unwrap()
        .header()
        .hash;
    assert_eq!(
        etag,
        format!("\"{}\"", en_protocol::hex::encode(&hash)),
        "strong ETag = batch hash"
    );
    let r = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = http
        .get(&url)
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The same batch later is byte-identical.
    s.wait_for_batch(seq).await;
    assert_eq!(
        http.get(&url).send().await.unwrap().bytes().await.unwrap(),
        bytes
    );
    for (path, status, code) in [
        ("/v1/batches/0", 400, "invalid_sequence"),
        ("/v1/batches/x1", 400, "invalid_sequence"),
        ("/v1/batches/99999", 404, "batch_not_found"),
        ("/nope", 404, "not_found"),
    ] {
        let r = http.get(format!("{}{path}", s.url)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(b["error"], code, "{path}");
    }
    // A wrong method: 405 with the allowed ones in Allow (RFC 9110 §15.5.6).
    for (method, path, allow) in [
        (reqwest::Method::GET, "/v1/cases", "POST"),
        (reqwest::Method::PUT, "/v1/publish", "POST"),
        (reqwest::Method::POST, "/v1/index", "GET, HEAD"),
        (reqwest::Method::DELETE, "/v1/batches/1", "GET, HEAD"),
    ] {
        let r = http
            .request(method.clone(), format!("{}{path}", s.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(b["error"], "method_not_allowed");
    }
    // HEAD wherever GET works: the same status and headers, no body (RFC 9110 §9.1).
    for path in [
        format!("/v1/batches/{seq}"),
        "/v1/index".into(),
        "/v1/config".into(),
        "/healthz".into(),
    ] {
        let get = http.get(format!("{}{path}", s.url)).send().await.unwrap();
        let head = http.head(format!("{}{path}", s.url)).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(
            head.headers().get("content-length"),
            get.headers().get("content-length"),
            "HEAD {path}"
        );
        assert_eq!(
            head.headers().get("etag"),
            get.headers().get("etag"),
            "HEAD {path}"
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has no body"
        );
    }
    // Operators' metrics are on the admin listener only.
    let r = http.get(format!("{}/metrics", s.url)).send().await.unwrap();
    assert_eq!(r.status(), 404, "no metrics on the public listener");
    let m = http
        .get(format!("{}/metrics", s.server.admin_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("en_batches_published_total"), "{m}");
    assert!(m.contains("en_request_duration_seconds_bucket"), "{m}");
    let r = http
        .get(format!("{}/v1/index", s.server.admin_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "no public endpoints on the admin listener");
    assert_eq!(
        http.get(format!("{}/healthz", s.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_batches_are_refused_by_phones() {
    let s = TestServer::start().await;
    let seq = s.wait_for_batch(0).await;
    let bytes = s.client.get(&format!("/v1/batches/{seq}")).await.unwrap();
    let mut phone = s.phone();
    phone
        .handle_index(&s.client.get("/v1/index").await.unwrap(), now())
        .unwrap();
    let mut t = bytes.to_vec();
    let n = t.len();
    t[n - 100] ^= 1; // a key byte
                     // Not the batch the signed index announced; the phone's state is unchanged by the refusal.
    let e = phone.handle_batch(&t, now()).unwrap_err();
    assert_eq!(e.code(), "batch_hash_mismatch", "{e}");
    assert_eq!(
        phone
            .handle_batch(&bytes, now())
            .unwrap()
            .batch()
            .header()
            .sequence,
        1
    );
    // Its signature no longer verifies either.
    let e = en_protocol::wire::batch::SignedBatch::decode(&t)
        .map_err(en_protocol::Error::from)
        .and_then(|b| b.verify(&s.export).map(|_| ()))
        .unwrap_err();
    assert!(matches!(e.code(), "bad_signature" | "non_canonical"), "{e}");
    // A phone that trusts another export key refuses the index.
    let other = en_protocol::verify::ExportKeys::from(
        en_protocol::keys::SigningKey::from_seed(&[1; 32]).public_key(),
    );
    let mut stranger =
        en_client::fetch::follower(other, en_protocol::wire::Region::new("VN").unwrap());
    let e = stranger
        .handle_index(&s.client.get("/v1/index").await.unwrap(), now())
        .unwrap_err();
    assert_eq!(e.code(), "unknown_export_key");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_while_batches_close_are_published_exactly_once() {
    // One-second windows while four clients upload for three seconds: several windows close
    // under a stream of uploads, and each acknowledged key must be in exactly one batch (none
    // lost at a window's edge, none published twice).
    let mut cfg = test_config();
    cfg.batch_period_seconds = 1;
    cfg.min_batch_size = 5;
    cfg.authority_daily_upload_quota = 1_000_000;
    let s = TestServer::start_with(cfg).await;
    let head_before = s.head().await.map_or(0, |h| h.sequence);
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<[u8; 16]>::new()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut tasks = Vec::new();
    for w in 0..4u64 {
        let (client, acked, key) = (
            s.client.clone(),
            acked.clone(),
            en_protocol::keys::SigningKey::from_seed(&s.authority.to_seed()),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = <rand_chacha::ChaCha20Rng as rand::SeedableRng>::seed_from_u64(w);
            while std::time::Instant::now() < deadline {
                let (keys, report) = signed_case(&key, 2, &mut rng);
                let _: en_api::json::UploadAccepted = client
                    .post_json("/v1/cases", &TestServer::case_body(&report))
                    .await
                    .unwrap();
                acked
                    .lock()
                    .unwrap()
                    .extend(keys.iter().map(|k| *k.key.as_bytes()));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let during = s.head().await.map_or(0, |h| h.sequence) - head_before;
    assert!(
        during >= 2,
        "only {during} batches closed during the uploads"
    );
    // Every key uploaded so far is released by the next boundary: wait for two more batches.
    let seq = s.wait_for_batch(head_before + during).await;
    s.wait_for_batch(seq).await;
    let synced = s.sync(&mut s.phone()).await;
    let mut count: std::collections::HashMap<[u8; 16], usize> = Default::default();
    for (b, _) in &synced.batches {
        for k in b.keys() {
            *count.entry(*k.key.as_bytes()).or_default() += 1;
        }
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 100, "only {} keys uploaded", acked.len());
    for k in acked.iter() {
        assert_eq!(
            count.get(k),
            Some(&1),
            "an acknowledged key is not in exactly one batch"
        );
    }
    s.stop().await.unwrap();
}

/// `en-server serve` takes its data directory relative to the working directory (`./en-data`
/// by default): the server must find that directory's authority registry, or it knows no
/// authority and refuses every upload as `unknown_authority`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_data_directory_knows_its_authorities() {
    let cwd = std::env::current_dir().unwrap();
    // Under the working directory, so that it can be named relative to it.
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let base = if base.starts_with(&cwd) {
        base
    } else {
        cwd.as_path()
    };
    let tmp = tempfile::Builder::new()
        .prefix("relative-data-dir-")
        .tempdir_in(base)
        .unwrap();
    let rel = tmp.path().strip_prefix(&cwd).unwrap();
    let mut rng = <rand_chacha::ChaCha20Rng as rand::SeedableRng>::seed_from_u64(1);
    let authority = en_protocol::keys::SigningKey::generate(&mut rng);
    let cfg = make_data_dir(rel, &test_config(), &authority);
    assert!(cfg.data_dir.is_relative());
    let state = en_server::AppState::open(cfg, test_clock()).await.unwrap();
    let keys = en_client::phone::phone_keys(2, now(), &mut rng);
    let report = en_client::authority::case_report(
        AUTHORITY,
        "VN",
        &authority,
        keys,
        ReportType::ConfirmedTest,
        None,
        now(),
        &mut rng,
    )
    .unwrap();
    let signed = en_protocol::wire::case_report::SignedCaseReport::decode(&report).unwrap();
    assert!(
        signed.verify(&state.registry).is_ok(),
        "the registry of {} was not found",
        rel.display()
    );
}
