//! Loads the published GAEN v1.2 crypto vector (all 144 intervals) and the GAEN tekmac
//! vectors from `../shared/vectors/gaen-crypto.json` and asserts every value.

use base64::Engine;
use en_protocol::derive::{aemk, padded_data, rpik, KeySchedule, Metadata};
use en_protocol::hex;
use en_protocol::keys::TemporaryExposureKey;
use en_protocol::tekmac;
use en_protocol::time::{IntervalNumber, UnixTime};
use en_protocol::wire::key::UploadKey;
use serde_json::Value;

fn load() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/gaen-crypto.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("missing string {k}"))
}

#[test]
fn key_schedule_all_144_intervals() {
    let v = load();
    let ks = &v["key_schedule_vector"];
    let tek = TemporaryExposureKey::from_bytes(hex::decode_array(s(ks, "tek_hex")).unwrap());
    assert_eq!(hex::encode(rpik(&tek).as_ref()), s(ks, "rpik_hex"));
    assert_eq!(hex::encode(aemk(&tek).as_ref()), s(ks, "aemk_hex"));
    let first = ks["en_interval_number_of_first_rpi"].as_u64().unwrap() as u32;
    assert_eq!(
        UnixTime(ks["key_generation_unix_seconds"].as_u64().unwrap()).interval(),
        IntervalNumber(first)
    );
    let metadata = hex::decode(s(ks, "ble_metadata_hex")).unwrap();
    let sched = KeySchedule::new(&tek);
    let intervals = ks["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 144);
    let batch = sched.rpis(IntervalNumber(first), 144);
    for (i, iv) in intervals.iter().enumerate() {
        let enin = IntervalNumber(iv["en_interval_number"].as_u64().unwrap() as u32);
        assert_eq!(enin.0, first + i as u32);
        assert_eq!(
            hex::encode(&padded_data(enin)),
            s(iv, "padded_data_hex"),
            "interval {i}"
        );
        let rpi = sched.rpi(enin);
        assert_eq!(hex::encode(&rpi), s(iv, "rpi_hex"), "interval {i}");
        assert_eq!(batch[i], rpi, "batched derivation, interval {i}");
        let aem = sched.aem(&rpi, &metadata);
        assert_eq!(hex::encode(&aem), s(iv, "aem_hex"), "interval {i}");
        // CTR is its own inverse: decrypting the AEM gives back the metadata.
        let back = sched.aem(&rpi, &aem);
        assert_eq!(back, metadata);
        let m = Metadata::from_bytes(back.try_into().unwrap());
        assert_eq!((m.version, m.tx_power), (0x40, 8));
    }
}

#[test]
fn tekmac_vectors() {
    let v = load();
    let b64 = base64::engine::general_purpose::STANDARD;
    let vectors = v["tekmac_vectors"]["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 3);
    for t in vectors {
        let hmac_key = hex::decode(s(t, "hmac_key_hex")).unwrap();
        let keys: Vec<UploadKey> = t["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| UploadKey {
                key: TemporaryExposureKey::from_bytes(
                    b64.decode(s(k, "key")).unwrap().try_into().unwrap(),
                ),
                rolling_start: IntervalNumber(k["rollingStartNumber"].as_u64().unwrap() as u32),
                rolling_period: k["rollingPeriod"].as_u64().unwrap() as u8,
                transmission_risk: k["transmissionRisk"].as_u64().unwrap() as u8,
            })
            .collect();
        let with_risk = t["include_transmission_risk"].as_bool().unwrap();
        assert_eq!(
            tekmac::cleartext(&keys, with_risk),
            s(t, "cleartext"),
            "{}",
            s(t, "name")
        );
        let mac = tekmac::tekmac(&hmac_key, &keys, with_risk);
        assert_eq!(b64.encode(mac), s(t, "tekmac_base64"), "{}", s(t, "name"));
        assert!(tekmac::check(&hmac_key, &keys, &mac));
        let mut wrong = mac;
        wrong[0] ^= 1;
        assert!(!tekmac::check(&hmac_key, &keys, &wrong));
    }
}
