//! The real signed GAEN export in `../shared/vectors` parses, verifies with its published
//! P-256 key, fails when tampered with, and round-trips through our encoder.

use en_protocol::gaen::{decode_signatures, verify_export, Export};
use en_protocol::hex;
use serde_json::Value;

fn sample() -> (Vec<u8>, Vec<u8>, String, Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/");
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}gaen-crypto.json")).unwrap())
            .unwrap();
    let s = v["export_signature_samples"][0].clone();
    let bin = hex::decode(s["export_bin_hex"].as_str().unwrap()).unwrap();
    let sig = hex::decode(s["export_sig_hex"].as_str().unwrap()).unwrap();
    let pem = std::fs::read_to_string(format!("{dir}gaen-export-2-keys.pub.pem")).unwrap();
    (bin, sig, pem, s)
}

#[test]
fn real_export_parses_and_verifies() {
    let (bin, sig, pem, s) = sample();
    let d = &s["export_bin_decoded"];
    let v = verify_export(&bin, &sig, &pem).unwrap();
    let e = &v.export;
    assert_eq!(v.key_id.as_deref(), Some("some_id"));
    assert_eq!(e.start_timestamp, d["start_timestamp"].as_u64());
    assert_eq!(e.end_timestamp, d["end_timestamp"].as_u64());
    assert_eq!(e.region.as_deref(), d["region"].as_str());
    assert_eq!(e.batch_num, Some(1));
    assert_eq!(e.batch_size, Some(1));
    assert_eq!(e.keys.len(), 2);
    for (k, want) in e.keys.iter().zip(d["keys"].as_array().unwrap()) {
        assert_eq!(
            hex::encode(&k.key_data),
            want["key_data_hex"].as_str().unwrap()
        );
        assert_eq!(
            k.transmission_risk_level,
            want["transmission_risk_level"].as_i64().map(|x| x as i32)
        );
        assert_eq!(
            k.rolling_start_interval_number,
            want["rolling_start_interval_number"]
                .as_i64()
                .map(|x| x as i32)
        );
        assert_eq!(
            k.rolling_period,
            want["rolling_period"].as_i64().map(|x| x as i32)
        );
    }
    assert_eq!(
        e.signature_infos[0].signature_algorithm.as_deref(),
        Some("1.2.840.10045.4.3.2")
    );
    let (dks, skipped) = e.diagnosis_keys();
    assert_eq!((dks.len(), skipped), (2, 0));
    assert_eq!(dks[1].meta.rolling_period, 114);
    // Our encoder writes GAEN's field order: the sample round-trips byte for byte.
    assert_eq!(e.encode(), bin);
    assert_eq!(decode_signatures(&sig).unwrap().len(), 1);
}

#[test]
fn tampered_export_or_wrong_key_fails() {
    let (bin, sig, pem, _) = sample();
    let mut t = bin.clone();
    let n = t.len();
    t[n - 3] ^= 1;
    assert_eq!(
        verify_export(&t, &sig, &pem).unwrap_err().code(),
        "bad_signature"
    );
    use p256::pkcs8::EncodePublicKey;
    let other = p256::ecdsa::SigningKey::from_slice(&[1u8; 32]).unwrap();
    let other_pem = other
        .verifying_key()
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .unwrap();
    assert_eq!(
        verify_export(&bin, &sig, &other_pem).unwrap_err().code(),
        "bad_signature"
    );
    assert_eq!(
        verify_export(&bin, &sig, "not a pem").unwrap_err().code(),
        "bad_encoding"
    );
    assert_eq!(Export::decode(&bin[..10]).unwrap_err().code(), "truncated");
    assert_eq!(
        Export::decode(b"EK Export v2    ").unwrap_err().code(),
        "bad_magic"
    );
    assert_eq!(
        Export::decode(&bin[..bin.len() - 1]).unwrap_err().code(),
        "truncated"
    );
}
