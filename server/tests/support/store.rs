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
