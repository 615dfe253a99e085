//! Revisions end to end (spec/api.md `POST /v1/revisions`): a self-report upload's answer
//! carries a revision token; with it and a new certificate the same keys are revised; a key
//! already published is published again, with its new type, in a later batch. Every refusal
//! has its code and leaves the store as it was.

mod common;

use base64::Engine;
use common::*;
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::revision::RevisionSecret;
use en_protocol::wire::ReportType;

/// The server's revision secret, read from its data directory.
fn secret(s: &TestServer) -> RevisionSecret {
    let path = s.dir().join(en_server::datadir::REVISION_KEY_FILE);
    RevisionSecret::from_bytes(en_server::datadir::read_replay_key(&path).unwrap())
}

/// A revision body: a new certificate of type `to` for `keys` and `token` (base64).
fn revision_body(
    s: &mut TestServer,
    keys: &[UploadKey],
    to: ReportType,
    token: &str,
) -> serde_json::Value {
    let mut body = s.certified_body(keys, to, 3600);
    body["revision_token"] = serde_json::json!(token);
    body
}

/// Uploads `keys` as a self-report; returns the answer's revision token.
async fn self_report(s: &mut TestServer, keys: &[UploadKey]) -> String {
    let body = s.certified_body(keys, ReportType::SelfReport, 3600);
    let (status, answer, _) = post_json(s, "/v1/publish", &body).await;
    assert_eq!(status, 200, "{answer}");
    answer["revision_token"]
        .as_str()
        .expect("a self-report answer carries a revision token")
        .to_string()
}

/// Posts `body` to `/v1/revisions` and expects a refusal `(status, code)` that stores nothing.
async fn refused(s: &TestServer, body: &serde_json::Value, status: u16, code: &str) {
    let before = s.fingerprint().await;
    let (got, answer, _) = post_json(s, "/v1/revisions", body).await;
    assert_eq!(
        (got, answer["error"].as_str()),
        (status, Some(code)),
        "{answer}"
    );
    assert_eq!(s.fingerprint().await, before, "{code}: nothing stored");
}

/// The metadata each batch since `after` carries for `key`, oldest first.
async fn published(
    s: &TestServer,
    phone: &mut en_protocol::phone::KeyFollower,
    key: &UploadKey,
) -> Vec<(u64, ReportType)> {
    s.sync(phone)
        .await
        .batches
        .iter()
        .flat_map(|(b, _)| {
            let seq = b.header().sequence;
            b.keys()
                .iter()
                .filter(|k| k.key == key.key)
                .map(move |k| (seq, k.meta.report_type))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_self_report_revised_to_revoked_is_published_again_in_a_later_batch() {
    let mut s = TestServer::start().await;
    let keys = s.keys(3);
    let token = self_report(&mut s, &keys).await;
    s.wait_for_window_past(now()).await;
    let mut phone = s.phone();
    let first = published(&s, &mut phone, &keys[0]).await;
    assert_eq!(first.len(), 1, "published once: {first:?}");
    assert_eq!(first[0].1, ReportType::SelfReport);

    let body = revision_body(&mut s, &keys, ReportType::Revoked, &token);
    let (status, answer, len) = post_json(&s, "/v1/revisions", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted_keys"], keys.len());
    assert_eq!(len, 256, "answered like an upload");
    assert!(answer.get("revision_token").is_none());
    // A retry (the answer lost) is answered the same and changes nothing.
    let before = s.fingerprint().await;
    let (status, _, _) = post_json(&s, "/v1/revisions", &body).await;
    assert_eq!(status, 200);
    assert_eq!(s.fingerprint().await, before);

    s.wait_for_window_past(now()).await;
    let again = published(&s, &mut phone, &keys[0]).await;
    assert_eq!(again.len(), 1, "published again once: {again:?}");
    assert_eq!(again[0].1, ReportType::Revoked);
    assert!(again[0].0 > first[0].0, "in a later batch");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_revisions_name_their_code_and_store_nothing() {
    let mut s = TestServer::start().await;
    let keys = s.keys(3);
    let token = self_report(&mut s, &keys).await;
    let other_keys = s.keys(2);
    let other_token = self_report(&mut s, &other_keys).await;
    let sec = secret(&s);
    let issue = |keys: &[UploadKey], at: en_protocol::UnixTime, lifetime: u64| {
        let t = sec
            .issue(
                ReportType::SelfReport,
                keys,
                at,
                lifetime,
                &mut rand::rngs::OsRng,
            )
            .unwrap();
        B64.encode(t.encode())
    };

    // Wrong token: another upload's.
    let b = revision_body(&mut s, &keys, ReportType::ConfirmedTest, &other_token);
    refused(&s, &b, 403, "revision_token_mismatch").await;
    // The token, for other keys (a subset of its own).
    let b = revision_body(&mut s, &keys[1..], ReportType::ConfirmedTest, &token);
    refused(&s, &b, 403, "revision_token_mismatch").await;
    // Expired: issued 15 days ago for 14 days.
    let old = issue(&keys, now().minus(15 * 86_400), 14 * 86_400);
    let b = revision_body(&mut s, &keys, ReportType::ConfirmedTest, &old);
    refused(&s, &b, 403, "revision_token_expired").await;
    // A type a revision cannot have: self-report -> clinical ("likely"), or self-report again.
    for t in [
        ReportType::ConfirmedClinicalDiagnosis,
        ReportType::SelfReport,
    ] {
        let b = revision_body(&mut s, &keys, t, &token);
        refused(&s, &b, 400, "revision_type_not_allowed").await;
    }
    // Keys this server does not hold, with a valid token for them.
    let unknown = s.keys(2);
    let t = issue(&unknown, now(), 14 * 86_400);
    let b = revision_body(&mut s, &unknown, ReportType::ConfirmedTest, &t);
    refused(&s, &b, 404, "revision_unknown_keys").await;
    // A token that does not decode.
    let b = revision_body(&mut s, &keys, ReportType::ConfirmedTest, "RU5SVA==");
    refused(&s, &b, 400, "malformed_revision_token").await;

    // A fake revision: answered like a real one (the same length), stores nothing.
    let mut fake = revision_body(&mut s, &keys, ReportType::ConfirmedTest, &token);
    fake["fake"] = serde_json::json!(true);
    let before = s.fingerprint().await;
    let (status, answer, len) = post_json(&s, "/v1/revisions", &fake).await;
    assert_eq!((status, len), (200, 256), "{answer}");
    assert_eq!(
        s.fingerprint().await,
        before,
        "a fake revision stores nothing"
    );

    // Accepted once...
    let accepted = revision_body(&mut s, &keys, ReportType::ConfirmedTest, &token);
    let (status, answer, _) = post_json(&s, "/v1/revisions", &accepted).await;
    assert_eq!(status, 200, "{answer}");
    // ...then the token again, with a new certificate: reused.
    let b = revision_body(&mut s, &keys, ReportType::Revoked, &token);
    refused(&s, &b, 409, "replayed").await;
    // The certificate again, with a new token for the same keys: replayed.
    let mut b = accepted.clone();
    b["revision_token"] = serde_json::json!(issue(&keys, now(), 14 * 86_400));
    refused(&s, &b, 409, "replayed").await;
    s.stop().await.unwrap();
}
