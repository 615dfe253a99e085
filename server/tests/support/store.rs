//! Accepted uploads made the honest way (signed, verified and accepted by en-protocol) and
//! chain heads, for the store tests of both stores.
#![allow(dead_code)]

use std::collections::BTreeMap;

use en_protocol::accept::{AcceptPolicy, AcceptedUpload};
use en_protocol::keys::{SigningKey, TemporaryExposureKey};
use en_protocol::verify::AuthorityInfo;
use en_protocol::wire::case_report::{CaseReport, SignedCaseReport};
use en_protocol::wire::index::IndexEntry;
use en_protocol::wire::key::{DiagnosisKey, UploadKey};
use en_protocol::wire::{Audience, AuthorityId, Region, ReportType};
use en_protocol::{IntervalNumber, UnixTime};
use en_server::store::{ChainHead, Store};

pub const DAY: u64 = 86_400;
/// Day 20400, 01:00 UTC.
pub const NOW: UnixTime = UnixTime(20_400 * DAY + 3_600);
pub const SECRET: [u8; 32] = [9; 32];

pub fn authority() -> SigningKey {
    SigningKey::from_seed(&[5; 32])
}

/// A case report with `nonce` for keys `(first byte, UTC day)`, signed at `now`, verified and
/// accepted exactly as the upload path does.
pub fn upload(nonce: u8, keys: &[(u8, u32)], now: UnixTime) -> AcceptedUpload {
    let keys: Vec<([u8; 16], u32)> = keys.iter().map(|(b, d)| ([*b; 16], *d)).collect();
    upload_raw([nonce; 16], &keys, now)
}

/// [`upload`] with any nonce and key bytes.
pub fn upload_raw(nonce: [u8; 16], keys: &[([u8; 16], u32)], now: UnixTime) -> AcceptedUpload {
    let id = AuthorityId::new("moh").unwrap();
    let report = CaseReport {
        authority: id.clone(),
        region: Region::new("VN").unwrap(),
        report_type: ReportType::ConfirmedTest,
        symptom_onset: None,
        issued_at: now,
        nonce,
        keys: keys
            .iter()
            .map(|(b, day)| UploadKey {
                key: TemporaryExposureKey::from_bytes(*b),
                rolling_start: IntervalNumber(day * 144),
                rolling_period: 144,
                transmission_risk: 4,
            })
            .collect(),
    }
    .sign(&authority())
    .unwrap();
    let registry = BTreeMap::from([(
        id,
        AuthorityInfo {
            public_key: authority().public_key(),
            region: None,
            revoked: false,
        },
    )]);
    let policy = AcceptPolicy::new(Region::new("VN").unwrap(), Audience::new("a").unwrap());
    SignedCaseReport::decode(&report)
        .unwrap()
        .verify(&registry)
        .unwrap()
        .accept(&policy, now)
        .unwrap()
}

pub fn teks(keys: &[DiagnosisKey]) -> Vec<u8> {
    let mut v: Vec<u8> = keys.iter().map(|k| k.key.as_bytes()[0]).collect();
    v.sort_unstable();
    v
}

pub async fn publish(store: &(impl Store + ?Sized), sequence: u64, cut: UnixTime) {
    let head = ChainHead {
        sequence,
        hash: [sequence as u8; 32],
        window_end: cut,
        cut,
    };
    let entry = IndexEntry {
        sequence,
        window_start: cut.minus(DAY),
        window_end: cut,
        hash: head.hash,
        size: 5,
    };
    store.publish(&entry, head).await.unwrap();
}

/// The server's revision secret in the store tests.
pub fn revision_secret() -> en_protocol::wire::revision::RevisionSecret {
    en_protocol::wire::revision::RevisionSecret::from_bytes([7; 32])
}

/// A revision of keys `(first byte, UTC day)` (as [`upload`] stored them) to `to`, with a
/// certificate of id `[cert; 16]` and a revision token issued for these keys with nonce
/// material from `token_seed`, signed, verified and accepted exactly as `POST /v1/revisions`
/// does.
pub fn revision(
    keys: &[(u8, u32)],
    to: ReportType,
    cert: u8,
    token_seed: u64,
    now: UnixTime,
) -> en_protocol::revise::AcceptedRevision {
    use en_protocol::wire::certificate::{Certificate, SignedCertificate};
    use rand::SeedableRng;
    let keys: Vec<UploadKey> = keys
        .iter()
        .map(|(b, day)| UploadKey {
            key: TemporaryExposureKey::from_bytes([*b; 16]),
            rolling_start: IntervalNumber(day * 144),
            rolling_period: 144,
            transmission_risk: 0,
        })
        .collect();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(token_seed);
    let token = revision_secret()
        .issue(ReportType::SelfReport, &keys, now, 14 * DAY, &mut rng)
        .unwrap();
    let id = AuthorityId::new("moh").unwrap();
    let audience = Audience::new("a").unwrap();
    let hmac_key = [3u8; 32];
    let signed = Certificate {
        authority: id.clone(),
        report_type: to,
        symptom_onset: None,
        issued_at: now,
        expires_at: now.plus(3600),
        audience: audience.clone(),
        id: [cert; 16],
        tekmac: en_protocol::tekmac::tekmac(&hmac_key, &keys, true),
    }
    .sign(&authority())
    .unwrap();
    let registry = BTreeMap::from([(
        id,
        AuthorityInfo {
            public_key: authority().public_key(),
            region: None,
            revoked: false,
        },
    )]);
    let policy = AcceptPolicy::new(Region::new("VN").unwrap(), audience.clone());
    SignedCertificate::decode(&signed)
        .unwrap()
        .verify(&registry, &audience, now, 300)
        .unwrap()
        .bind(keys, &hmac_key)
        .unwrap()
        .accept_revision(&policy, &revision_secret(), &token, now)
        .unwrap()
}

/// The report type of every key in `keys`, by first byte, sorted.
pub fn types(keys: &[DiagnosisKey]) -> Vec<(u8, ReportType)> {
    let mut v: Vec<(u8, ReportType)> = keys
        .iter()
        .map(|k| (k.key.as_bytes()[0], k.meta.report_type))
        .collect();
    v.sort_unstable();
    v
}
