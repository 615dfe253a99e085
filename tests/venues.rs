//! Venue check-in end to end, on a real server over TLS with a real sled store and the tests'
//! virtual clock: a venue is created, phones check in, the health authority traces one hour
//! with the owner's tracing secret, the server publishes a padded, signed, chained trace
//! batch, and exactly the phones that were at that venue in that hour are notified, with the
//! authority's message. Forged, replayed, wrong-region, out-of-range and malformed traces get
//! a 4xx with their code and store nothing; a retried report is answered as stored.

mod common;

use std::time::Duration;

use base64::Engine;
use common::*;
use en_client::venue::{VenuePhone, DEFAULT_HOST};
use en_protocol::venue::{setup, EntryPayload, Hour, SealingSecretKey, TraceReport, TracingSecret};
use en_protocol::wire::index::SignedIndex;
use en_protocol::wire::{AuthorityId, Region};
use en_protocol::UnixTime;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::json;

const MESSAGE: &str = "Bạn đã đến nơi có ca bệnh lúc 9 giờ. Hãy theo dõi sức khỏe, gọi 1900 9095.";

/// `h:m` UTC today (the tests' clock reads about 12:00).
fn at(h: u64, m: u64) -> UnixTime {
    UnixTime(noon_today().0 - 12 * 3600 + h * 3600 + m * 60)
}

/// A phone that scans `code` at `from` and again at `to` (a re-scan checks out).
fn visit(phone: &mut VenuePhone, code: &str, from: UnixTime, to: UnixTime, rng: &mut ChaCha20Rng) {
    for t in [from, to] {
        let payload = EntryPayload::from_url(code, DEFAULT_HOST).unwrap();
        phone.scan(payload, t, 2 * 3600, rng).unwrap();
    }
    assert!(phone.summary().open.is_none());
}

/// The authority's trace of `[from, to)`, computed from the owner's secret, signed as
/// `region` by `key`; `seed` fixes its nonce (and message nonces).
#[allow(clippy::too_many_arguments)]
fn trace(
    s: &TestServer,
    secret: &TracingSecret,
    sealing: &SealingSecretKey,
    from: UnixTime,
    to: UnixTime,
    region: &str,
    seed: u64,
) -> Vec<u8> {
    let request = en_client::trace::trace_request(secret, from, to).unwrap();
    en_client::trace::trace_report(
        &request,
        sealing,
        MESSAGE,
        AUTHORITY,
        region,
        &s.authority,
        now(),
        &mut ChaCha20Rng::seed_from_u64(seed),
    )
    .unwrap()
    .report
}

fn body(report: &[u8]) -> serde_json::Value {
    json!({ "report": B64.encode(report) })
}

/// Posts a trace body; checks the refusal's status and code, and that nothing was stored.
async fn refused(s: &TestServer, body: &serde_json::Value, status: u16, code: &str) {
    let before = s.fingerprint().await;
    let (got, b, _) = post_json(s, "/v1/traces", body).await;
    assert_eq!(
        (got, b["error"].as_str().unwrap_or("")),
        (status, code),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().ends_with('.'), "{b}");
    assert_eq!(s.fingerprint().await, before, "{code}: the store changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traced_hour_notifies_exactly_its_visitors() {
    let mut cfg = test_config();
    // No batch closes while fingerprints are compared; the test moves the clock instead.
    cfg.batch_period_seconds = 3600;
    cfg.min_trace_batch_size = 30;
    let s = TestServer::start_with(cfg).await;
    assert!(now() < at(13, 0), "the tests' clock starts at noon");
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let sealing = SealingSecretKey::generate(&mut rng);
    let (cafe, cafe_secret) =
        setup(&mut rng, "Café Lâm", "60 Nguyễn Du", &sealing.public_key()).unwrap();
    let (pho, _) = setup(&mut rng, "Phở 24", "", &sealing.public_key()).unwrap();
    let (cafe_url, pho_url) = (
        cafe.to_url(DEFAULT_HOST).unwrap(),
        pho.to_url(DEFAULT_HOST).unwrap(),
    );

    // Three phones at the café at different hours, one at the phở shop in the traced hour.
    let mut phones: Vec<VenuePhone> = (0..4).map(|_| VenuePhone::new()).collect();
    visit(&mut phones[0], &cafe_url, at(9, 10), at(9, 50), &mut rng);
    visit(&mut phones[1], &cafe_url, at(9, 40), at(10, 20), &mut rng);
    visit(&mut phones[2], &cafe_url, at(10, 5), at(10, 45), &mut rng);
    visit(&mut phones[3], &pho_url, at(9, 0), at(9, 50), &mut rng);

    // The authority traces 09:00-10:00 with the owner's secret.
    let report = trace(&s, &cafe_secret, &sealing, at(9, 0), at(10, 0), "VN", 1);
    let empty = s.fingerprint().await;
    let (status, b, _) = post_json(&s, "/v1/traces", &body(&report)).await;
    assert_eq!((status, &b), (200, &json!({"accepted_hours": 1})));
    let stored = s.fingerprint().await;
    assert_ne!(stored, empty);
    // A retry of the same report is answered as stored, and stores nothing new.
    let (status, b, _) = post_json(&s, "/v1/traces", &body(&report)).await;
    assert_eq!((status, &b), (200, &json!({"accepted_hours": 1})));
    assert_eq!(s.fingerprint().await, stored);

    // Refusals: 4xx with a code, nothing stored.
    let mut forged = report.clone();
    *forged.last_mut().unwrap() ^= 1;
    refused(&s, &body(&forged), 401, "bad_signature").await;
    // Another report (the next hour) with the first one's nonce: the same seed draws it.
    let replay = trace(&s, &cafe_secret, &sealing, at(10, 0), at(11, 0), "VN", 1);
    assert_ne!(replay, report);
    refused(&s, &body(&replay), 409, "replayed").await;
    let thai = trace(&s, &cafe_secret, &sealing, at(9, 0), at(10, 0), "TH", 2);
    refused(&s, &body(&thai), 403, "wrong_region").await;
    // An hour after now: the authority's own check would refuse it; a server must too.
    let later = Hour::containing(now()).0 + 2;
    let future = TraceReport::new(
        &cafe_secret
            .trace_request(&[Hour(later)])
            .unwrap()
            .open(&sealing, Hour(later).end())
            .unwrap(),
        MESSAGE,
        AuthorityId::new(AUTHORITY).unwrap(),
        Region::new("VN").unwrap(),
        now(),
        [9; 16],
        &mut rng,
    )
    .unwrap()
    .sign(&s.authority)
    .unwrap();
    refused(&s, &body(&future), 400, "trace_hour_out_of_range").await;
    let other = en_protocol::keys::SigningKey::generate(&mut rng);
    let unknown = {
        let request = en_client::trace::trace_request(&cafe_secret, at(9, 0), at(10, 0)).unwrap();
        en_client::trace::trace_report(
            &request,
            &sealing,
            MESSAGE,
            "other.vn",
            "VN",
            &other,
            now(),
            &mut rng,
        )
        .unwrap()
        .report
    };
    refused(&s, &body(&unknown), 401, "unknown_authority").await;
    refused(
        &s,
        &body(&report[..report.len() - 1]),
        400,
        "malformed_trace",
    )
    .await;
    // A key that is not a point of G1 (the first entry's key, at byte 5+7+3+8+16+2+4+32).
    let mut bad_point = report.clone();
    bad_point[77] ^= 0x01;
    refused(&s, &body(&bad_point), 400, "malformed_trace").await;
    refused(&s, &json!({"report": "!!"}), 400, "malformed_trace").await;
    refused(
        &s,
        &json!({"report": B64.encode(&report), "extra": 1}),
        400,
        "invalid_request",
    )
    .await;
    let before = s.fingerprint().await;
    let (status, b, _) = post_raw(
        &s,
        "/v1/traces",
        "application/json",
        b"{\"report\": ".to_vec(),
    )
    .await;
    assert_eq!((status, b["error"].as_str()), (400, Some("malformed_json")));
    assert_eq!(s.fingerprint().await, before);

    // The batch boundary (13:00) passes: both chains close.
    test_clock().set(at(13, 0).plus(2));
    let head = wait_for_trace_batch(&s).await;
    let mut follower =
        en_client::fetch::trace_follower(s.export.clone(), Region::new("VN").unwrap());
    let synced = en_client::fetch::sync_traces(&s.client, &mut follower, now(), false)
        .await
        .unwrap();
    assert_eq!(follower.state().head.unwrap().sequence, head);
    let batches: Vec<_> = synced.batches.into_iter().map(|(b, _)| b).collect();
    let batch = &batches[0];
    batch.check_keys().unwrap();
    assert_eq!(batch.entries().len(), 30, "padded to min_trace_batch_size");
    let real = entries_of(&report, &s);
    assert_eq!(
        batch.entries().iter().filter(|e| real.contains(e)).count(),
        1,
        "the traced hour, once (the retry added nothing)"
    );

    // Only the phones at the café in the traced hour are notified, with the message.
    let found: Vec<_> = phones.iter().map(|p| p.match_batches(&batches)).collect();
    let overlaps = |i: usize| -> Vec<u64> { found[i].iter().map(|n| n.overlap_seconds).collect() };
    assert_eq!(overlaps(0), [40 * 60]);
    assert_eq!(overlaps(1), [20 * 60]);
    assert!(found[2].is_empty(), "at the café at another hour");
    assert!(found[3].is_empty(), "at another venue in the traced hour");
    for n in found[0].iter().chain(&found[1]) {
        assert_eq!(n.hour, Hour::containing(at(9, 0)));
        assert_eq!(n.message.as_deref(), Some(MESSAGE));
    }

    // The trace index is its own chain: a key follower refuses it.
    let raw = s.client.get("/v1/traces/index").await.unwrap();
    assert_eq!(
        en_protocol::Error::from(SignedIndex::decode(&raw).unwrap_err()).code(),
        "bad_magic"
    );

    // Trace batches are served as key batches are: strong ETag = batch hash, 304 on
    // If-None-Match, and the sequence rules of /v1/batches/{seq}.
    let pem = std::fs::read(s.ca()).unwrap();
    let http = en_client::transport::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let url = format!("{}/v1/traces/batches/{}", s.url, batch.header().sequence);
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(
        etag,
        format!("\"{}\"", en_protocol::hex::encode(&batch.header().hash))
    );
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .ends_with(", immutable"));
    let r = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert!(r.bytes().await.unwrap().is_empty());
    for (path, status, code) in [
        ("/v1/traces/batches/0", 400, "invalid_sequence"),
        ("/v1/traces/batches/01", 400, "invalid_sequence"),
        ("/v1/traces/batches/999", 404, "batch_not_found"),
    ] {
        let r = http.get(format!("{}{path}", s.url)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"], code, "{path}");
    }
    s.stop().await.unwrap();
}

/// The entries of a trace report the test signed (verified against the test's registry).
fn entries_of(report: &[u8], s: &TestServer) -> Vec<en_protocol::venue::TraceEntry> {
    let registry = std::collections::BTreeMap::from([(
        AuthorityId::new(AUTHORITY).unwrap(),
        en_protocol::verify::AuthorityInfo {
            public_key: s.authority.public_key(),
            region: None,
            revoked: false,
        },
    )]);
    en_protocol::venue::SignedTraceReport::decode(report)
        .unwrap()
        .verify(&registry)
        .unwrap()
        .report()
        .entries()
        .to_vec()
}

/// Waits until the server lists a trace batch; returns its sequence.
async fn wait_for_trace_batch(s: &TestServer) -> u64 {
    for _ in 0..100 {
        if let Some(h) = s.state.store.trace_head().await.unwrap() {
            if s.state
                .objects
                .traces()
                .batch(h.sequence)
                .await
                .unwrap()
                .is_some()
            {
                return h.sequence;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no trace batch within 10 s");
}
