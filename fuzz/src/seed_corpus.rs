//! Writes the seed corpora: every vector of `spec/vectors/` and `spec/vectors/venue/`
//! (positive and negative) into its target's corpus, the real GAEN export from `../shared` if
//! present, venue inputs signed and sealed with the harness's keys, and HTTP requests (valid
//! uploads signed by the harness authority, valid downloads, junk) for `request`.
//!
//! Usage: seed_corpus <fuzz dir>

use std::path::Path;

use base64::Engine;
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::wire::case_report::CaseReport;
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::{AuthorityId, Region, ReportType};
use en_protocol::{IntervalNumber, UnixTime};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Venue inputs signed and sealed with the harness's keys, so that the venue targets get
/// past verification: a trace request the `venue_trace_request` target can open (sealing key
/// `[9; 32]`), a trace report by `moh.vn` and a trace batch by the harness's export key.
fn venue_seeds(corpus: &Path) -> usize {
    use en_protocol::venue::{
        bench::FixtureRng, setup, CheckInStore, Hour, SealingSecretKey, TraceBatch, TraceReport,
    };
    let mut rng = FixtureRng::new(7);
    let sealing = SealingSecretKey::from_bytes([9; 32]);
    let (payload, secret) = setup(&mut rng, "Café", "1 Main St", &sealing.public_key()).unwrap();
    let now = UnixTime(1_767_315_600);
    let hours = [Hour(490_905), Hour(490_906)];
    let req = secret.trace_request(&hours).unwrap();
    write(
        &corpus.join("venue_trace_request"),
        "harness-valid",
        &req.encode(),
    );
    let checked = req.open(&sealing, now).unwrap();
    let report = TraceReport::new(
        &checked,
        "Call 1900 9095.",
        AuthorityId::new("moh.vn").unwrap(),
        Region::new("VN").unwrap(),
        now,
        [3; 16],
        &mut rng,
    )
    .unwrap();
    let key = en_fuzz::authority_key();
    write(
        &corpus.join("venue_trace_report"),
        "harness-valid",
        &report.sign(&key).unwrap(),
    );
    let batch = TraceBatch {
        region: Region::new("VN").unwrap(),
        sequence: 1,
        window_start: UnixTime(1),
        window_end: UnixTime(2),
        prev_hash: [0; 32],
        entries: report.entries().to_vec(),
    };
    let batch = batch.sign(&key).unwrap();
    write(&corpus.join("venue_trace_batch"), "harness-valid", &batch);
    let index = en_protocol::wire::index::Index {
        region: Region::new("VN").unwrap(),
        generated_at: UnixTime(3),
        entries: vec![en_protocol::wire::index::IndexEntry {
            sequence: 1,
            window_start: UnixTime(1),
            window_end: UnixTime(2),
            hash: en_protocol::venue::SignedTraceBatch::decode(&batch)
                .unwrap()
                .header()
                .hash,
            size: batch.len() as u64,
        }],
    };
    let index = index
        .sign_as(&en_protocol::wire::index::TRACE_INDEX, &key)
        .unwrap();
    write(&corpus.join("trace_index"), "harness-valid", &index);
    let mut store = CheckInStore::new();
    store
        .insert_visit(
            &payload,
            Hour(490_905).start(),
            Hour(490_906).end(),
            &mut rng,
        )
        .unwrap();
    let first = [store.records()[0].encode(), report.entries()[0].encode()].concat();
    write(&corpus.join("venue_match"), "harness-match", &first);
    write(
        &corpus.join("venue_checkins"),
        "harness-valid",
        &store.encode(),
    );
    6
}

/// Sequences for the chain followers: the spec's positive index and batch vectors as records
/// (kind, u16 length, bytes), index first; the key chain's for `follower`, the venue trace
/// chain's for `trace_follower`.
fn follower_seeds(fuzz: &Path, corpus: &Path) -> usize {
    let positive = |file: &str| -> Vec<Vec<u8>> {
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fuzz.join("../spec/vectors").join(file)).unwrap(),
        )
        .unwrap();
        v["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["expect"] == "ok")
            .filter_map(|t| en_protocol::hex::decode(t["hex"].as_str()?))
            .filter(|b| b.len() < 65_536)
            .collect()
    };
    let record = |kind: u8, b: &[u8]| {
        let mut r = vec![kind];
        r.extend_from_slice(&(b.len() as u16).to_be_bytes());
        r.extend_from_slice(b);
        r
    };
    let mut n = 0;
    for (target, index, batch) in [
        ("follower", "index.json", "batch.json"),
        (
            "trace_follower",
            "venue/venue_trace_index.json",
            "venue/venue_trace_batch.json",
        ),
    ] {
        let (indexes, batches) = (positive(index), positive(batch));
        for (i, idx) in indexes.iter().enumerate() {
            let mut seq = record(0, idx);
            for b in &batches {
                seq.extend(record(1, b));
            }
            write(&corpus.join(target), &format!("spec-{i}"), &seq);
            n += 1;
        }
    }
    n
}

/// A valid trace upload for `request`: a venue's trace request opened with a fresh sealing
/// key, traced for two recent hours, signed by the harness's authority at `now`.
fn trace_upload(now: UnixTime) -> String {
    use en_protocol::venue::{bench::FixtureRng, setup, Hour, SealingSecretKey, TraceReport};
    let mut rng = FixtureRng::new(11);
    let sealing = SealingSecretKey::from_bytes([10; 32]);
    let (_, secret) = setup(&mut rng, "Market", "2 Main St", &sealing.public_key()).unwrap();
    let hour = (now.0 / 3600) as u32;
    let req = secret
        .trace_request(&[Hour(hour - 3), Hour(hour - 2)])
        .unwrap();
    let report = TraceReport::new(
        &req.open(&sealing, now).unwrap(),
        "Call 1900 9095.",
        AuthorityId::new("moh.vn").unwrap(),
        Region::new("VN").unwrap(),
        now,
        [4; 16],
        &mut rng,
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    serde_json::json!({ "report": b64.encode(report.sign(&en_fuzz::authority_key()).unwrap()) })
        .to_string()
}

fn main() {
    let fuzz = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let corpus = fuzz.join("corpus");
    let mut n = 0;
    let files = ["../spec/vectors", "../spec/vectors/venue"]
        .iter()
        .flat_map(|d| std::fs::read_dir(fuzz.join(d)).expect("spec/vectors"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"));
    for p in files {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let target = match v["format"].as_str().unwrap() {
            "diagnosis-key" => "diagnosis_key",
            "case-report" => "case_report",
            "verification-certificate" => "certificate",
            "batch" => "batch",
            "index" => "index",
            "risk-config" => "risk_config",
            "venue-entry" => "venue_entry",
            "venue-tracing-secret" => "venue_tracing_secret",
            "venue-checkin-store" => "venue_checkins",
            "venue-visit-state" => "venue_visit",
            "venue-trace-request" => "venue_trace_request",
            "venue-trace-report" => "venue_trace_report",
            "venue-trace-batch" => "venue_trace_batch",
            "venue-trace-index" => "trace_index",
            "venue-match" => "venue_match",
            "phone-state" => "phone_state",
            "self-report" => "self_report",
            "revision-token" => "revision_token",
            other => panic!("unknown format {other}"),
        };
        for vec in v["vectors"].as_array().unwrap() {
            // Entry vectors may hold a URL, match vectors a record and an entry.
            let hex = |k: &str| en_protocol::hex::decode(vec[k].as_str().unwrap()).unwrap();
            let bytes = match (vec.get("url"), vec.get("record")) {
                (Some(url), _) => url.as_str().unwrap().as_bytes().to_vec(),
                (_, Some(_)) => [hex("record"), hex("entry")].concat(),
                _ => hex("hex"),
            };
            write(
                &corpus.join(target),
                &format!("spec-{}", vec["name"].as_str().unwrap()),
                &bytes,
            );
            n += 1;
        }
    }
    let gaen = fuzz.join("../../shared/vectors/gaen-crypto.json");
    if let Ok(t) = std::fs::read_to_string(&gaen) {
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        for (i, s) in v["export_signature_samples"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let mut bytes =
                en_protocol::hex::decode(s["export_bin_hex"].as_str().unwrap()).unwrap();
            bytes.extend_from_slice(&[0xff, 0xfe]);
            bytes.extend(en_protocol::hex::decode(s["export_sig_hex"].as_str().unwrap()).unwrap());
            write(&corpus.join("gaen_export"), &format!("sample-{i}"), &bytes);
            n += 1;
        }
    }
    n += venue_seeds(&corpus);
    n += follower_seeds(&fuzz, &corpus);
    // Requests: valid signed uploads for the harness's authority, at the current time.
    let now = UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    let today = now.interval().day_start().0;
    let b64 = base64::engine::general_purpose::STANDARD;
    let req = corpus.join("request");
    let mut bulk = Vec::new();
    for i in 0..6u8 {
        let keys: Vec<UploadKey> = (1..=3u32)
            .map(|d| UploadKey {
                key: TemporaryExposureKey::from_bytes([i * 16 + d as u8; 16]),
                rolling_start: IntervalNumber(today - 144 * d),
                rolling_period: 144,
                transmission_risk: 0,
            })
            .collect();
        let r = CaseReport {
            authority: AuthorityId::new("moh.vn").unwrap(),
            region: Region::new("VN").unwrap(),
            report_type: ReportType::ConfirmedTest,
            symptom_onset: None,
            issued_at: now,
            nonce: [i; 16],
            keys,
        };
        let report = b64.encode(r.sign(&en_fuzz::authority_key()).unwrap());
        if i >= 4 {
            bulk.push(report);
            continue;
        }
        let body = serde_json::json!({ "report": report }).to_string();
        write(
            &req,
            &format!("case-{i}"),
            &en_fuzz::request_bytes(1, 0, 0, 0, body.as_bytes()),
        );
    }
    let publish = serde_json::json!({"certificate": b64.encode([1u8; 100]), "hmac_key": b64.encode([2u8; 32]),
        "keys": [{"key": b64.encode([3u8; 16]), "rolling_start": today - 144, "rolling_period": 144, "transmission_risk": 0}], "fake": true});
    write(
        &req,
        "publish-fake",
        &en_fuzz::request_bytes(1, 1, 0, 0, publish.to_string().as_bytes()),
    );
    let body = serde_json::json!({ "reports": bulk }).to_string();
    write(
        &req,
        "cases-bulk",
        &en_fuzz::request_bytes(1, 8, 0, 0, body.as_bytes()),
    );
    write(&req, "index", &en_fuzz::request_bytes(0, 2, 3, 0, b""));
    write(&req, "batch", &en_fuzz::request_bytes(0, 7, 3, 1, b""));
    write(
        &req,
        "junk-json",
        &en_fuzz::request_bytes(1, 0, 0, 0, b"{\"report\": [1,2"),
    );
    write(
        &req,
        "trace",
        &en_fuzz::request_bytes(1, 9, 0, 0, trace_upload(now).as_bytes()),
    );
    write(
        &req,
        "trace-index",
        &en_fuzz::request_bytes(0, 10, 3, 0, b""),
    );
    write(
        &req,
        "trace-batch",
        &en_fuzz::request_bytes(0, 11, 3, 1, b""),
    );
    n += 12;
    n += verify_seeds(&corpus, today);
    println!("wrote {n} seed inputs under {}", corpus.display());
}

/// Well-formed requests for `verify_request`: padded redeem and certificate requests, real and
/// fake (no code was issued, so they are refused or answered as fakes), and a back-office
/// request for codes with a made-up API key.
fn verify_seeds(corpus: &Path, today: u32) -> usize {
    use en_api::verify::{padded, CertificateRequest, VerifyRequest, PHONE_REQUEST_BYTES};
    let dir = corpus.join("verify_request");
    let b64 = base64::engine::general_purpose::STANDARD;
    let seed =
        |name: &str, head: u8, body: Vec<u8>| write(&dir, name, &[&[head][..], &body].concat());
    for fake in [false, true] {
        let v = VerifyRequest {
            authority: "moh.vn".into(),
            code: "12345678".into(),
            fake,
            padding: None,
        };
        seed(
            &format!("verify-{fake}"),
            0,
            padded(&v, PHONE_REQUEST_BYTES).unwrap(),
        );
        let c = CertificateRequest {
            token: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]),
            tekmac: b64.encode([9u8; 32]),
            fake,
            padding: None,
        };
        seed(
            &format!("certificate-{fake}"),
            1,
            padded(&c, PHONE_REQUEST_BYTES).unwrap(),
        );
    }
    let day = en_api::date::Day(today / 144 - 1).to_string();
    let codes =
        serde_json::json!({"tests": [{"test_type": "confirmed", "test_date": day, "short": true}]});
    seed("codes", 0x82, codes.to_string().into_bytes());
    5
}
