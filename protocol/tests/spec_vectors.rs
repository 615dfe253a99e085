//! The spec owns the vectors: `spec/vectors/*.json` are generated deterministically from a
//! fixed seed by this file, and this test
//!
//! 1. loads every file in `spec/vectors/` and checks every vector: positive vectors decode,
//!    verify, match every field in `decoded` and re-encode to the same bytes; negative
//!    vectors fail with exactly the stated error code;
//! 2. regenerates the vectors and checks the files are byte-identical (so the generator and
//!    the published files cannot drift apart).
//!
//! Regenerate after a deliberate format change with
//! `EN_REGENERATE_VECTORS=1 cargo test -p en-protocol --test spec_vectors`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ed25519_dalek::Signer;
use en_protocol::hex;
use en_protocol::keys::{context, PublicKey, SigningKey, TemporaryExposureKey};
use en_protocol::time::{IntervalNumber, UnixTime};
use en_protocol::verify::{AuthorityInfo, ExportKeys};
use en_protocol::wire::batch::{Batch, SignedBatch, GENESIS_HASH};
use en_protocol::wire::case_report::{CaseReport, SignedCaseReport};
use en_protocol::wire::certificate::{Certificate, SignedCertificate};
use en_protocol::wire::config::{RiskConfig, SignedRiskConfig};
use en_protocol::wire::index::{Index, IndexEntry, SignedIndex};
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata, UploadKey};
use en_protocol::wire::revision::{RevisionSecret, RevisionToken};
use en_protocol::wire::{Audience, AuthorityId, Region, ReportType};
use en_protocol::Error;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};

mod common;
mod phone_state_vectors;

const SEED: u64 = 0x656e_7665_6374_6f72; // "envector"
const NOW: u64 = 1_700_000_000;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}

/// The fixed world every vector is made in.
struct World {
    rng: ChaCha20Rng,
    authority: SigningKey,
    other_authority: SigningKey,
    export: SigningKey,
}

impl World {
    fn new() -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(SEED);
        let authority = SigningKey::generate(&mut rng);
        let other_authority = SigningKey::generate(&mut rng);
        let export = SigningKey::generate(&mut rng);
        World {
            rng,
            authority,
            other_authority,
            export,
        }
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.rng.fill_bytes(&mut b);
        b
    }
    fn upload_keys(&mut self, n: u32) -> Vec<UploadKey> {
        let today = UnixTime(NOW).interval().day_start().0;
        (0..n)
            .map(|i| UploadKey {
                key: TemporaryExposureKey::from_bytes(self.bytes()),
                rolling_start: IntervalNumber(today - 144 * (i + 1)),
                rolling_period: 144,
                transmission_risk: (i % 9) as u8,
            })
            .collect()
    }
    fn context(&self) -> Value {
        json!({
            "now": NOW,
            "authority_id": "moh.vn",
            "authority_region": "VN",
            "authority_public_key": self.authority.public_key().to_hex(),
            "revoked_authority_id": "revoked.example",
            "revoked_authority_public_key": self.other_authority.public_key().to_hex(),
            "export_public_key": self.export.public_key().to_hex(),
            "audience": "en-server.example:VN",
        })
    }
}

/// Re-signs a (possibly patched) message with `seed`'s key under `ctx`, so that a vector
/// fails only for the reason it is meant to.
fn resign(bytes: &[u8], ctx: &[u8], key: &SigningKey) -> Vec<u8> {
    let sk = ed25519_dalek::SigningKey::from_bytes(&key.to_seed());
    let body = &bytes[..bytes.len() - 64];
    let mut m = ctx.to_vec();
    m.push(0);
    m.extend_from_slice(body);
    let mut out = body.to_vec();
    out.extend_from_slice(&sk.sign(&m).to_bytes());
    out
}

fn ok(name: &str, description: &str, bytes: &[u8], decoded: Value) -> Value {
    json!({"name": name, "description": description, "hex": hex::encode(bytes), "expect": "ok", "decoded": decoded})
}
fn err(name: &str, description: &str, bytes: &[u8], code: &str) -> Value {
    json!({"name": name, "description": description, "hex": hex::encode(bytes), "expect": {"error": code}})
}

/// The negatives every format shares: truncation, trailing data, version, magic, signature.
fn common_negatives(valid: &[u8], ctx: &[u8], key: &SigningKey, signed: bool) -> Vec<Value> {
    let mut v = Vec::new();
    v.push(err(
        "truncated",
        "the last byte is missing",
        &valid[..valid.len() - 1],
        "truncated",
    ));
    v.push(err("empty", "no bytes at all", &[], "truncated"));
    let mut t = valid.to_vec();
    t.push(0);
    v.push(err(
        "trailing-byte",
        "one extra byte after the message",
        &t,
        "trailing_bytes",
    ));
    let mut w = valid.to_vec();
    w[4] = 2;
    let w = if signed { resign(&w, ctx, key) } else { w };
    v.push(err(
        "wrong-version",
        "version byte 2 (validly signed): unknown versions are rejected",
        &w,
        "unsupported_version",
    ));
    let mut m = valid.to_vec();
    m[0] ^= 0x20;
    let m = if signed { resign(&m, ctx, key) } else { m };
    v.push(err(
        "wrong-magic",
        "first magic byte changed",
        &m,
        "bad_magic",
    ));
    if signed {
        let mut s = valid.to_vec();
        let n = s.len();
        s[n - 1] ^= 1;
        v.push(err(
            "bad-signature",
            "one bit of the signature flipped",
            &s,
            "bad_signature",
        ));
        let other = if ctx == context::BATCH {
            context::INDEX
        } else {
            context::BATCH
        };
        v.push(err(
            "wrong-context",
            "validly signed by the right key, but under another format's signature context",
            &resign(valid, other, key),
            "bad_signature",
        ));
    }
    v
}

fn describe_upload_key(k: &UploadKey) -> Value {
    json!({"key": hex::encode(k.key.as_bytes()), "rolling_start": k.rolling_start.0,
           "rolling_period": k.rolling_period, "transmission_risk": k.transmission_risk})
}
fn describe_meta(m: &KeyMetadata) -> Value {
    json!({"rolling_start": m.rolling_start.0, "rolling_period": m.rolling_period,
           "transmission_risk": m.transmission_risk, "report_type": m.report_type.name(),
           "days_since_onset": m.days_since_onset})
}
fn describe_dk(k: &DiagnosisKey) -> Value {
    json!({"key": hex::encode(k.key.as_bytes()), "meta": describe_meta(&k.meta)})
}
fn describe_case(r: &CaseReport) -> Value {
    json!({"authority": r.authority.as_str(), "region": r.region.as_str(), "report_type": r.report_type.name(),
           "symptom_onset": r.symptom_onset.map(|i| i.0), "issued_at": r.issued_at.0, "nonce": hex::encode(&r.nonce),
           "keys": r.keys.iter().map(describe_upload_key).collect::<Vec<_>>()})
}
fn describe_cert(c: &Certificate) -> Value {
    json!({"authority": c.authority.as_str(), "report_type": c.report_type.name(),
           "symptom_onset": c.symptom_onset.map(|i| i.0), "issued_at": c.issued_at.0, "expires_at": c.expires_at.0,
           "audience": c.audience.as_str(), "id": hex::encode(&c.id), "tekmac": hex::encode(&c.tekmac)})
}
fn describe_batch(h: &en_protocol::wire::batch::BatchHeader, keys: &[DiagnosisKey]) -> Value {
    json!({"region": h.region.as_str(), "sequence": h.sequence, "window_start": h.window_start.0,
           "window_end": h.window_end.0, "prev_hash": hex::encode(&h.prev_hash), "key_id": h.key_id.to_string(),
           "key_count": h.key_count, "hash": hex::encode(&h.hash), "size": h.size,
           "keys": keys.iter().map(describe_dk).collect::<Vec<_>>()})
}
fn describe_index(i: &Index) -> Value {
    json!({"region": i.region.as_str(), "generated_at": i.generated_at.0,
           "entries": i.entries.iter().map(|e| json!({"sequence": e.sequence, "window_start": e.window_start.0,
               "window_end": e.window_end.0, "hash": hex::encode(&e.hash), "size": e.size})).collect::<Vec<_>>()})
}
fn describe_config(c: &RiskConfig) -> Value {
    json!({"issued_at": c.issued_at.0, "attenuation_thresholds": c.attenuation_thresholds,
           "attenuation_weights": c.attenuation_weights,
           "infectiousness_by_dsos": c.infectiousness_by_dsos.iter().map(|i| *i as u8).collect::<Vec<_>>(),
           "infectiousness_when_missing": c.infectiousness_when_missing as u8,
           "infectiousness_weights": c.infectiousness_weights, "report_type_weights": c.report_type_weights,
           "minimum_window_score": c.minimum_window_score, "notification_threshold": c.notification_threshold})
}

fn file(format: &str, description: &str, w: &World, vectors: Vec<Value>) -> Value {
    json!({"format": format, "description": description, "generator": "protocol/tests/spec_vectors.rs",
           "seed": format!("{SEED:#x}"), "context": w.context(), "vectors": vectors})
}

fn case_report(w: &mut World) -> (CaseReport, Vec<u8>) {
    let keys = w.upload_keys(3);
    let r = CaseReport {
        authority: AuthorityId::new("moh.vn").unwrap(),
        region: Region::new("VN").unwrap(),
        report_type: ReportType::ConfirmedTest,
        symptom_onset: Some(IntervalNumber(UnixTime(NOW).interval().0 - 144 * 2)),
        issued_at: UnixTime(NOW - 60),
        nonce: w.bytes(),
        keys,
    };
    let b = r.sign(&w.authority).unwrap();
    (r, b)
}

fn generate() -> BTreeMap<&'static str, Value> {
    let mut w = World::new();
    let mut files = BTreeMap::new();

    // Diagnosis key (unsigned).
    let dk = DiagnosisKey {
        key: TemporaryExposureKey::from_bytes(w.bytes()),
        meta: KeyMetadata {
            rolling_start: IntervalNumber(2_833_200),
            rolling_period: 144,
            transmission_risk: 2,
            report_type: ReportType::ConfirmedTest,
            days_since_onset: Some(-3),
        },
    };
    let b = dk.encode();
    let mut v = vec![ok(
        "valid",
        "a confirmed-test key, 3 days before onset",
        &b,
        describe_dk(&dk),
    )];
    let mut dk2 = dk.clone();
    dk2.meta.days_since_onset = None;
    dk2.meta.report_type = ReportType::Revoked;
    v.push(ok(
        "valid-no-onset",
        "a revoked key without days since onset (0x80)",
        &dk2.encode(),
        describe_dk(&dk2),
    ));
    v.extend(common_negatives(&b, b"", &w.export, false));
    for (name, off, val, what) in [
        ("period-zero", 25, 0u8, "rolling period 0"),
        ("period-145", 25, 145, "rolling period 145"),
        ("risk-9", 26, 9, "transmission risk 9"),
        ("report-type-0", 27, 0, "report type 0 (unknown)"),
        ("report-type-4", 27, 4, "report type 4 (recursive)"),
        ("dsos-15", 28, 15, "days since onset +15"),
        ("dsos-minus-15", 28, (-15i8) as u8, "days since onset -15"),
    ] {
        let mut x = b.clone();
        x[off] = val;
        v.push(err(name, what, &x, "out_of_range"));
    }
    files.insert(
        "diagnosis_key.json",
        file(
            "diagnosis-key",
            "A standalone diagnosis key (29 bytes).",
            &w,
            v,
        ),
    );

    // Case report.
    let (r, b) = case_report(&mut w);
    let mut v = vec![ok(
        "valid",
        "3 keys, confirmed test, onset 2 days ago",
        &b,
        describe_case(&r),
    )];
    v.extend(common_negatives(
        &b,
        context::CASE_REPORT,
        &w.authority,
        true,
    ));
    let mut unknown = r.clone();
    unknown.authority = AuthorityId::new("nobody").unwrap();
    v.push(err(
        "unknown-authority",
        "signed by a key the registry does not know under that id",
        &unknown.sign(&w.authority).unwrap(),
        "unknown_authority",
    ));
    let mut revoked = r.clone();
    revoked.authority = AuthorityId::new("revoked.example").unwrap();
    v.push(err(
        "revoked-authority",
        "signed by a revoked authority",
        &revoked.sign(&w.other_authority).unwrap(),
        "revoked_authority",
    ));
    v.push(err(
        "wrong-key",
        "claims moh.vn but is signed by another key",
        &r.sign(&w.other_authority).unwrap(),
        "bad_signature",
    ));
    let mut region = r.clone();
    region.region = Region::new("TH").unwrap();
    v.push(err(
        "wrong-region",
        "moh.vn may only report for VN",
        &region.sign(&w.authority).unwrap(),
        "wrong_region",
    ));
    let kc_off = b.len() - 64 - 3 * 22 - 1;
    let mut p = b.clone();
    p[kc_off + 1 + 20] = 0; // first key's rolling period
    v.push(err(
        "period-zero",
        "first key has rolling period 0 (validly signed)",
        &resign(&p, context::CASE_REPORT, &w.authority),
        "out_of_range",
    ));
    let mut p = b.clone();
    p[kc_off] = 4; // claims 4 keys, holds 3
    v.push(err(
        "count-too-high",
        "key count says 4 but 3 keys follow (validly signed)",
        &resign(&p, context::CASE_REPORT, &w.authority),
        "truncated",
    ));
    let mut p = b.clone();
    p[5 + 1 + 6 + 1 + 2 + 1] = 0; // onset flag 0 but value non-zero
    v.push(err(
        "onset-noncanonical",
        "onset marked absent but its value is not zero",
        &resign(&p, context::CASE_REPORT, &w.authority),
        "non_canonical",
    ));
    let mut p = b.clone();
    p[5 + 1 + 6 + 1 + 2] = 9;
    v.push(err(
        "report-type-9",
        "report type 9",
        &resign(&p, context::CASE_REPORT, &w.authority),
        "out_of_range",
    ));
    let mut p = b.clone();
    p[6] = b'M'; // authority id must be lower case
    v.push(err(
        "authority-uppercase",
        "authority id with an upper-case letter",
        &resign(&p, context::CASE_REPORT, &w.authority),
        "out_of_range",
    ));
    files.insert(
        "case_report.json",
        file(
            "case-report",
            "Case reports signed by the health authority moh.vn.",
            &w,
            v,
        ),
    );

    // Certificate.
    let keys = w.upload_keys(2);
    let hmac_key: [u8; 32] = w.bytes();
    let c = Certificate {
        authority: AuthorityId::new("moh.vn").unwrap(),
        report_type: ReportType::ConfirmedClinicalDiagnosis,
        symptom_onset: None,
        issued_at: UnixTime(NOW - 3600),
        expires_at: UnixTime(NOW + 3600),
        audience: Audience::new("en-server.example:VN").unwrap(),
        id: w.bytes(),
        tekmac: en_protocol::tekmac::tekmac(&hmac_key, &keys, true),
    };
    let b = c.sign(&w.authority).unwrap();
    let mut desc = describe_cert(&c);
    desc["bound_keys"] = json!(keys.iter().map(describe_upload_key).collect::<Vec<_>>());
    desc["hmac_key"] = json!(hex::encode(&hmac_key));
    let mut v = vec![ok(
        "valid",
        "valid at `now`; binds the 2 keys in bound_keys with hmac_key",
        &b,
        desc,
    )];
    v.extend(common_negatives(
        &b,
        context::CERTIFICATE,
        &w.authority,
        true,
    ));
    let mut e = c.clone();
    e.issued_at = UnixTime(NOW - 7200);
    e.expires_at = UnixTime(NOW);
    v.push(err(
        "expired",
        "expires exactly at `now`",
        &e.sign(&w.authority).unwrap(),
        "certificate_expired",
    ));
    let mut f = c.clone();
    f.issued_at = UnixTime(NOW + 3600);
    f.expires_at = UnixTime(NOW + 7200);
    v.push(err(
        "future",
        "issued an hour after `now` (beyond the 300 s skew)",
        &f.sign(&w.authority).unwrap(),
        "not_yet_valid",
    ));
    let mut a = c.clone();
    a.audience = Audience::new("other-server").unwrap();
    v.push(err(
        "wrong-audience",
        "issued for another server",
        &a.sign(&w.authority).unwrap(),
        "wrong_audience",
    ));
    let mut p = b.clone();
    let exp_off = 5 + 1 + 6 + 1 + 5 + 8;
    p[exp_off..exp_off + 8].copy_from_slice(&(NOW - 3600).to_be_bytes());
    v.push(err(
        "empty-validity",
        "expires when issued (validly signed)",
        &resign(&p, context::CERTIFICATE, &w.authority),
        "out_of_range",
    ));
    files.insert(
        "certificate.json",
        file(
            "verification-certificate",
            "Verification certificates issued by moh.vn.",
            &w,
            v,
        ),
    );

    // Batch.
    let region = Region::new("VN").unwrap();
    let mut keys: Vec<DiagnosisKey> = Vec::new();
    for (i, rt) in [ReportType::ConfirmedTest, ReportType::SelfReport]
        .into_iter()
        .enumerate()
    {
        let onset = Some(IntervalNumber(
            UnixTime(NOW).interval().0 - 144 * (i as u32 + 1),
        ));
        keys.extend(en_protocol::validate::to_diagnosis_keys(
            &w.upload_keys(3),
            rt,
            onset,
        ));
    }
    let batch = Batch {
        region: region.clone(),
        sequence: 1,
        window_start: UnixTime(NOW - NOW % 86_400 - 86_400),
        window_end: UnixTime(NOW - NOW % 86_400),
        prev_hash: GENESIS_HASH,
        keys,
    };
    let b1 = batch.clone().sign(&w.export).unwrap();
    let s1 = SignedBatch::decode(&b1).unwrap();
    let h1 = s1.header().clone();
    let mut v = vec![ok(
        "valid-first",
        "sequence 1, 6 keys, genesis previous hash",
        &b1,
        describe_batch(
            &h1,
            s1.clone()
                .verify(&w.export.public_key().into())
                .unwrap()
                .keys(),
        ),
    )];
    let batch2 = Batch {
        sequence: 2,
        window_start: batch.window_end,
        window_end: batch.window_end.plus(86_400),
        prev_hash: h1.hash,
        keys: vec![],
        ..batch.clone()
    };
    let b2 = batch2.sign(&w.export).unwrap();
    let s2 = SignedBatch::decode(&b2).unwrap();
    v.push(ok(
        "valid-empty-second",
        "sequence 2 chained to valid-first, no keys",
        &b2,
        describe_batch(s2.header(), &[]),
    ));
    v.extend(common_negatives(&b1, context::BATCH, &w.export, true));
    let unknown = SigningKey::generate(&mut w.rng);
    v.push(err(
        "unknown-export-key",
        "signed by an export key the phone does not trust",
        &batch.clone().sign(&unknown).unwrap(),
        "unknown_export_key",
    ));
    // 6 keys with 6 distinct metadata entries: indices take 3 bits each, 18 bits = 3 bytes.
    let idx = b1.len() - 64 - 3;
    let recs = idx - 6 * 16;
    let mut p = b1.clone();
    let (first, second) = (
        p[recs..recs + 16].to_vec(),
        p[recs + 16..recs + 32].to_vec(),
    );
    p[recs..recs + 16].copy_from_slice(&second);
    p[recs + 16..recs + 32].copy_from_slice(&first);
    v.push(err(
        "unsorted",
        "first two keys swapped (validly signed)",
        &resign(&p, context::BATCH, &w.export),
        "non_canonical",
    ));
    let mut p = b1.clone();
    p[idx] |= 0xe0;
    v.push(err(
        "bad-index",
        "the first key's 3-bit index is 7, past the 6-entry metadata table (validly signed)",
        &resign(&p, context::BATCH, &w.export),
        "out_of_range",
    ));
    let mut p = b1.clone();
    p[idx + 2] |= 1;
    v.push(err(
        "index-padding",
        "a non-zero bit in the unused tail of the index array (validly signed)",
        &resign(&p, context::BATCH, &w.export),
        "non_canonical",
    ));
    let mut p = b1.clone();
    let seq_off = 5 + 8 + 3;
    p[seq_off..seq_off + 8].copy_from_slice(&0u64.to_be_bytes());
    v.push(err(
        "sequence-zero",
        "sequence number 0 (validly signed)",
        &resign(&p, context::BATCH, &w.export),
        "out_of_range",
    ));
    let mut p = b1.clone();
    let count_off = 5 + 8 + 3 + 8 + 8 + 8 + 32 + 2;
    p[count_off..count_off + 4].copy_from_slice(&4_000_001u32.to_be_bytes());
    v.push(err(
        "too-many-keys",
        "key count 4,000,001 (validly signed): rejected before allocating",
        &resign(&p, context::BATCH, &w.export),
        "too_many",
    ));
    files.insert("batch.json", file("batch", "Batches signed by the export key; valid-empty-second follows valid-first in the hash chain.", &w, v));

    // Index.
    let idx = Index {
        region: region.clone(),
        generated_at: UnixTime(NOW),
        entries: [&h1, s2.header()]
            .iter()
            .map(|h| IndexEntry {
                sequence: h.sequence,
                window_start: h.window_start,
                window_end: h.window_end,
                hash: h.hash,
                size: h.size,
            })
            .collect(),
    };
    let b = idx.sign(&w.export).unwrap();
    let mut v = vec![ok(
        "valid",
        "lists the two valid batches of batch.json",
        &b,
        describe_index(&idx),
    )];
    v.extend(common_negatives(&b, context::INDEX, &w.export, true));
    let mut p = b.clone();
    let e0 = 5 + 8 + 3 + 8 + 4;
    p[e0..e0 + 8].copy_from_slice(&2u64.to_be_bytes());
    v.push(err(
        "unsorted",
        "first entry's sequence equals the second's (validly signed)",
        &resign(&p, context::INDEX, &w.export),
        "non_canonical",
    ));
    files.insert(
        "index.json",
        file("index", "Index signed by the export key.", &w, v),
    );

    // Risk configuration.
    let rc = RiskConfig {
        issued_at: UnixTime(NOW),
        ..RiskConfig::default()
    };
    let b = rc.sign(&w.export).unwrap();
    let mut v = vec![ok(
        "valid",
        "the default risk configuration",
        &b,
        describe_config(&rc),
    )];
    v.extend(common_negatives(&b, context::RISK_CONFIG, &w.export, true));
    let mut p = b.clone();
    p[5 + 8 + 8 + 1] = 50; // thresholds 55, 50, 73: not increasing
    v.push(err(
        "thresholds-unordered",
        "attenuation thresholds not increasing (validly signed)",
        &resign(&p, context::RISK_CONFIG, &w.export),
        "out_of_range",
    ));
    let mut p = b.clone();
    p[5 + 8 + 8 + 3..5 + 8 + 8 + 5].copy_from_slice(&251u16.to_be_bytes());
    v.push(err(
        "weight-too-high",
        "immediate weight 2.51 (validly signed)",
        &resign(&p, context::RISK_CONFIG, &w.export),
        "out_of_range",
    ));
    let mut p = b.clone();
    p[5 + 8 + 8 + 3 + 8] = 3;
    v.push(err(
        "infectiousness-3",
        "infectiousness code 3 (validly signed)",
        &resign(&p, context::RISK_CONFIG, &w.export),
        "out_of_range",
    ));
    files.insert(
        "risk_config.json",
        file(
            "risk-config",
            "Risk configuration signed by the export key.",
            &w,
            v,
        ),
    );
    let v = phone_state_vectors::vectors(&mut w);
    files.insert(
        "phone_state.json",
        file(
            "phone-state",
            "A phone's stored state (local storage, never sent; holds secret keys), made by the phone API; decoded with the export key and region VN of `context`.",
            &w,
            v,
        ),
    );
    files.insert("revision_token.json", revision_vectors(&mut w));
    files
}

/// The revision secret and key set of `revision_token.json`'s context.
const REVISION_SECRET: [u8; 32] = [0x52; 32];

fn revision_keys(ctx: &Value) -> Vec<UploadKey> {
    ctx["revision_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| UploadKey {
            key: TemporaryExposureKey::from_bytes(
                hex::decode_array(k["key"].as_str().unwrap()).unwrap(),
            ),
            rolling_start: IntervalNumber(k["rolling_start"].as_u64().unwrap() as u32),
            rolling_period: k["rolling_period"].as_u64().unwrap() as u8,
            transmission_risk: k["transmission_risk"].as_u64().unwrap() as u8,
        })
        .collect()
}

fn describe_revision(t: &RevisionToken) -> Value {
    json!({"report_type": t.report_type.name(), "expires_at": t.expires_at.0,
           "nonce": hex::encode(&t.nonce), "mac": hex::encode(&t.mac)})
}

fn revision_vectors(w: &mut World) -> Value {
    let secret = RevisionSecret::from_bytes(REVISION_SECRET);
    let keys = w.upload_keys(3);
    let now = UnixTime(NOW);
    let life = en_protocol::wire::revision::DEFAULT_LIFETIME_SECONDS;
    let t = secret
        .issue(ReportType::SelfReport, &keys, now, life, &mut w.rng)
        .unwrap();
    let b = t.encode();
    let mut v = vec![ok(
        "valid-self-report",
        "a self-report upload's token, issued at `now`, verified for the context's keys",
        &b,
        describe_revision(&t),
    )];
    let t2 = secret
        .issue(
            ReportType::ConfirmedClinicalDiagnosis,
            &keys,
            now,
            60,
            &mut w.rng,
        )
        .unwrap();
    v.push(ok(
        "valid-clinical",
        "a clinical (`likely`) upload's token valid for one more minute",
        &t2.encode(),
        describe_revision(&t2),
    ));
    v.extend(common_negatives(&b, &[], &w.export, false));
    for (name, code, desc) in [
        (
            "type-confirmed",
            1u8,
            "report type confirmed: not revisable",
        ),
        ("type-revoked", 5, "report type revoked: not revisable"),
        ("type-unknown", 4, "report type 4 is not defined"),
    ] {
        let mut p = b.clone();
        p[5] = code;
        v.push(err(name, desc, &p, "out_of_range"));
    }
    let mut p = b.clone();
    let n = p.len();
    p[n - 1] ^= 1;
    v.push(err(
        "bad-mac",
        "one bit of the MAC flipped",
        &p,
        "revision_token_mismatch",
    ));
    let mut p = b.clone();
    p[6..14].copy_from_slice(&(NOW + 10 * life).to_be_bytes());
    v.push(err(
        "extended-expiry",
        "expiry moved later without the secret: the MAC covers the fields",
        &p,
        "revision_token_mismatch",
    ));
    let other = secret
        .issue(ReportType::SelfReport, &keys[..2], now, life, &mut w.rng)
        .unwrap();
    v.push(err(
        "other-key-set",
        "validly issued for the first two keys only: the key set differs",
        &other.encode(),
        "revision_token_mismatch",
    ));
    let expired = secret
        .issue(
            ReportType::SelfReport,
            &keys,
            UnixTime(NOW - life),
            life,
            &mut w.rng,
        )
        .unwrap();
    v.push(err(
        "expired",
        "validly issued 14 days before `now`: expires exactly at `now`",
        &expired.encode(),
        "revision_token_expired",
    ));
    let mut f = file(
        "revision-token",
        "Revision token (ENRT v1), MACed with the context's `revision_secret` over the context's `revision_keys`.",
        w,
        v,
    );
    f["context"]["revision_secret"] = json!(hex::encode(&REVISION_SECRET));
    f["context"]["revision_keys"] = json!(keys.iter().map(describe_upload_key).collect::<Vec<_>>());
    f
}

/// Decodes, verifies and describes one vector; the error code on failure.
fn check(format: &str, ctx: &Value, bytes: &[u8]) -> Result<(Value, Vec<u8>), String> {
    let code = |e: Error| e.code().to_string();
    let pk = |k: &str| PublicKey::from_hex(ctx[k].as_str().unwrap()).unwrap();
    let mut registry = BTreeMap::new();
    registry.insert(
        AuthorityId::new(ctx["authority_id"].as_str().unwrap()).unwrap(),
        AuthorityInfo {
            public_key: pk("authority_public_key"),
            region: Some(Region::new("VN").unwrap()),
            revoked: false,
        },
    );
    registry.insert(
        AuthorityId::new(ctx["revoked_authority_id"].as_str().unwrap()).unwrap(),
        AuthorityInfo {
            public_key: pk("revoked_authority_public_key"),
            region: None,
            revoked: true,
        },
    );
    let export: ExportKeys = pk("export_public_key").into();
    let now = UnixTime(ctx["now"].as_u64().unwrap());
    match format {
        "diagnosis-key" => {
            let k = DiagnosisKey::decode(bytes).map_err(|e| code(e.into()))?;
            Ok((describe_dk(&k), k.encode()))
        }
        "case-report" => {
            let s = SignedCaseReport::decode(bytes).map_err(|e| code(e.into()))?;
            let enc = s.encode().to_vec();
            let v = s.verify(&registry).map_err(code)?;
            Ok((describe_case(v.report()), enc))
        }
        "verification-certificate" => {
            let s = SignedCertificate::decode(bytes).map_err(|e| code(e.into()))?;
            let enc = s.encode().to_vec();
            let aud = Audience::new(ctx["audience"].as_str().unwrap()).unwrap();
            let v = s.verify(&registry, &aud, now, 300).map_err(code)?;
            Ok((describe_cert(v.certificate()), enc))
        }
        "batch" => {
            let s = SignedBatch::decode(bytes).map_err(|e| code(e.into()))?;
            let enc = s.encode().to_vec();
            let v = s.verify(&export).map_err(code)?;
            Ok((describe_batch(v.header(), v.keys()), enc))
        }
        "index" => {
            let s = SignedIndex::decode(bytes).map_err(|e| code(e.into()))?;
            let enc = s.encode().to_vec();
            let v = s.verify(&export).map_err(code)?;
            Ok((describe_index(v.index()), enc))
        }
        "risk-config" => {
            let s = SignedRiskConfig::decode(bytes).map_err(|e| code(e.into()))?;
            let enc = s.encode().to_vec();
            let v = s.verify(&export).map_err(code)?;
            Ok((describe_config(v.config()), enc))
        }
        "phone-state" => {
            let p = phone_state_vectors::decode(bytes, export).map_err(code)?;
            Ok((phone_state_vectors::describe(&p), p.encode().to_vec()))
        }
        "revision-token" => {
            let t = RevisionToken::decode(bytes).map_err(|e| code(e.into()))?;
            let secret = RevisionSecret::from_bytes(
                hex::decode_array(ctx["revision_secret"].as_str().unwrap()).unwrap(),
            );
            secret.verify(&t, &revision_keys(ctx), now).map_err(code)?;
            Ok((describe_revision(&t), t.encode()))
        }
        other => panic!("unknown format {other}"),
    }
}

#[test]
fn every_vector_file_is_current() {
    let generated = generate();
    let dir = vectors_dir();
    if std::env::var_os("EN_REGENERATE_VECTORS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, v) in &generated {
            std::fs::write(
                dir.join(name),
                serde_json::to_string_pretty(v).unwrap() + "\n",
            )
            .unwrap();
        }
    }
    for (name, v) in &generated {
        let on_disk =
            std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            on_disk,
            serde_json::to_string_pretty(v).unwrap() + "\n",
            "{name} differs from the generator"
        );
    }
}

#[test]
fn every_vector_behaves_as_stated() {
    let mut files = 0;
    let mut checked = 0;
    for entry in std::fs::read_dir(vectors_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let f: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let format = f["format"].as_str().unwrap();
        if format == "self-report" {
            // A protocol exchange, not one encoding: tests/self_report_vectors.rs checks it.
            continue;
        }
        files += 1;
        let mut positives = 0;
        let mut negatives = 0;
        for v in f["vectors"].as_array().unwrap() {
            let name = format!("{}:{}", path.display(), v["name"].as_str().unwrap());
            let bytes = hex::decode(v["hex"].as_str().unwrap()).unwrap();
            let got = check(format, &f["context"], &bytes);
            if v["expect"] == "ok" {
                let (decoded, reencoded) =
                    got.unwrap_or_else(|e| panic!("{name}: expected ok, got {e}"));
                let mut want = v["decoded"].clone();
                // Certificates carry their bound keys for the tekmac check below.
                let bound = want.as_object_mut().and_then(|o| o.remove("bound_keys"));
                let hmac_key = want.as_object_mut().and_then(|o| o.remove("hmac_key"));
                assert_eq!(decoded, want, "{name}: decoded fields");
                // An older version re-encodes as the current one (`reencoded`).
                let want_bytes = v["reencoded"]
                    .as_str()
                    .map_or(bytes.clone(), |h| hex::decode(h).unwrap());
                assert_eq!(reencoded, want_bytes, "{name}: re-encoding");
                if let (Some(keys), Some(hk)) = (bound, hmac_key) {
                    let keys: Vec<UploadKey> = keys
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|k| UploadKey {
                            key: TemporaryExposureKey::from_bytes(
                                hex::decode_array(k["key"].as_str().unwrap()).unwrap(),
                            ),
                            rolling_start: IntervalNumber(
                                k["rolling_start"].as_u64().unwrap() as u32
                            ),
                            rolling_period: k["rolling_period"].as_u64().unwrap() as u8,
                            transmission_risk: k["transmission_risk"].as_u64().unwrap() as u8,
                        })
                        .collect();
                    let mac =
                        hex::decode_array::<32>(v["decoded"]["tekmac"].as_str().unwrap()).unwrap();
                    assert!(
                        en_protocol::tekmac::check(
                            &hex::decode(hk.as_str().unwrap()).unwrap(),
                            &keys,
                            &mac
                        ),
                        "{name}: tekmac"
                    );
                }
                positives += 1;
            } else {
                let want = v["expect"]["error"].as_str().unwrap();
                match got {
                    Ok(_) => panic!("{name}: expected error {want}, but it was accepted"),
                    Err(e) => assert_eq!(e, want, "{name}"),
                }
                negatives += 1;
            }
            checked += 1;
        }
        assert!(
            positives >= 1 && negatives >= 5,
            "{}: needs positive and negative vectors",
            path.display()
        );
    }
    assert_eq!(files, 8, "one vector file per format");
    assert!(checked > 60);
}

#[test]
fn batch_chain_vectors_link() {
    let f: Value =
        serde_json::from_str(&std::fs::read_to_string(vectors_dir().join("batch.json")).unwrap())
            .unwrap();
    let export: ExportKeys =
        PublicKey::from_hex(f["context"]["export_public_key"].as_str().unwrap())
            .unwrap()
            .into();
    let get = |n: &str| {
        let v = f["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == n)
            .unwrap();
        SignedBatch::decode(&hex::decode(v["hex"].as_str().unwrap()).unwrap())
            .unwrap()
            .verify(&export)
            .unwrap()
    };
    let (a, b) = (get("valid-first"), get("valid-empty-second"));
    assert_eq!(b.check_follows(a.header()), Ok(()));
    assert!(a.check_follows(b.header()).is_err());
}
