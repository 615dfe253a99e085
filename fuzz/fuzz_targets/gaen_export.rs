#![no_main]
//! GAEN export: decode never panics; protobuf is not canonical, so the property is
//! decode(encode(decode(x))) == decode(x); conversion to diagnosis keys and signature
//! verification never panic. The input is split: export.bin, then export.sig after a 0xff 0xfe marker.
use en_protocol::gaen::{decode_signatures, verify_export, Export};
use libfuzzer_sys::fuzz_target;

const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEml59itec9qzwVojreLXdPNRsUWzf\nYHc1cKvIIi6/H56AJS/kZEYQnfDpxrgyGhdAm+pNN2GAJ3XdnQZ1Sk4amg==\n-----END PUBLIC KEY-----\n";

fuzz_target!(|data: &[u8]| {
    let (bin, sig) = match data.windows(2).position(|w| w == [0xff, 0xfe]) {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    if let Ok(e) = Export::decode(bin) {
        let again = Export::decode(&e.encode()).expect("our encoding must decode");
        assert_eq!(again, e);
        let (keys, skipped) = e.diagnosis_keys();
        assert_eq!(keys.len() + skipped, e.keys.len());
    }
    let _ = decode_signatures(sig);
    let _ = verify_export(bin, sig, PEM);
});
