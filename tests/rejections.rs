//! Every rejection rule: the status, the stable error code, and that nothing was stored
//! (the store's fingerprint over every tree is unchanged).

mod common;

use base64::Engine;
use common::*;
use en_protocol::keys::{SigningKey, TemporaryExposureKey};
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::ReportType;
use en_protocol::IntervalNumber;
use serde_json::json;

/// Sends `body` and checks status, code, a readable message, and that the store is unchanged.
async fn rejected(
    s: &TestServer,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    status: u16,
    code: &str,
) {
    let before = s.fingerprint().await;
    // Phone uploads are padded to the server's fixed size, as phones send them.
    let body = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) if path == "/v1/publish" && v.is_object() => {
            padded(&v, s.state.cfg.config.publish_body_bytes)
        }
        _ => body,
    };
    let (got, b, _) = post_raw(s, path, content_type, body).await;
    assert_eq!(
        (got, b["error"].as_str().unwrap_or("")),
        (status, code),
        "body: {b}"
    );
    let msg = b["message"].as_str().unwrap();
    assert!(
        msg.len() > 10 && msg.ends_with('.'),
        "message should be a sentence: {msg}"
    );
    assert_eq!(s.fingerprint().await, before, "{code}: the store changed");
}

async fn case(s: &mut TestServer, keys: Vec<UploadKey>, status: u16, code: &str) {
    let r = s.case_report(keys);
    rejected(
        s,
        "/v1/cases",
        "application/json",
        serde_json::to_vec(&TestServer::case_body(&r)).unwrap(),
        status,
        code,
    )
    .await;
}

fn key(start: u32, period: u8) -> UploadKey {
    UploadKey {
        key: TemporaryExposureKey::from_bytes(rand::random()),
        rolling_start: IntervalNumber(start),
        rolling_period: period,
        transmission_risk: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_report_rules() {
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600; // no batch interferes with fingerprints
    let mut s = TestServer::start_with(cfg).await;
    let today = now().interval().day_start().0;

    case(&mut s, vec![], 400, "no_keys").await;
    let many: Vec<_> = (0..31)
        .map(|i| key(today - 144 * (i % 14 + 1), 144))
        .collect();
    case(&mut s, many, 400, "too_many_keys").await;
    case(
        &mut s,
        vec![key(now().interval().0 + 1, 144)],
        400,
        "key_in_future",
    )
    .await;
    case(&mut s, vec![key(today - 144 * 16, 144)], 400, "key_too_old").await;
    case(
        &mut s,
        vec![key(today - 144, 144), key(today - 100, 144)],
        400,
        "overlapping_keys",
    )
    .await;
    let dup = key(today - 144, 144);
    let mut dup2 = dup.clone();
    dup2.rolling_start = IntervalNumber(today - 288);
    case(&mut s, vec![dup, dup2], 400, "duplicate_key").await;

    // Forged: signed by a key that is not the registered one.
    let mut forged = s.keys(2);
    let stranger = SigningKey::generate(&mut s.rng);
    let r = en_client::authority::case_report(
        AUTHORITY,
        "VN",
        &stranger,
        forged.clone(),
        ReportType::ConfirmedTest,
        None,
        now(),
        &mut s.rng,
    )
    .unwrap();
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        serde_json::to_vec(&TestServer::case_body(&r)).unwrap(),
        401,
        "bad_signature",
    )
    .await;
    // Tampered after signing: a key byte changed.
    let mut r = s.case_report(forged.clone());
    let n = r.len();
    r[n - 64 - 10] ^= 1;
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        serde_json::to_vec(&TestServer::case_body(&r)).unwrap(),
        401,
        "bad_signature",
    )
    .await;
    // Unknown authority.
    let r = en_client::authority::case_report(
        "who.else",
        "VN",
        &s.authority,
        forged.clone(),
        ReportType::ConfirmedTest,
        None,
        now(),
        &mut s.rng,
    )
    .unwrap();
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        serde_json::to_vec(&TestServer::case_body(&r)).unwrap(),
        401,
        "unknown_authority",
    )
    .await;
    // Wrong region for this authority.
    let r = en_client::authority::case_report(
        AUTHORITY,
        "TH",
        &s.authority,
        forged.clone(),
        ReportType::ConfirmedTest,
        None,
        now(),
        &mut s.rng,
    )
    .unwrap();
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        serde_json::to_vec(&TestServer::case_body(&r)).unwrap(),
        403,
        "wrong_region",
    )
    .await;
    // Too old, and from the future.
    let r = en_client::authority::case_report(
        AUTHORITY,
        "VN",
        &s.authority,
        forged.clone(),
        ReportType::ConfirmedTest,
        None,
        now().minus(2 * 86_400),
        &mut s.rng,
    )
    .unwrap();
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        serde_json::to_vec(&TestServer::case_body(&r)).unwrap(),
        400,
        "report_too_old",
    )
    .await;
    let r = en_client::authority::case_report(
        AUTHORITY,
        "VN",
        &s.authority,
        forged.clone(),
        ReportType::ConfirmedTest,
        None,
        now().plus(3600),
        &mut s.rng,
    )
    .unwrap();
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        serde_json::to_vec(&TestServer::case_body(&r)).unwrap(),
        400,
        "not_yet_valid",
    )
    .await;
    // Malformed report bytes, and a rolling period out of range (caught by the decoder).
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        br#"{"report":"RU5DUgE="}"#.to_vec(),
        400,
        "malformed_report",
    )
    .await;
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        br#"{"report":"not base64!"}"#.to_vec(),
        400,
        "malformed_report",
    )
    .await;
    // Transport-level rules.
    let ok_body = serde_json::to_vec(&TestServer::case_body(&{
        let k = s.keys(1);
        s.case_report(k)
    }))
    .unwrap();
    rejected(
        &s,
        "/v1/cases",
        "text/plain",
        ok_body.clone(),
        415,
        "unsupported_media_type",
    )
    .await;
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        b"{\"report\": ".to_vec(),
        400,
        "malformed_json",
    )
    .await;
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        br#"{"report": 5}"#.to_vec(),
        400,
        "invalid_request",
    )
    .await;
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        br#"{"report": "", "report_type": "confirmed"}"#.to_vec(),
        400,
        "invalid_request",
    )
    .await;
    // A body of 3 MiB against the 64 KiB cap: the server reads and throws away what the client
    // is still sending (up to 8 MiB past the cap), so the client reads the 413 instead of a
    // reset connection (Schemathesis once saw "EOF occurred in violation of protocol" there).
    let mut big = b"{\"report\":\"".to_vec();
    big.extend(std::iter::repeat_n(b'A', 3 << 20));
    big.extend_from_slice(b"\"}");
    let before = s.fingerprint().await;
    for path in ["/v1/cases", "/v1/traces"] {
        let (status, b, _) = try_post_raw(&s, path, "application/json", big.clone())
            .await
            .unwrap_or_else(|e| panic!("{path}: the client did not get the answer: {e}"));
        assert_eq!(
            (status, b["error"].as_str().unwrap_or("")),
            (413, "body_too_large"),
            "{path}: {b}"
        );
    }
    // The same with the wrong content type: 415, read to the end.
    let (status, b, _) = try_post_raw(&s, "/v1/cases", "text/plain", big)
        .await
        .expect("the client gets the answer");
    assert_eq!(
        (status, b["error"].as_str().unwrap_or("")),
        (415, "unsupported_media_type"),
        "{b}"
    );
    assert_eq!(s.fingerprint().await, before);

    // Replay: accepted once; the same request again is a retry (answered as stored, nothing
    // new stored); the same nonce with other keys is refused.
    let keys = s.keys(2);
    let nonce: [u8; 16] = rand::random();
    let signed = |keys: Vec<UploadKey>, authority: &SigningKey| {
        en_protocol::wire::case_report::CaseReport {
            authority: en_protocol::wire::AuthorityId::new(AUTHORITY).unwrap(),
            region: en_protocol::wire::Region::new("VN").unwrap(),
            report_type: ReportType::ConfirmedTest,
            symptom_onset: None,
            issued_at: now(),
            nonce,
            keys,
        }
        .sign(authority)
        .unwrap()
    };
    let r = signed(keys.clone(), &s.authority);
    let (st, _, _) = post_json(&s, "/v1/cases", &TestServer::case_body(&r)).await;
    assert_eq!(st, 200);
    let before = s.fingerprint().await;
    let (st, b, _) = post_json(&s, "/v1/cases", &TestServer::case_body(&r)).await;
    assert_eq!(
        (st, b["accepted_keys"].as_u64()),
        (200, Some(2)),
        "a retry: {b}"
    );
    assert_eq!(s.fingerprint().await, before, "a retry stores nothing new");
    let other = signed(s.keys(1), &s.authority);
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        serde_json::to_vec(&TestServer::case_body(&other)).unwrap(),
        409,
        "replayed",
    )
    .await;
    // The same keys in a fresh report: already uploaded.
    forged.truncate(1);
    let again = s.case_report(forged.clone());
    let (st, _, _) = post_json(&s, "/v1/cases", &TestServer::case_body(&again)).await;
    assert_eq!(st, 200);
    case(&mut s, forged, 409, "key_exists").await;

    // Revocation takes effect while the server runs (the CLI rewrites the registry file).
    en_server::registry::revoke(&s.dir().join(en_server::registry::REGISTRY_FILE), AUTHORITY)
        .unwrap();
    let k = s.keys(1);
    case(&mut s, k, 403, "revoked_authority").await;
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certified_upload_rules() {
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600;
    let mut s = TestServer::start_with(cfg).await;
    let keys = s.keys(3);

    // Keys that are not the certified ones.
    let mut body = s.certified_body(&keys, ReportType::ConfirmedTest, 3600);
    body["keys"][0] =
        serde_json::to_value(en_api::json::JsonKey::from_upload_key(&s.keys(1)[0])).unwrap();
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        401,
        "tekmac_mismatch",
    )
    .await;
    // A different HMAC key.
    let mut body = s.certified_body(&keys, ReportType::ConfirmedTest, 3600);
    body["hmac_key"] = json!(B64.encode([9u8; 32]));
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        401,
        "tekmac_mismatch",
    )
    .await;
    // Expired certificate.
    let hk = [3u8; 32];
    let mac = en_protocol::tekmac::tekmac(&hk, &keys, true);
    let cert = en_client::authority::certify(
        AUTHORITY,
        &s.authority,
        mac,
        "en-server:VN",
        ReportType::ConfirmedTest,
        None,
        now().minus(7200),
        3600,
        &mut s.rng,
    )
    .unwrap();
    let body = json!({"certificate": B64.encode(cert), "hmac_key": B64.encode(hk), "keys": keys.iter().map(en_api::json::JsonKey::from_upload_key).collect::<Vec<_>>()});
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        401,
        "certificate_expired",
    )
    .await;
    // Another server's audience.
    let cert = en_client::authority::certify(
        AUTHORITY,
        &s.authority,
        mac,
        "en-server:TH",
        ReportType::ConfirmedTest,
        None,
        now(),
        3600,
        &mut s.rng,
    )
    .unwrap();
    let body = json!({"certificate": B64.encode(cert), "hmac_key": B64.encode(hk), "keys": keys.iter().map(en_api::json::JsonKey::from_upload_key).collect::<Vec<_>>()});
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        401,
        "wrong_audience",
    )
    .await;
    // Forged certificate.
    let stranger = SigningKey::generate(&mut s.rng);
    let cert = en_client::authority::certify(
        AUTHORITY,
        &stranger,
        mac,
        "en-server:VN",
        ReportType::ConfirmedTest,
        None,
        now(),
        3600,
        &mut s.rng,
    )
    .unwrap();
    let body = json!({"certificate": B64.encode(cert), "hmac_key": B64.encode(hk), "keys": keys.iter().map(en_api::json::JsonKey::from_upload_key).collect::<Vec<_>>()});
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        401,
        "bad_signature",
    )
    .await;
    // Malformed pieces.
    let mut body = s.certified_body(&keys, ReportType::ConfirmedTest, 3600);
    body["keys"][0]["key"] = json!(B64.encode([1u8; 15]));
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        400,
        "invalid_key",
    )
    .await;
    let mut body = s.certified_body(&keys, ReportType::ConfirmedTest, 3600);
    body["keys"][0]["rolling_period"] = json!(145);
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        400,
        "invalid_key",
    )
    .await;
    let mut body = s.certified_body(&keys, ReportType::ConfirmedTest, 3600);
    body["keys"][0]["rolling_period"] = json!(300);
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        400,
        "invalid_request",
    )
    .await;
    let mut body = s.certified_body(&keys, ReportType::ConfirmedTest, 3600);
    body["certificate"] = json!(B64.encode([0u8; 80]));
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        400,
        "malformed_certificate",
    )
    .await;
    // The phone cannot choose its report type: unknown fields are refused.
    let mut body = s.certified_body(&keys, ReportType::SelfReport, 3600);
    body["report_type"] = json!("confirmed");
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        400,
        "invalid_request",
    )
    .await;
    // A future key, even when certified.
    let future = vec![UploadKey {
        key: TemporaryExposureKey::from_bytes([5; 16]),
        rolling_start: IntervalNumber(now().interval().0 + 144),
        rolling_period: 144,
        transmission_risk: 0,
    }];
    let body = s.certified_body(&future, ReportType::ConfirmedTest, 3600);
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        400,
        "key_in_future",
    )
    .await;

    // A certificate is accepted once; the same upload again is a retry (answered as stored,
    // nothing new stored). (Other keys with the same certificate fail the tekmac first.)
    let body = s.certified_body(&keys, ReportType::ConfirmedTest, 3600);
    let (st, b, _) = post_json(&s, "/v1/publish", &body).await;
    assert_eq!(st, 200, "{b}");
    let before = s.fingerprint().await;
    let (st, b, _) = post_json(&s, "/v1/publish", &body).await;
    assert_eq!(
        (st, b["accepted_keys"].as_u64()),
        (200, Some(3)),
        "a retry: {b}"
    );
    assert_eq!(s.fingerprint().await, before, "a retry stores nothing new");

    // A certificate valid for longer than the server's cap (24 h) is refused.
    let k = s.keys(2);
    let body = s.certified_body(&k, ReportType::ConfirmedTest, 86_400 + 1);
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        400,
        "certificate_lifetime_too_long",
    )
    .await;
    let body = s.certified_body(&k, ReportType::ConfirmedTest, 86_400);
    assert_eq!(
        post_json(&s, "/v1/publish", &body).await.0,
        200,
        "the cap itself is allowed"
    );

    // An authority registered for another region: its certificates are refused here, as its
    // case reports are.
    let th = SigningKey::generate(&mut s.rng);
    en_server::registry::add(
        &s.dir().join(en_server::registry::REGISTRY_FILE),
        en_server::registry::Entry {
            id: "moh.th".into(),
            public_key: th.public_key().to_hex(),
            region: Some("TH".into()),
            revoked: false,
            added_at: 0,
        },
    )
    .unwrap();
    let k = s.keys(2);
    let hk = [4u8; 32];
    let cert = en_client::authority::certify(
        "moh.th",
        &th,
        en_protocol::tekmac::tekmac(&hk, &k, true),
        "en-server:VN",
        ReportType::ConfirmedTest,
        None,
        now(),
        3600,
        &mut s.rng,
    )
    .unwrap();
    let body = json!({"certificate": B64.encode(cert), "hmac_key": B64.encode(hk), "keys": k.iter().map(en_api::json::JsonKey::from_upload_key).collect::<Vec<_>>()});
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        403,
        "wrong_region",
    )
    .await;
    let r = en_client::authority::case_report(
        "moh.th",
        "VN",
        &th,
        k.clone(),
        ReportType::ConfirmedTest,
        None,
        now(),
        &mut s.rng,
    )
    .unwrap();
    rejected(
        &s,
        "/v1/cases",
        "application/json",
        serde_json::to_vec(&TestServer::case_body(&r)).unwrap(),
        403,
        "wrong_region",
    )
    .await;

    // Phone uploads must be padded to the fixed size: a shorter (or longer) body is refused.
    let body = s.certified_body(&k, ReportType::ConfirmedTest, 3600);
    for size in [0, 8191, 8193] {
        let raw = if size == 0 {
            serde_json::to_vec(&body).unwrap()
        } else {
            padded(&body, size)
        };
        let before = s.fingerprint().await;
        let (st, b, _) = post_raw(&s, "/v1/publish", "application/json", raw).await;
        assert_eq!(
            (st, b["error"].as_str()),
            (400, Some("upload_not_padded")),
            "{b}"
        );
        assert_eq!(s.fingerprint().await, before);
    }

    // A malformed fake upload gets the same 400 a malformed real one gets.
    for (field, value, code) in [
        ("keys", json!([]), "no_keys"),
        ("hmac_key", json!("short"), "invalid_hmac_key"),
        ("certificate", json!("***"), "malformed_certificate"),
    ] {
        for fake in [false, true] {
            let mut body = s.certified_body(&k, ReportType::ConfirmedTest, 3600);
            body[field] = value.clone();
            body["fake"] = json!(fake);
            rejected(
                &s,
                "/v1/publish",
                "application/json",
                serde_json::to_vec(&body).unwrap(),
                400,
                code,
            )
            .await;
        }
    }
    // visited_regions (spec/federation.md §1), real or fake alike.
    let seventeen: Vec<String> = (0..17).map(|i| format!("R{i}")).collect();
    for (value, code) in [
        (json!(seventeen), "too_many_visited_regions"),
        (json!(["vn-kg"]), "invalid_visited_region"),
        (json!([""]), "invalid_visited_region"),
        (json!(["VN-KG", "VN-KG"]), "invalid_visited_region"),
        (json!(["VN-KG", "VN"]), "invalid_visited_region"),
    ] {
        for fake in [false, true] {
            let mut body = s.certified_body(&k, ReportType::ConfirmedTest, 3600);
            body["visited_regions"] = value.clone();
            body["fake"] = json!(fake);
            rejected(
                &s,
                "/v1/publish",
                "application/json",
                serde_json::to_vec(&body).unwrap(),
                400,
                code,
            )
            .await;
        }
    }
    let mut body = s.certified_body(&k, ReportType::ConfirmedTest, 3600);
    body["keys"][0]["key"] = json!(B64.encode([1u8; 15]));
    body["fake"] = json!(true);
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        400,
        "invalid_key",
    )
    .await;
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_registry_fails_closed() {
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600;
    let mut s = TestServer::start_with(cfg).await;
    let file = s.dir().join(en_server::registry::REGISTRY_FILE);
    let good = std::fs::read(&file).unwrap();
    // Corrupted (e.g. a bad manual edit): uploads are refused, not accepted under the old list.
    std::fs::write(&file, b"{ not json").unwrap();
    let k = s.keys(1);
    case(&mut s, k, 503, "registry_unavailable").await;
    let body = {
        let k = s.keys(1);
        s.certified_body(&k, ReportType::ConfirmedTest, 3600)
    };
    rejected(
        &s,
        "/v1/publish",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
        503,
        "registry_unavailable",
    )
    .await;
    // Fixed: uploads are accepted again, without a restart.
    std::fs::write(&file, good).unwrap();
    let r = {
        let k = s.keys(1);
        s.case_report(k)
    };
    assert_eq!(
        post_json(&s, "/v1/cases", &TestServer::case_body(&r))
            .await
            .0,
        200
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_authority_quota() {
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600;
    cfg.authority_daily_upload_quota = 2;
    let mut s = TestServer::start_with(cfg).await;
    for _ in 0..2 {
        let r = {
            let k = s.keys(1);
            s.case_report(k)
        };
        assert_eq!(
            post_json(&s, "/v1/cases", &TestServer::case_body(&r))
                .await
                .0,
            200
        );
    }
    let k = s.keys(1);
    case(&mut s, k, 429, "quota_exceeded").await;
    s.stop().await.unwrap();
}

/// A bulk upload that is refused: status, code, the refused report's index, a sentence, and
/// an unchanged store (no report of the bulk was stored).
async fn bulk_rejected(
    s: &TestServer,
    reports: &[Vec<u8>],
    status: u16,
    code: &str,
    index: Option<usize>,
) {
    let before = s.fingerprint().await;
    let body = json!({"reports": reports.iter().map(|r| B64.encode(r)).collect::<Vec<_>>()});
    let (got, b, _) = post_json(s, "/v1/cases/bulk", &body).await;
    assert_eq!(
        (got, b["error"].as_str().unwrap_or("")),
        (status, code),
        "body: {b}"
    );
    assert_eq!(b["report"].as_u64().map(|i| i as usize), index, "body: {b}");
    let msg = b["message"].as_str().unwrap();
    assert!(
        msg.len() > 10 && msg.ends_with('.'),
        "not a sentence: {msg}"
    );
    if let Some(i) = index {
        assert!(msg.starts_with(&format!("Report {i}: ")), "{msg}");
    }
    assert_eq!(s.fingerprint().await, before, "{code}: the store changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_rules() {
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600;
    cfg.max_reports_per_bulk = 4;
    cfg.authority_daily_upload_quota = 6;
    // The single-upload cap does not apply to bulk bodies, which have their own.
    cfg.limits.max_body_bytes = 1500;
    cfg.limits.max_bulk_body_bytes = 4 * 1500;
    cfg.publish_body_bytes = 0; // no phone uploads here

    let mut s = TestServer::start_with(cfg).await;
    let report = |s: &mut TestServer, days: u32| {
        let k = s.keys(days);
        s.case_report(k)
    };

    bulk_rejected(&s, &[], 400, "invalid_bulk_size", None).await;
    let five: Vec<_> = (0..5).map(|_| report(&mut s, 1)).collect();
    bulk_rejected(&s, &five, 400, "invalid_bulk_size", None).await;

    // One bad report refuses the whole bulk, and the answer says which.
    let good = report(&mut s, 2);
    let mut forged = report(&mut s, 2);
    let n = forged.len();
    forged[n - 64 - 10] ^= 1;
    bulk_rejected(&s, &[good.clone(), forged], 401, "bad_signature", Some(1)).await;
    bulk_rejected(
        &s,
        &[good.clone(), b"not a report".to_vec()],
        400,
        "malformed_report",
        Some(1),
    )
    .await;
    // The same report twice in one bulk, and a key shared by two reports of one bulk.
    bulk_rejected(&s, &[good.clone(), good.clone()], 409, "replayed", Some(1)).await;
    let keys = s.keys(3);
    let a = s.case_report(keys.clone());
    let b = s.case_report(keys[1..2].to_vec());
    bulk_rejected(&s, &[a.clone(), b], 409, "key_exists", Some(1)).await;

    // Accepted: all reports stored together.
    let c = report(&mut s, 4);
    let body = json!({"reports": [B64.encode(&good), B64.encode(&a), B64.encode(&c)]});
    let (status, b, _) = post_json(&s, "/v1/cases/bulk", &body).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["accepted_reports"], 3);
    assert_eq!(b["accepted_keys"], 2 + 3 + 4);
    assert_eq!(s.state.store.pending_count().await.unwrap(), 9);

    // Stored reports and keys are refused afterwards, in bulk and alone.
    let d = report(&mut s, 1);
    bulk_rejected(&s, &[d.clone(), c.clone()], 409, "replayed", Some(1)).await;
    let e = s.case_report(keys[2..].to_vec());
    bulk_rejected(&s, &[d.clone(), e], 409, "key_exists", Some(1)).await;
    // Alone, the same report again is a retry of a stored upload: answered, nothing stored.
    let before = s.fingerprint().await;
    assert_eq!(
        post_json(&s, "/v1/cases", &TestServer::case_body(&c))
            .await
            .0,
        200
    );
    assert_eq!(s.fingerprint().await, before);
    // Quota (6 a day, 3 used): a bulk of 4 is refused at its fourth report; 3 fit.
    let four: Vec<_> = (0..4).map(|_| report(&mut s, 1)).collect();
    bulk_rejected(&s, &four, 429, "quota_exceeded", Some(3)).await;
    let body = json!({"reports": four[..3].iter().map(|r| B64.encode(r)).collect::<Vec<_>>()});
    assert_eq!(post_json(&s, "/v1/cases/bulk", &body).await.0, 200);
    // Bodies over the bulk cap are refused before reading.
    let big = json!({"reports": ["A".repeat(7000)]});
    rejected(
        &s,
        "/v1/cases/bulk",
        "application/json",
        serde_json::to_vec(&big).unwrap(),
        413,
        "body_too_large",
    )
    .await;
    s.stop().await.unwrap();
}
