//! `spec/vectors/self_report.json`: the self-report token exchange (spec/self-report.md),
//! generated deterministically from a fixed seed by this file. The test
//!
//! 1. checks every vector: each names a `step` (`issue`: the server decodes a blinded element
//!    and evaluates it; `finalize`: the phone decodes an evaluation ‖ proof and finalizes with
//!    the context's pending state and public key; `redeem`: the server decodes input ‖ output
//!    and verifies it; `public-key`: the phone decodes the published key), its bytes (`hex`),
//!    and either `"ok"` with the decoded fields or the stable error code;
//! 2. regenerates the file and checks it is byte-identical.
//!
//! Regenerate after a deliberate change with
//! `EN_REGENERATE_VECTORS=1 cargo test -p en-protocol --test self_report_vectors`.

use std::path::PathBuf;

use en_protocol::hex;
use en_protocol::selfreport::phone::{self, Pending};
use en_protocol::selfreport::server::SelfReportKey;
use en_protocol::selfreport::{
    BlindedElement, Evaluation, SelfReportPublicKey, Token, TokenInput, ELEMENT_LEN, INPUT_LEN,
};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};

const SEED: u64 = 0x7365_6c66_7265_706f; // "selfrepo"

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/self_report.json")
}

fn split(b: &[u8], at: usize) -> (&[u8], &[u8]) {
    b.split_at(at.min(b.len()))
}

fn generate() -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let key = SelfReportKey::generate(&mut rng);
    let other = SelfReportKey::generate(&mut rng);
    let pk = key.public_key();
    let (pending, blinded) = phone::blind(&mut rng);
    let eval = key.evaluate(&mut rng, &blinded);
    let token = pending.finalize(&eval, &pk).unwrap();
    let eval_other = other.evaluate(&mut rng, &blinded);
    // Another evaluation's proof: canonical scalars that prove nothing about this element.
    let (p2, b2) = phone::blind(&mut rng);
    let _ = p2;
    let eval_unrelated = key.evaluate(&mut rng, &b2);
    let other_token = {
        let (p, b) = phone::blind(&mut rng);
        p.finalize(&other.evaluate(&mut rng, &b), &other.public_key())
            .unwrap()
    };
    fn h(b: impl AsRef<[u8]>) -> String {
        hex::encode(b.as_ref())
    }
    let fin = |e: &[u8], p: &[u8]| h([e, p].concat());
    let ev = eval.element_bytes();
    let pr = eval.proof_bytes();
    let mut flipped_output = token.output;
    flipped_output[0] ^= 1;
    let mut c_plus = pr;
    c_plus[0] ^= 1; // still canonical (low byte of c)
    let not_canonical = [0xffu8; 32];
    let ok = |name: &str, step: &str, bytes: String, decoded: Value| json!({"name": name, "step": step, "hex": bytes, "expect": "ok", "decoded": decoded});
    let bad = |name: &str, step: &str, bytes: String, error: &str| json!({"name": name, "step": step, "hex": bytes, "expect": {"error": error}});
    let vectors = vec![
        ok(
            "issue",
            "issue",
            h(blinded.to_bytes()),
            json!({"evaluated": h(ev)}),
        ),
        ok(
            "finalize",
            "finalize",
            fin(&ev, &pr),
            json!({"input": h(token.input.as_bytes()), "output": h(token.output)}),
        ),
        ok(
            "redeem",
            "redeem",
            h([&token.input.as_bytes()[..], &token.output].concat()),
            json!({}),
        ),
        ok("public-key", "public-key", h(pk.to_bytes()), json!({})),
        bad(
            "blinded-truncated",
            "issue",
            h(&blinded.to_bytes()[..31]),
            "wrong_length",
        ),
        bad(
            "blinded-too-long",
            "issue",
            h([&blinded.to_bytes()[..], &[0]].concat()),
            "wrong_length",
        ),
        bad(
            "blinded-not-canonical",
            "issue",
            h(not_canonical),
            "invalid_point",
        ),
        bad("blinded-identity", "issue", h([0u8; 32]), "invalid_point"),
        bad(
            "evaluated-bad-point",
            "finalize",
            fin(&not_canonical, &pr),
            "invalid_point",
        ),
        bad(
            "proof-truncated",
            "finalize",
            fin(&ev, &pr[..63]),
            "wrong_length",
        ),
        bad(
            "proof-not-canonical",
            "finalize",
            fin(&ev, &[0xff; 64]),
            "invalid_scalar",
        ),
        bad("proof-wrong", "finalize", fin(&ev, &c_plus), "bad_proof"),
        bad(
            "proof-of-another-evaluation",
            "finalize",
            fin(&ev, &eval_unrelated.proof_bytes()),
            "bad_proof",
        ),
        bad(
            "evaluated-with-wrong-key",
            "finalize",
            fin(&eval_other.element_bytes(), &eval_other.proof_bytes()),
            "bad_proof",
        ),
        bad(
            "evaluated-element-swapped",
            "finalize",
            fin(&eval_unrelated.element_bytes(), &pr),
            "bad_proof",
        ),
        bad(
            "redeem-truncated",
            "redeem",
            h([&token.input.as_bytes()[..], &token.output[..63]].concat()),
            "wrong_length",
        ),
        bad(
            "redeem-forged-output",
            "redeem",
            h([&token.input.as_bytes()[..], &flipped_output].concat()),
            "bad_token",
        ),
        bad(
            "redeem-token-of-another-key",
            "redeem",
            h([&other_token.input.as_bytes()[..], &other_token.output].concat()),
            "bad_token",
        ),
        bad(
            "public-key-not-canonical",
            "public-key",
            h(not_canonical),
            "invalid_point",
        ),
        bad(
            "public-key-identity",
            "public-key",
            h([0u8; 32]),
            "invalid_point",
        ),
        bad(
            "public-key-truncated",
            "public-key",
            h(&pk.to_bytes()[..16]),
            "wrong_length",
        ),
    ];
    json!({
        "format": "self-report",
        "description": "Self-report tokens: VOPRF (RFC 9497) ristretto255-SHA512, mode 0x01. finalize vectors use the context's pending state (input ‖ blind ‖ blinded element) and public key; a wrong-key vector is an evaluation under another key with its valid proof.",
        "generator": "protocol/tests/self_report_vectors.rs",
        "seed": SEED,
        "context": {
            "suite": "ristretto255-SHA512",
            "secret_key": h(&key.to_bytes()[..]),
            "public_key": h(pk.to_bytes()),
            "pending": h(pending.to_bytes()),
        },
        "vectors": vectors,
    })
}

/// What `step` makes of `bytes`: the decoded fields, or the error code.
fn check(ctx: &Value, step: &str, bytes: &[u8]) -> Result<Value, &'static str> {
    let hx = |k: &str| hex::decode(ctx[k].as_str().unwrap()).unwrap();
    let key = SelfReportKey::from_slice(&hx("secret_key")).unwrap();
    let pk = SelfReportPublicKey::from_slice(&hx("public_key")).unwrap();
    assert_eq!(
        key.public_key(),
        pk,
        "context: the public key is the secret key's"
    );
    let pending = Pending::from_slice(&hx("pending")).unwrap();
    match step {
        "issue" => {
            let b = BlindedElement::from_slice(bytes).map_err(|e| e.code())?;
            let e = key.evaluate(&mut ChaCha20Rng::seed_from_u64(1), &b);
            // The proof is randomized; whatever the randomness, it verifies for the pending
            // state that made this blinded element, and gives the vector's token.
            let t = pending.finalize(&e, &pk).map_err(|e| e.code())?;
            key.verify(&t).map_err(|e| e.code())?;
            Ok(json!({"evaluated": hex::encode(&e.element_bytes())}))
        }
        "finalize" => {
            let (e, p) = split(bytes, ELEMENT_LEN);
            let ev = Evaluation::from_slices(e, p).map_err(|e| e.code())?;
            let t = pending.finalize(&ev, &pk).map_err(|e| e.code())?;
            key.verify(&t).map_err(|e| e.code())?;
            Ok(json!({"input": hex::encode(t.input.as_bytes()), "output": hex::encode(&t.output)}))
        }
        "redeem" => {
            let (i, o) = split(bytes, INPUT_LEN);
            let t = Token::from_slices(i, o).map_err(|e| e.code())?;
            key.verify(&t).map_err(|e| e.code())?;
            Ok(json!({}))
        }
        "public-key" => {
            let k = SelfReportPublicKey::from_slice(bytes).map_err(|e| e.code())?;
            assert_eq!(k.to_bytes()[..], bytes[..], "canonical re-encoding");
            Ok(json!({}))
        }
        other => panic!("unknown step {other}"),
    }
}

#[test]
fn the_vector_file_is_current() {
    let want = serde_json::to_string_pretty(&generate()).unwrap() + "\n";
    if std::env::var_os("EN_REGENERATE_VECTORS").is_some() {
        std::fs::write(path(), &want).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(path()).unwrap(),
        want,
        "self_report.json differs from the generator"
    );
}

#[test]
fn every_vector_behaves_as_stated() {
    let f: Value = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    assert_eq!(f["format"], "self-report");
    let (mut ok, mut bad) = (0, 0);
    for v in f["vectors"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let bytes = hex::decode(v["hex"].as_str().unwrap()).unwrap();
        let got = check(&f["context"], v["step"].as_str().unwrap(), &bytes);
        if v["expect"] == "ok" {
            assert_eq!(
                got.unwrap_or_else(|e| panic!("{name}: {e}")),
                v["decoded"],
                "{name}"
            );
            ok += 1;
        } else {
            assert_eq!(got.err(), v["expect"]["error"].as_str(), "{name}");
            bad += 1;
        }
    }
    assert!(
        ok >= 4 && bad >= 15,
        "{ok} positive, {bad} negative vectors"
    );
}

#[test]
fn a_pending_state_round_trips_and_secrets_are_redacted() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let key = SelfReportKey::generate(&mut rng);
    let (p, b) = phone::blind(&mut rng);
    let again = Pending::from_slice(&p.to_bytes()).unwrap();
    let e = key.evaluate(&mut rng, &b);
    let t = again.finalize(&e, &key.public_key()).unwrap();
    assert_eq!(t, p.finalize(&e, &key.public_key()).unwrap());
    assert_eq!(
        SelfReportKey::from_slice(&key.to_bytes()[..])
            .unwrap()
            .public_key(),
        key.public_key()
    );
    let secret = hex::encode(&key.to_bytes()[..]);
    for s in [
        format!("{key:?}"),
        format!("{p:?}"),
        format!("{t:?}"),
        format!("{:?}", t.input),
    ] {
        assert!(
            !s.contains(&secret) && !s.contains(&hex::encode(&t.output)),
            "{s}"
        );
        assert!(!s.contains(&hex::encode(t.input.as_bytes())), "{s}");
    }
    // Two tokens of the same input under the same key are equal: redemption is by input.
    let (p2, b2) = phone::blind_input(
        TokenInput::from_slice(t.input.as_bytes()).unwrap(),
        &mut rng,
    );
    assert_ne!(b2, b, "a fresh blind gives a different blinded element");
    assert_eq!(
        p2.finalize(&key.evaluate(&mut rng, &b2), &key.public_key())
            .unwrap(),
        t
    );
}
