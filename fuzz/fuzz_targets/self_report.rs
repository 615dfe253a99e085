#![no_main]
//! Self-report token decoders (spec/self-report.md): every decoder never panics, accepted
//! encodings re-encode canonically, and finalizing or verifying whatever decodes never panics
//! (an evaluation the server did not make for this pending state never yields a token).
use en_protocol::selfreport::phone::Pending;
use en_protocol::selfreport::server::SelfReportKey;
use en_protocol::selfreport::{BlindedElement, Evaluation, SelfReportPublicKey, Token};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SelfReportKey::from_slice(&[7; 32]).unwrap();
    let (a, b) = data.split_at(data.len().min(32));
    if let Ok(e) = BlindedElement::from_slice(data) {
        assert_eq!(
            e.to_bytes()[..],
            data[..],
            "non-canonical blinded element accepted"
        );
    }
    if let Ok(k) = SelfReportPublicKey::from_slice(data) {
        assert_eq!(
            k.to_bytes()[..],
            data[..],
            "non-canonical public key accepted"
        );
    }
    if let Ok(ev) = Evaluation::from_slices(a, b) {
        assert_eq!([&ev.element_bytes()[..], &ev.proof_bytes()].concat(), data);
        let state = [[1u8; 32], [2; 32], key.public_key().to_bytes()].concat();
        let pending = Pending::from_slice(&state).unwrap();
        assert!(
            pending.finalize(&ev, &key.public_key()).is_err(),
            "an unproven evaluation was accepted"
        );
    }
    if let Ok(t) = Token::from_slices(a, b) {
        let _ = key.verify(&t);
    }
    let _ = Pending::from_slice(data);
});
