//! Verification codes end to end: staff issue a code, a phone redeems it for a token
//! (`POST /v1/verify`), the token and its tekmac for a certificate signed with the key the
//! server holds for the authority (`POST /v1/certificate`), and uploads (`POST /v1/publish`).
//! Every refusal is a 4xx with its stable code that changes nothing; codes survive a
//! restart; guessing short codes is bounded; fake requests look like real ones.

mod common;

use base64::Engine;
use common::running::run;
use common::*;
use en_api::verify::{
    padded, CertificateRequest, IssuedCode, TestResult, TestType, VerifyAnswer, VerifyRequest,
    CERTIFICATE_ANSWER_BYTES, PHONE_REQUEST_BYTES, VERIFY_ANSWER_BYTES,
};
use en_protocol::keys::SigningKey;
use en_protocol::UnixTime;
use en_server::store::codes::AuditAction;
use en_server::AppState;

async fn started() -> TestServer {
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600; // no batch interferes with fingerprints
    let s = TestServer::start_with(cfg).await;
    s.hold_authority_key();
    s
}

fn test(test_type: TestType, short: bool, now: UnixTime) -> TestResult {
    let day = en_api::date::Day::of_unix(now.0);
    TestResult {
        test_type,
        test_date: en_api::date::Day(day.0 - 1).to_string(),
        symptom_onset: Some(en_api::date::Day(day.0 - 3).to_string()),
        short,
    }
}

/// Issues one code (a short one too if `short`) as of `at`.
async fn issue(state: &AppState, short: bool, at: UnixTime) -> IssuedCode {
    issue_test(state, test(TestType::Confirmed, short, at), at).await
}

/// Issues a long code for a test result of `test_type` as of `at`.
async fn issue_type(state: &AppState, test_type: TestType, at: UnixTime) -> IssuedCode {
    issue_test(state, test(test_type, false, at), at).await
}

async fn issue_test(state: &AppState, test: TestResult, at: UnixTime) -> IssuedCode {
    state
        .verification
        .issue(AUTHORITY, "tester", AuditAction::Issued, &[test], at)
        .await
        .unwrap()
        .remove(0)
}

fn verify_body(authority: &str, code: &str, fake: bool) -> Vec<u8> {
    let r = VerifyRequest {
        authority: authority.into(),
        code: code.into(),
        fake,
        padding: None,
    };
    padded(&r, PHONE_REQUEST_BYTES).unwrap()
}

fn certificate_body(token: &str, tekmac: &str, fake: bool) -> Vec<u8> {
    let r = CertificateRequest {
        token: token.into(),
        tekmac: tekmac.into(),
        fake,
        padding: None,
    };
    padded(&r, PHONE_REQUEST_BYTES).unwrap()
}

/// Both stores' fingerprints (uploads, and codes with tokens and statistics).
async fn fingerprints(state: &AppState) -> ([u8; 32], [u8; 32]) {
    (
        state.store.fingerprint().await.unwrap(),
        state.verification.store.fingerprint().await.unwrap(),
    )
}

/// Posts `body` to `path` and checks the status, the stable code, a readable message, and
/// that neither store changed.
async fn refused(s: &TestServer, path: &str, body: Vec<u8>, status: u16, code: &str) {
    let before = fingerprints(&s.state).await;
    let (got, b, _) = post_raw(s, path, "application/json", body).await;
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
    assert_eq!(
        fingerprints(&s.state).await,
        before,
        "{code}: a store changed"
    );
}

async fn redeemed(s: &TestServer, code: &str) -> VerifyAnswer {
    let (status, b, len) = post_raw(
        s,
        "/v1/verify",
        "application/json",
        verify_body(AUTHORITY, code, false),
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(len, VERIFY_ANSWER_BYTES);
    serde_json::from_value(b).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_becomes_a_certificate_and_an_upload() {
    let mut s = started().await;
    let code = issue(&s.state, true, now()).await;
    // A phone with the long code's link (the link names the authority).
    let keys = s.keys(14);
    let up = en_client::verify::upload_with_code(&s.client, None, &code.link, &keys, &mut s.rng)
        .await
        .unwrap();
    assert_eq!(up.verified, TestType::Confirmed);
    assert_eq!(up.accepted_keys, 14);
    // The short code of the same test result was used with it.
    let before = fingerprints(&s.state).await;
    let e = en_client::verify::redeem(
        &s.client,
        Some(AUTHORITY),
        code.short_code.as_ref().unwrap(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("code_used"), "{e}");
    assert_eq!(fingerprints(&s.state).await, before);
    // Statistics: one issued, one claimed, one certificate, 14 keys.
    let day = en_api::date::Day::of_unix(now().0);
    let stats = s
        .state
        .verification
        .store
        .stats(AUTHORITY, day)
        .await
        .unwrap();
    let (_, st) = stats.last().copied().unwrap();
    assert_eq!(
        (st.issued, st.claimed, st.certificates, st.keys),
        (1, 1, 1, 14)
    );
    // A short code typed as people do, by a phone that knows its authority.
    let code = issue(&s.state, true, now()).await;
    let short = code.short_code.unwrap();
    let typed = format!("{} {}", &short[..4], &short[4..]);
    let keys = s.keys(3);
    let up =
        en_client::verify::upload_with_code(&s.client, Some(AUTHORITY), &typed, &keys, &mut s.rng)
            .await
            .unwrap();
    assert_eq!(up.accepted_keys, 3);
    s.stop().await.unwrap();
}

/// The whole way: a code issued for a likely case, redeemed by a phone that uploads, and its
/// keys in the next published batch with the code's report type, as another phone downloads
/// and verifies them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_uploaded_with_a_code_reach_a_published_batch() {
    let mut s = TestServer::start_with(test_config()).await; // a batch every 2 s
    s.hold_authority_key();
    let code = issue_type(&s.state, TestType::Likely, now()).await;
    let keys = s.keys(10);
    let up = en_client::verify::upload_with_code(&s.client, None, &code.link, &keys, &mut s.rng)
        .await
        .unwrap();
    assert_eq!((up.verified, up.accepted_keys), (TestType::Likely, 10));
    s.wait_for_window_past(now()).await;
    let mut phone = s.phone();
    let synced = s.sync(&mut phone).await;
    let published: std::collections::BTreeMap<[u8; 16], _> = synced
        .batches
        .iter()
        .flat_map(|(b, _)| b.keys().iter().map(|k| (*k.key.as_bytes(), k.meta)))
        .collect();
    for k in &keys {
        let m = published
            .get(k.key.as_bytes())
            .expect("an uploaded key is missing from the published batches");
        assert_eq!(m.report_type, TestType::Likely.report_type());
        assert_eq!(
            (m.rolling_start, m.rolling_period),
            (k.rolling_start, k.rolling_period)
        );
    }
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_codes_and_tokens_change_nothing() {
    let s = started().await;
    let st = &s.state;
    let t = now();
    let v = "/v1/verify";
    let c = "/v1/certificate";

    // Codes.
    for bad in ["1234567", "12ab5678", "abcd-efgh-jkmn-pqru", ""] {
        refused(
            &s,
            v,
            verify_body(AUTHORITY, bad, false),
            400,
            "malformed_code",
        )
        .await;
    }
    refused(
        &s,
        v,
        verify_body(AUTHORITY, "abcd-efgh-jkmn-pqrs", false),
        401,
        "unknown_code",
    )
    .await;
    refused(
        &s,
        v,
        verify_body("nobody.vn", "abcd-efgh-jkmn-pqrs", false),
        401,
        "unknown_authority",
    )
    .await;
    let expired = issue(st, false, UnixTime(t.0 - 25 * 3600)).await;
    refused(
        &s,
        v,
        verify_body(AUTHORITY, &expired.long_code, false),
        401,
        "code_expired",
    )
    .await;
    let code = issue(st, false, t).await;
    // Another authority's space: the same code is unknown there.
    hold_other(&s);
    refused(
        &s,
        v,
        verify_body("hcm.vn", &code.long_code, false),
        401,
        "unknown_code",
    )
    .await;
    let token = redeemed(&s, &code.long_code).await.token;
    refused(
        &s,
        v,
        verify_body(AUTHORITY, &code.long_code, false),
        409,
        "code_used",
    )
    .await;
    // Bodies that are not what phones send.
    let unpadded =
        serde_json::to_vec(&serde_json::json!({"authority": AUTHORITY, "code": "12345678"}))
            .unwrap();
    refused(&s, v, unpadded, 400, "upload_not_padded").await;
    let mut extra: serde_json::Value =
        serde_json::from_slice(&verify_body(AUTHORITY, "12345678", false)).unwrap();
    extra["x"] = serde_json::json!(1);
    refused(
        &s,
        v,
        serde_json::to_vec(&extra).unwrap(),
        400,
        "invalid_request",
    )
    .await;
    refused(
        &s,
        v,
        b"{".repeat(PHONE_REQUEST_BYTES),
        400,
        "malformed_json",
    )
    .await;

    // Tokens.
    let mac = B64.encode([7u8; 32]);
    for bad in ["", "short", &"*".repeat(43), &format!("{token}A")] {
        refused(
            &s,
            c,
            certificate_body(bad, &mac, false),
            400,
            "malformed_token",
        )
        .await;
    }
    let unknown = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 32]);
    refused(
        &s,
        c,
        certificate_body(&unknown, &mac, false),
        401,
        "unknown_token",
    )
    .await;
    refused(
        &s,
        c,
        certificate_body(&token, "AAAA", false),
        400,
        "invalid_request",
    )
    .await;
    refused(
        &s,
        c,
        certificate_body(&token, "not base64!", false),
        400,
        "invalid_request",
    )
    .await;
    let (status, b, len) = post_raw(
        &s,
        c,
        "application/json",
        certificate_body(&token, &mac, false),
    )
    .await;
    assert_eq!((status, len), (200, CERTIFICATE_ANSWER_BYTES), "{b}");
    refused(
        &s,
        c,
        certificate_body(&token, &mac, false),
        409,
        "token_used",
    )
    .await;
    // A token redeemed two hours ago has expired (token_lifetime_seconds is an hour).
    let old = issue(st, false, UnixTime(t.0 - 7200)).await;
    let stale = st
        .verification
        .redeem(
            &st.registry,
            &st.policy,
            AUTHORITY,
            &old.long_code,
            false,
            UnixTime(t.0 - 7200),
        )
        .await
        .unwrap();
    refused(
        &s,
        c,
        certificate_body(&stale.token, &mac, false),
        401,
        "token_expired",
    )
    .await;

    // Purging deletes what expired: the expired code is then unknown.
    let before = fingerprints(st).await;
    st.verification.purge(now()).await.unwrap();
    assert_ne!(fingerprints(st).await, before, "nothing was purged");
    refused(
        &s,
        v,
        verify_body(AUTHORITY, &expired.long_code, false),
        401,
        "unknown_code",
    )
    .await;
    refused(
        &s,
        c,
        certificate_body(&stale.token, &mac, false),
        401,
        "unknown_token",
    )
    .await;
    s.stop().await.unwrap();
}

/// A second authority whose key the server holds (`hcm.vn`), registered without a region.
fn hold_other(s: &TestServer) {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let d = en_server::datadir::DataDir::new(s.dir());
    let entry = en_server::registry::Entry {
        id: "hcm.vn".into(),
        public_key: key.public_key().to_hex(),
        region: None,
        revoked: false,
        added_at: 0,
    };
    en_server::registry::add(&d.authorities(), entry).unwrap();
    let dir = d.authority_keys();
    en_api::keyfile::write_signing_key(
        &en_server::verification::keys::key_path(&dir, "hcm.vn"),
        &key,
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_short_codes_is_bounded_per_authority() {
    let s = started().await;
    let per_hour = s
        .state
        .cfg
        .config
        .console
        .failed_short_codes_per_authority_per_hour;
    let code = issue(&s.state, true, now()).await;
    let short = code.short_code.clone().unwrap();
    let wrong = |i: u64| {
        format!(
            "{:08}",
            (short.parse::<u64>().unwrap() + 1 + i) % 100_000_000
        )
    };
    for i in 0..per_hour {
        refused(
            &s,
            "/v1/verify",
            verify_body(AUTHORITY, &wrong(i), false),
            401,
            "unknown_code",
        )
        .await;
    }
    let limited = |body: Vec<u8>| async {
        let before = fingerprints(&s.state).await;
        let (status, b, _) = post_raw(&s, "/v1/verify", "application/json", body).await;
        assert_eq!(
            (status, b["error"].as_str().unwrap()),
            (429, "code_rate_limited")
        );
        assert_eq!(fingerprints(&s.state).await, before);
    };
    // The budget is spent: every short code is refused, the right one too (a guesser must not
    // learn which guess is right), and fake requests too (they look like real ones).
    limited(verify_body(AUTHORITY, &wrong(per_hour), false)).await;
    limited(verify_body(AUTHORITY, &short, false)).await;
    limited(verify_body(AUTHORITY, "12345678", true)).await;
    // Long codes still work.
    redeemed(&s, &code.long_code).await;
    // The failures are on disk (a restart does not refill the budget).
    let stored = s
        .state
        .verification
        .store
        .failures(now().0 / 3600)
        .await
        .unwrap();
    assert_eq!(stored, vec![(AUTHORITY.to_string(), per_hour)]);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_requests_look_like_real_ones_and_change_nothing() {
    let s = started().await;
    let code = issue(&s.state, false, now()).await;
    let before = fingerprints(&s.state).await;
    let (fs, fake, flen) = post_raw(
        &s,
        "/v1/verify",
        "application/json",
        verify_body(AUTHORITY, "87654321", true),
    )
    .await;
    assert_eq!(
        fingerprints(&s.state).await,
        before,
        "a fake verify changed a store"
    );
    let real = redeemed(&s, &code.long_code).await;
    assert_eq!((fs, flen), (200, VERIFY_ANSWER_BYTES), "{fake}");
    assert_eq!(fake["token"].as_str().unwrap().len(), real.token.len());
    let before = fingerprints(&s.state).await;
    let mac = B64.encode([1u8; 32]);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([3u8; 32]);
    let (fs, fake, flen) = post_raw(
        &s,
        "/v1/certificate",
        "application/json",
        certificate_body(&token, &mac, true),
    )
    .await;
    assert_eq!((fs, flen), (200, CERTIFICATE_ANSWER_BYTES), "{fake}");
    assert_eq!(
        fingerprints(&s.state).await,
        before,
        "a fake certificate changed a store"
    );
    let (rs, _, rlen) = post_raw(
        &s,
        "/v1/certificate",
        "application/json",
        certificate_body(&real.token, &mac, false),
    )
    .await;
    assert_eq!((rs, rlen), (200, CERTIFICATE_ANSWER_BYTES));
    // The client's chaff.
    en_client::verify::chaff_verify(&s.client, AUTHORITY, &mut rand::rngs::OsRng)
        .await
        .unwrap();
    en_client::verify::chaff_certificate(&s.client, &mut rand::rngs::OsRng)
        .await
        .unwrap();
    s.stop().await.unwrap();
}

/// A server on an existing data directory, to stop and start again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_tokens_and_failures_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let mut c = test_config();
    c.batch_period_seconds = 3600;
    let cfg = make_data_dir(tmp.path(), &c, &key);
    hold_key(tmp.path(), &key);

    let r = run(&cfg, false).await;
    let a = issue(&r.state, true, now()).await;
    let b = issue(&r.state, false, now()).await;
    let token = en_client::verify::redeem(&r.client, Some(AUTHORITY), &b.long_code)
        .await
        .unwrap()
        .token;
    let wrong = format!(
        "{:08}",
        (a.short_code.as_ref().unwrap().parse::<u64>().unwrap() + 1) % 100_000_000
    );
    assert!(
        en_client::verify::redeem(&r.client, Some(AUTHORITY), &wrong)
            .await
            .is_err()
    );
    let _ = (&r.url, &r.ca);
    r.halt().await;

    let r = run(&cfg, false).await;
    // The code issued before the restart redeems; the used one stays used; the token works.
    en_client::verify::redeem(&r.client, Some(AUTHORITY), a.short_code.as_ref().unwrap())
        .await
        .unwrap();
    let e = en_client::verify::redeem(&r.client, Some(AUTHORITY), &b.long_code)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("code_used"), "{e}");
    en_client::verify::certificate(&r.client, &token, &[5; 32])
        .await
        .unwrap();
    let stored = r
        .state
        .verification
        .store
        .failures(now().0 / 3600)
        .await
        .unwrap();
    assert_eq!(stored, vec![(AUTHORITY.to_string(), 1)]);
    r.halt().await;

    let r = run(&cfg, false).await;
    let e = en_client::verify::certificate(&r.client, &token, &[5; 32])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("token_used"), "{e}");
    r.halt().await;
}
