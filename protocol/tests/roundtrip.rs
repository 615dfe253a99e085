//! Property tests: for every format, `decode(encode(x)) == x`, and decoding arbitrary bytes
//! never panics (it may only return an error).

use en_protocol::keys::{SigningKey, TemporaryExposureKey};
use en_protocol::time::{IntervalNumber, UnixTime};
use en_protocol::verify::ExportKeys;
use en_protocol::wire::batch::{Batch, SignedBatch};
use en_protocol::wire::case_report::{CaseReport, SignedCaseReport};
use en_protocol::wire::certificate::{Certificate, SignedCertificate};
use en_protocol::wire::config::{Infectiousness, RiskConfig, SignedRiskConfig};
use en_protocol::wire::index::{Index, IndexEntry, SignedIndex};
use en_protocol::wire::key::{DiagnosisKey, KeyMetadata, UploadKey};
use en_protocol::wire::{Audience, AuthorityId, Region, ReportType};
use proptest::prelude::*;

fn signer() -> SigningKey {
    SigningKey::from_seed(&[7u8; 32])
}

prop_compose! {
    fn meta()(start in any::<u32>(), period in 1u8..=144, risk in 0u8..=8, rt in 0usize..4,
              dsos in proptest::option::of(-14i8..=14)) -> KeyMetadata {
        KeyMetadata { rolling_start: IntervalNumber(start), rolling_period: period, transmission_risk: risk,
                      report_type: ReportType::ALL[rt], days_since_onset: dsos }
    }
}
prop_compose! {
    fn dkey()(k in any::<[u8; 16]>(), m in meta()) -> DiagnosisKey {
        DiagnosisKey { key: TemporaryExposureKey::from_bytes(k), meta: m }
    }
}
prop_compose! {
    fn ukey()(k in any::<[u8; 16]>(), start in any::<u32>(), period in 1u8..=144, risk in 0u8..=8) -> UploadKey {
        UploadKey { key: TemporaryExposureKey::from_bytes(k), rolling_start: IntervalNumber(start), rolling_period: period, transmission_risk: risk }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn diagnosis_key(k in dkey()) {
        let b = k.encode();
        prop_assert_eq!(DiagnosisKey::decode(&b).unwrap(), k);
    }

    #[test]
    fn case_report(keys in proptest::collection::vec(ukey(), 0..40), rt in 0usize..4, onset in proptest::option::of(any::<u32>()),
                   issued in any::<u64>(), nonce in any::<[u8; 16]>(), id in "[a-z0-9._-]{1,64}", region in "[A-Z0-9-]{1,16}") {
        let r = CaseReport { authority: AuthorityId::new(&id).unwrap(), region: Region::new(&region).unwrap(),
            report_type: ReportType::ALL[rt], symptom_onset: onset.map(IntervalNumber), issued_at: UnixTime(issued), nonce, keys };
        let b = r.sign(&signer()).unwrap();
        let d = SignedCaseReport::decode(&b).unwrap();
        prop_assert_eq!(d.encode(), &b[..]);
        let mut reg = std::collections::BTreeMap::new();
        reg.insert(r.authority.clone(), en_protocol::verify::AuthorityInfo { public_key: signer().public_key(), region: None, revoked: false });
        let v = d.verify(&reg).unwrap();
        prop_assert_eq!(v.report(), &r);
    }

    #[test]
    fn certificate(rt in 0usize..4, onset in proptest::option::of(any::<u32>()), issued in 0u64..u64::MAX / 2, life in 1u64..1_000_000,
                   aud in "[!-~]{1,128}", id in any::<[u8; 16]>(), mac in any::<[u8; 32]>()) {
        let c = Certificate { authority: AuthorityId::new("a").unwrap(), report_type: ReportType::ALL[rt], symptom_onset: onset.map(IntervalNumber),
            issued_at: UnixTime(issued), expires_at: UnixTime(issued + life), audience: Audience::new(&aud).unwrap(), id, tekmac: mac };
        let b = c.sign(&signer()).unwrap();
        let d = SignedCertificate::decode(&b).unwrap();
        prop_assert_eq!(d.encode(), &b[..]);
        let mut reg = std::collections::BTreeMap::new();
        reg.insert(c.authority.clone(), en_protocol::verify::AuthorityInfo { public_key: signer().public_key(), region: None, revoked: false });
        let v = d.verify(&reg, &c.audience, UnixTime(issued), 0).unwrap();
        prop_assert_eq!(v.certificate(), &c);
    }

    #[test]
    fn batch(keys in proptest::collection::vec(dkey(), 0..300), seq in 1u64.., start in 0u64..1 << 40, len in 1u64..1 << 20, prev in any::<[u8; 32]>()) {
        let mut keys = keys;
        keys.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
        keys.dedup_by(|a, b| a.key == b.key);
        let batch = Batch { region: Region::new("VN").unwrap(), sequence: seq, window_start: UnixTime(start), window_end: UnixTime(start + len), prev_hash: prev, keys: keys.clone() };
        let b = batch.sign(&signer()).unwrap();
        let d = SignedBatch::decode(&b).unwrap();
        prop_assert_eq!(d.encode(), &b[..]);
        let v = d.verify(&ExportKeys::from(signer().public_key())).unwrap();
        prop_assert_eq!(v.keys(), &keys[..]);
        prop_assert_eq!(v.header().sequence, seq);
        prop_assert_eq!(v.header().prev_hash, prev);
    }

    #[test]
    fn index(n in 0usize..50, gen in any::<u64>()) {
        let idx = Index { region: Region::new("VN").unwrap(), generated_at: UnixTime(gen), entries: (0..n as u64).map(|i| IndexEntry {
            sequence: i + 1, window_start: UnixTime(i * 10), window_end: UnixTime(i * 10 + 10), hash: [i as u8; 32], size: i * 1000 }).collect() };
        let b = idx.sign(&signer()).unwrap();
        let d = SignedIndex::decode(&b).unwrap();
        prop_assert_eq!(d.encode(), &b[..]);
        let v = d.verify(&ExportKeys::from(signer().public_key())).unwrap();
        prop_assert_eq!(v.index(), &idx);
    }

    #[test]
    fn risk_config(t0 in 0u8..80, gap1 in 1u8..80, gap2 in 1u8..80, w in proptest::array::uniform9(0u16..=250), inf in proptest::array::uniform29(0u8..3), score in any::<u32>()) {
        let code = |c: u8| [Infectiousness::None, Infectiousness::Standard, Infectiousness::High][c as usize];
        let rc = RiskConfig { issued_at: UnixTime(5), attenuation_thresholds: [t0, t0 + gap1, t0 + gap1 + gap2],
            attenuation_weights: [w[0], w[1], w[2], w[3]], infectiousness_by_dsos: inf.map(code), infectiousness_when_missing: code(inf[3]),
            infectiousness_weights: [w[4], w[5]], report_type_weights: [w[6], w[7], w[8]], minimum_window_score: score, notification_threshold: score / 2 };
        let b = rc.sign(&signer()).unwrap();
        let d = SignedRiskConfig::decode(&b).unwrap();
        prop_assert_eq!(d.encode(), &b[..]);
        let v = d.verify(&ExportKeys::from(signer().public_key())).unwrap();
        prop_assert_eq!(v.config(), &rc);
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = DiagnosisKey::decode(&bytes);
        let _ = SignedCaseReport::decode(&bytes);
        let _ = SignedCertificate::decode(&bytes);
        let _ = SignedBatch::decode(&bytes);
        let _ = SignedIndex::decode(&bytes);
        let _ = SignedRiskConfig::decode(&bytes);
    }
}
