//! The spec owns the venue vectors: `spec/vectors/venue/*.json` are generated
//! deterministically from a fixed seed by this file, and this test
//!
//! 1. loads every file in `spec/vectors/venue/` and checks every vector: positive vectors
//!    decode, verify, match every field in `decoded` and re-encode to the same bytes;
//!    negative vectors fail with exactly the stated error code;
//! 2. regenerates the vectors and checks the files are byte-identical.
//!
//! The venue files live in their own directory so that `spec_vectors.rs`, which expects one
//! file per key-exposure format in `spec/vectors/`, is unaffected.
//!
//! A small independent implementation of the spec's derivations and of IBE encryption
//! (module `spec` below, written from spec/venue.md rather than from the library) checks
//! the library's identities and tags and makes the two crafted ciphertexts no honest
//! encoder produces (a broken re-encryption check; a visit outside its hour).
//!
//! Regenerate after a deliberate format change with
//! `EN_REGENERATE_VECTORS=1 cargo test -p en-protocol --test venue_vectors`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ed25519_dalek::Signer;
use en_protocol::hex;
use en_protocol::keys::{PublicKey, SigningKey};
use en_protocol::time::UnixTime;
use en_protocol::venue::visit::VisitTracker;
use en_protocol::venue::{
    self, context, fake_trace, try_match, CheckInRecord, CheckInStore, EntryPayload, Hour,
    Notification, SealingSecretKey, SignedTraceBatch, SignedTraceReport, TraceBatch, TraceEntry,
    TraceReport, TraceRequest, TracingSecret,
};
use en_protocol::verify::{AuthorityInfo, ExportKeys};
use en_protocol::wire::batch::{BatchHeader, GENESIS_HASH};
use en_protocol::wire::index::{Index, IndexEntry, SignedIndex, TRACE_INDEX};
use en_protocol::wire::{AuthorityId, Region};
use en_protocol::Error;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};

const SEED: u64 = 0x7665_6e75_6576_6563; // "venuevec"
/// 2026-01-01 00:00 UTC: the day of the visits.
const DAY: u64 = 1_767_225_600;
/// The morning after: when traces are opened and checked.
const NOW: u64 = DAY + 86_400 + 3600;
const HOST: &str = "venue.example";
const MESSAGE: &str = "Bạn đã đến nơi có ca bệnh. Hãy theo dõi sức khỏe và gọi 1900 9095.";

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/venue")
}

fn at(hour: u64, minute: u64) -> UnixTime {
    UnixTime(DAY + hour * 3600 + minute * 60)
}
fn hour(h: u64) -> Hour {
    Hour::containing(at(h, 0))
}

/// The spec, re-implemented from spec/venue.md §3–§4 (not from the library).
mod spec {
    use blstrs::{Compress, G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
    use group::{Curve, Group};
    use sha2::{Digest, Sha256};

    pub fn sha(label: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(label.as_bytes());
        h.update([0]);
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    /// (noncePreId, nonceTimeKey, notificationKey).
    pub fn nonces(payload: &[u8]) -> [[u8; 32]; 3] {
        let mut okm = [0u8; 96];
        hkdf::Hkdf::<Sha256>::new(Some(b""), payload)
            .expand(b"en/v1/venue/nonces", &mut okm)
            .unwrap();
        [0, 1, 2].map(|i| okm[32 * i..32 * i + 32].try_into().unwrap())
    }

    pub fn identity(payload: &[u8], hour: u32) -> [u8; 32] {
        let [npre, ntime, _] = nonces(payload);
        let pre_id = sha("en/v1/venue/pre-id", &[payload, &npre]);
        let start = (u64::from(hour) * 3600).to_be_bytes();
        let l = 3600u32.to_be_bytes();
        let time_key = sha("en/v1/venue/time-key", &[&l, &start, &ntime]);
        sha("en/v1/venue/id", &[&pre_id, &l, &start, &time_key])
    }

    pub fn tag(payload: &[u8], day: u32) -> u8 {
        sha("en/v1/venue/tag", &[payload, &day.to_be_bytes()])[0] >> 4
    }

    /// RFC 9380 §5.3.1 with SHA-256, for `len` ≤ 64.
    fn expand(msg: &[u8], dst: &[u8], len: usize) -> Vec<u8> {
        let dst_prime = [dst, &[dst.len() as u8]].concat();
        let b0: [u8; 32] = Sha256::new()
            .chain_update([0u8; 64])
            .chain_update(msg)
            .chain_update((len as u16).to_be_bytes())
            .chain_update([0])
            .chain_update(&dst_prime)
            .finalize()
            .into();
        let b1: [u8; 32] = Sha256::new()
            .chain_update(b0)
            .chain_update([1])
            .chain_update(&dst_prime)
            .finalize()
            .into();
        let x: Vec<u8> = b0.iter().zip(b1).map(|(a, b)| a ^ b).collect();
        let b2: [u8; 32] = Sha256::new()
            .chain_update(x)
            .chain_update([2])
            .chain_update(&dst_prime)
            .finalize()
            .into();
        [b1, b2].concat()[..len].to_vec()
    }

    /// H3(x, id, m) = OS2IP(expand_message_xmd(x ‖ id ‖ m, DST, 48)) mod r, byte by byte.
    pub fn h3(x: &[u8; 32], id: &[u8; 32], m: &[u8]) -> Scalar {
        let u = expand(
            &[x.as_slice(), id, m].concat(),
            b"EN-V1-VENUE-H3_BLS12381FR_XMD:SHA-256",
            48,
        );
        u.iter().fold(Scalar::from(0u64), |acc, b| {
            acc * Scalar::from(256u64) + Scalar::from(u64::from(*b))
        })
    }

    pub fn h1(id: &[u8; 32]) -> G1Affine {
        G1Projective::hash_to_curve(id, b"EN-V1-VENUE-H1_BLS12381G1_XMD:SHA-256_SSWU_RO_", &[])
            .to_affine()
    }

    /// IBE encryption with the given `x`; `skew` is added to r for `c1` and the pad only, so
    /// `skew = 1` gives a ciphertext that decrypts but fails the re-encryption check.
    pub fn encrypt(mpk: &G2Affine, id: &[u8; 32], m: &[u8; 48], x: [u8; 32], skew: u64) -> Vec<u8> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let r = h3(&x, id, m) + Scalar::from(skew);
        let c1 = (G2Projective::generator() * r).to_affine();
        let gt = blstrs::pairing(&(G1Projective::from(h1(id)) * r).to_affine(), mpk);
        assert!(!bool::from(gt.is_identity()));
        let mut buf = Vec::new();
        gt.write_compressed(&mut buf).unwrap();
        let pad = sha("en/v1/venue/ht", &[&buf]);
        let c2: Vec<u8> = x.iter().zip(pad).map(|(a, b)| a ^ b).collect();
        let k = sha("en/v1/venue/h4", &[&x]);
        let c3 = aes_gcm::Aes256Gcm::new_from_slice(&k)
            .unwrap()
            .encrypt(&[0u8; 12].into(), Payload { msg: m, aad: id })
            .unwrap();
        [c1.to_compressed().as_slice(), &c2, &c3].concat()
    }
}

/// Point encodings no honest encoder writes: on the curve but outside the subgroup, off the
/// curve, x ≥ p, the identity.
mod bad_points {
    use blstrs::{G1Affine, G2Affine};

    fn small_x<const N: usize>(
        on_curve: bool,
        decodes: impl Fn(&[u8; N]) -> Option<bool>,
    ) -> [u8; N] {
        (0u8..=255)
            .find_map(|x| {
                let mut b = [0u8; N];
                b[0] = 0x80;
                b[N - 1] = x;
                match decodes(&b) {
                    Some(torsion_free) if on_curve && !torsion_free => Some(b),
                    None if !on_curve => Some(b),
                    _ => None,
                }
            })
            .expect("a small x")
    }
    pub fn g1_not_in_subgroup() -> [u8; 48] {
        small_x(true, |b| {
            Option::<G1Affine>::from(G1Affine::from_compressed_unchecked(b))
                .map(|p| bool::from(p.is_torsion_free()))
        })
    }
    pub fn g1_not_on_curve() -> [u8; 48] {
        small_x(false, |b| {
            Option::<G1Affine>::from(G1Affine::from_compressed_unchecked(b))
                .map(|p| bool::from(p.is_torsion_free()))
        })
    }
    pub fn g2_not_in_subgroup() -> [u8; 96] {
        small_x(true, |b| {
            Option::<G2Affine>::from(G2Affine::from_compressed_unchecked(b))
                .map(|p| bool::from(p.is_torsion_free()))
        })
    }
    pub fn identity<const N: usize>() -> [u8; N] {
        let mut b = [0u8; N];
        b[0] = 0xc0;
        b
    }
    /// x = p (the field modulus), with the compression flag.
    pub fn g1_x_is_p() -> [u8; 48] {
        let mut b = en_protocol::hex::decode_array::<48>(
            "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab",
        )
        .unwrap();
        b[0] |= 0x80;
        b
    }
}

struct World {
    rng: ChaCha20Rng,
    authority: SigningKey,
    other_key: SigningKey,
    export: SigningKey,
    sealing: SealingSecretKey,
    other_sealing: SealingSecretKey,
}

impl World {
    fn new() -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(SEED);
        World {
            authority: SigningKey::generate(&mut rng),
            other_key: SigningKey::generate(&mut rng),
            export: SigningKey::generate(&mut rng),
            sealing: SealingSecretKey::generate(&mut rng),
            other_sealing: SealingSecretKey::generate(&mut rng),
            rng,
        }
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.rng.fill_bytes(&mut b);
        b
    }
    fn context(&self) -> Value {
        json!({
            "now": NOW,
            "host": HOST,
            "authority_id": "moh.vn",
            "authority_region": "VN",
            "authority_public_key": self.authority.public_key().to_hex(),
            "export_public_key": self.export.public_key().to_hex(),
            "sealing_secret_key": hex::encode(self.sealing.to_bytes().as_ref()),
            "sealing_public_key": hex::encode(&self.sealing.public_key().to_bytes()),
            "derivation_hour": hour(10).0,
            "derivation_day": hour(10).day(),
        })
    }
    fn report(&mut self, checked: &venue::CheckedTrace) -> TraceReport {
        let nonce = self.bytes();
        TraceReport::new(
            checked,
            MESSAGE,
            AuthorityId::new("moh.vn").unwrap(),
            Region::new("VN").unwrap(),
            UnixTime(NOW - 60),
            nonce,
            &mut self.rng,
        )
        .unwrap()
    }
}

/// Re-signs a (possibly patched) signed message under `ctx`, so that a vector fails only for
/// the reason it is meant to.
fn resign(bytes: &[u8], ctx: &[u8], key: &SigningKey) -> Vec<u8> {
    let sk = ed25519_dalek::SigningKey::from_bytes(&key.to_seed());
    let body = &bytes[..bytes.len() - 64];
    let m = [ctx, &[0], body].concat();
    [body, &sk.sign(&m).to_bytes()].concat()
}

fn ok(name: &str, description: &str, bytes: &[u8], decoded: Value) -> Value {
    json!({"name": name, "description": description, "hex": hex::encode(bytes), "expect": "ok", "decoded": decoded})
}
fn err(name: &str, description: &str, bytes: &[u8], code: &str) -> Value {
    json!({"name": name, "description": description, "hex": hex::encode(bytes), "expect": {"error": code}})
}
fn patched(valid: &[u8], at: usize, with: &[u8]) -> Vec<u8> {
    let mut b = valid.to_vec();
    b[at..at + with.len()].copy_from_slice(with);
    b
}

/// The negatives every format shares: truncation, trailing data, version, magic, and for
/// signed formats a forged signature and another format's signature context.
fn common_negatives(valid: &[u8], signed: Option<(&[u8], &[u8], &SigningKey)>) -> Vec<Value> {
    let fix = |b: Vec<u8>| match signed {
        Some((ctx, _, key)) => resign(&b, ctx, key),
        None => b,
    };
    let mut v = vec![
        err(
            "truncated",
            "the last byte is missing",
            &valid[..valid.len() - 1],
            "truncated",
        ),
        err("empty", "no bytes at all", &[], "truncated"),
        err(
            "trailing-byte",
            "one extra byte after the message",
            &[valid, &[0]].concat(),
            "trailing_bytes",
        ),
        err(
            "wrong-version",
            "version byte 2 (validly signed if signed)",
            &fix(patched(valid, 4, &[2])),
            "unsupported_version",
        ),
        err(
            "wrong-magic",
            "first magic byte changed (validly signed if signed)",
            &fix(patched(valid, 0, &[valid[0] ^ 0x20])),
            "bad_magic",
        ),
    ];
    if let Some((_, other_ctx, key)) = signed {
        let mut s = valid.to_vec();
        let n = s.len();
        s[n - 1] ^= 1;
        v.push(err(
            "bad-signature",
            "forged: one bit of the signature flipped",
            &s,
            "bad_signature",
        ));
        v.push(err(
            "wrong-context",
            &format!(
                "validly signed by the right key, but under the context {}",
                String::from_utf8_lossy(other_ctx)
            ),
            &resign(valid, other_ctx, key),
            "bad_signature",
        ));
    }
    v
}

fn describe_entry_payload(p: &EntryPayload) -> Value {
    let (h, d) = (hour(10), hour(10).day());
    let bytes = p.encode();
    let id = p.identity(h);
    assert_eq!(
        id,
        spec::identity(bytes, h.0),
        "library and spec disagree on the identity"
    );
    assert_eq!(
        p.tag(d),
        spec::tag(bytes, d),
        "library and spec disagree on the tag"
    );
    json!({"description": p.description(), "address": p.address(),
           "master_public_key": hex::encode(&p.master_public_key()), "seed": hex::encode(p.seed()),
           "url": p.to_url(HOST).unwrap(), "identity_at_derivation_hour": hex::encode(&id),
           "tag_on_derivation_day": p.tag(d), "notification_key": hex::encode(&spec::nonces(bytes)[2])})
}
fn describe_record(r: &CheckInRecord) -> Value {
    json!({"hour": r.hour().0, "tag": r.tag(), "ciphertext": hex::encode(r.ciphertext())})
}
fn describe_entry(e: &TraceEntry) -> Value {
    json!({"hour": e.hour().0, "identity": hex::encode(e.id()), "key": hex::encode(e.key_bytes()),
           "tag": e.tag(), "message": hex::encode(e.message())})
}
fn describe_header(h: &BatchHeader) -> Value {
    json!({"region": h.region.as_str(), "sequence": h.sequence, "window_start": h.window_start.0,
           "window_end": h.window_end.0, "prev_hash": hex::encode(&h.prev_hash), "key_id": h.key_id.to_string(),
           "entry_count": h.key_count, "hash": hex::encode(&h.hash), "size": h.size})
}
fn describe_index(i: &Index) -> Value {
    json!({"region": i.region.as_str(), "generated_at": i.generated_at.0,
           "entries": i.entries.iter().map(|e| json!({"sequence": e.sequence, "window_start": e.window_start.0,
               "window_end": e.window_end.0, "hash": hex::encode(&e.hash), "size": e.size})).collect::<Vec<_>>()})
}
fn describe_notification(n: &Notification) -> Value {
    json!({"hour": n.hour.0, "arrival": n.arrival.0, "departure": n.departure.0,
           "overlap_seconds": n.overlap_seconds, "message": n.message})
}

fn file(format: &str, description: &str, w: &World, vectors: Vec<Value>) -> Value {
    json!({"format": format, "description": description, "generator": "protocol/tests/venue_vectors.rs",
           "seed": format!("{SEED:#x}"), "context": w.context(), "vectors": vectors})
}

/// Entry payload bytes from raw fields (to write what the encoder refuses to).
fn raw_payload(desc: &[u8], addr: &[u8], mpk: &[u8], seed: &[u8; 32]) -> Vec<u8> {
    [
        b"ENVQ\x01".as_slice(),
        &[desc.len() as u8],
        desc,
        &[addr.len() as u8],
        addr,
        mpk,
        seed,
    ]
    .concat()
}

fn generate() -> BTreeMap<&'static str, Value> {
    let mut w = World::new();
    let mut files = BTreeMap::new();
    let ha = w.sealing.public_key();
    let (v, v_secret) = venue::setup(&mut w.rng, "Café Lâm", "60 Nguyễn Du, Hà Nội", &ha).unwrap();
    let (u, u_secret) = venue::setup(&mut w.rng, "Phở 24", "", &ha).unwrap();
    let (_, x_secret) =
        venue::setup(&mut w.rng, "Elsewhere", "", &w.other_sealing.public_key()).unwrap();

    // Entry payload and URL.
    let pb = v.encode().to_vec();
    let mpk_at = 5 + 1 + v.description().len() + 1 + v.address().len();
    let mut vs = vec![
        ok(
            "valid",
            "a café with an address",
            &pb,
            describe_entry_payload(&v),
        ),
        ok(
            "valid-no-address",
            "an empty address is allowed",
            u.encode(),
            describe_entry_payload(&u),
        ),
    ];
    let url = v.to_url(HOST).unwrap();
    vs.push(
        json!({"name": "url-valid", "description": "the URL form of `valid`", "url": url,
                   "expect": "ok", "decoded": describe_entry_payload(&v)}),
    );
    // The payload's length is not a multiple of 3, so the last base64 character has unused
    // low bits (its index is a multiple of 4): index + 1 sets one of them.
    assert_ne!(pb.len() % 3, 0);
    let mut trailing_bits = url.clone();
    let last = trailing_bits.pop().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    trailing_bits.push(alphabet.as_bytes()[alphabet.find(last).unwrap() + 1] as char);
    for (name, what, u) in [
        (
            "url-other-host",
            "the same payload under another host",
            url.replacen(HOST, "evil.example", 1),
        ),
        (
            "url-http",
            "http instead of https",
            url.replacen("https://", "http://", 1),
        ),
        (
            "url-padded",
            "base64 padding is not allowed",
            format!("{url}=="),
        ),
        (
            "url-trailing-bits",
            "non-zero unused bits in the last base64 character",
            trailing_bits,
        ),
        (
            "url-query",
            "a query instead of the fragment",
            url.replacen("/v#", "/v?", 1),
        ),
    ] {
        vs.push(json!({"name": name, "description": what, "url": u, "expect": {"error": "bad_encoding"}}));
    }
    vs.extend(common_negatives(&pb, None));
    let (mpk, seed) = (v.master_public_key(), *v.seed());
    for (name, what, bytes, code) in [
        (
            "description-empty",
            "a zero-length description",
            raw_payload(b"", b"", &mpk, &seed),
            "out_of_range",
        ),
        (
            "description-101",
            "a 101-byte description",
            raw_payload(&[b'a'; 101], b"", &mpk, &seed),
            "out_of_range",
        ),
        (
            "description-control",
            "a newline in the description",
            raw_payload(b"a\nb", b"", &mpk, &seed),
            "out_of_range",
        ),
        (
            "description-not-utf8",
            "the byte 0xff is not UTF-8",
            raw_payload(&[0xff], b"", &mpk, &seed),
            "out_of_range",
        ),
        (
            "address-101",
            "a 101-byte address",
            raw_payload(b"a", &[b'b'; 101], &mpk, &seed),
            "out_of_range",
        ),
        (
            "mpk-identity",
            "the master public key is the identity",
            patched(&pb, mpk_at, &bad_points::identity::<96>()),
            "identity_point",
        ),
        (
            "mpk-not-in-subgroup",
            "the master public key is on the curve but outside G2",
            patched(&pb, mpk_at, &bad_points::g2_not_in_subgroup()),
            "invalid_point",
        ),
        (
            "mpk-uncompressed-flag",
            "the compression flag of the master public key is clear",
            patched(&pb, mpk_at, &[pb[mpk_at] & 0x7f]),
            "invalid_point",
        ),
    ] {
        vs.push(err(name, what, &bytes, code));
    }
    files.insert(
        "venue_entry.json",
        file(
            "venue-entry",
            "Entry QR payloads (ENVQ) and their URL form https://<host>/v#<base64url>.",
            &w,
            vs,
        ),
    );

    // Tracing secret.
    let tb = v_secret.encode().to_vec();
    let share_at = 5 + pb.len();
    let r_bytes =
        hex::decode("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001").unwrap();
    let mut vs = vec![ok(
        "valid",
        "the owner's secret for `valid` of venue_entry.json",
        &tb,
        describe_secret(&tb, &v_secret),
    )];
    vs.extend(common_negatives(&tb, None));
    vs.push(err(
        "owner-share-zero",
        "the owner share is 0",
        &patched(&tb, share_at, &[0; 32]),
        "out_of_range",
    ));
    vs.push(err(
        "owner-share-r",
        "the owner share equals the group order r",
        &patched(&tb, share_at, &r_bytes),
        "out_of_range",
    ));
    vs.push(err(
        "payload-mpk-identity",
        "the embedded payload's master public key is the identity",
        &patched(&tb, 5 + mpk_at, &bad_points::identity::<96>()),
        "identity_point",
    ));
    files.insert(
        "venue_tracing_secret.json",
        file("venue-tracing-secret", "The venue owner's tracing secret (ENVO): payload, owner share, sealed authority share.", &w, vs),
    );

    // Check-in store.
    let mut store = CheckInStore::new();
    store
        .insert_visit(&v, at(9, 40), at(10, 20), &mut w.rng)
        .unwrap();
    store
        .insert_visit(&u, at(13, 0), at(13, 30), &mut w.rng)
        .unwrap();
    let sb = store.encode();
    let rec = |i: usize| 9 + i * 197;
    let mut vs = vec![
        ok(
            "valid",
            "three records: Café Lâm 09:40-10:20 (hours 09 and 10), Phở 24 13:00-13:30",
            &sb,
            describe_store(&store),
        ),
        ok(
            "valid-empty",
            "no records",
            &CheckInStore::new().encode(),
            json!({"records": []}),
        ),
    ];
    vs.extend(common_negatives(&sb, None));
    let mut swapped = sb.clone();
    swapped[rec(0)..rec(1)].copy_from_slice(&sb[rec(1)..rec(2)]);
    swapped[rec(1)..rec(2)].copy_from_slice(&sb[rec(0)..rec(1)]);
    vs.push(err(
        "unsorted",
        "the first two records swapped",
        &swapped,
        "non_canonical",
    ));
    let dup = [
        &patched(&sb, 5, &4u32.to_be_bytes())[..],
        &sb[rec(2)..rec(3)],
    ]
    .concat();
    vs.push(err(
        "duplicate",
        "the last record twice",
        &dup,
        "non_canonical",
    ));
    vs.push(err(
        "tag-16",
        "a 5-bit tag",
        &patched(&sb, rec(0) + 4, &[16]),
        "out_of_range",
    ));
    vs.push(err(
        "c1-identity",
        "a ciphertext whose c1 is the identity",
        &patched(&sb, rec(0) + 5, &bad_points::identity::<96>()),
        "identity_point",
    ));
    vs.push(err(
        "c1-not-in-subgroup",
        "a ciphertext whose c1 is outside G2",
        &patched(&sb, rec(0) + 5, &bad_points::g2_not_in_subgroup()),
        "invalid_point",
    ));
    vs.push(err(
        "count-too-high",
        "the count says 4, 3 records follow",
        &patched(&sb, 5, &4u32.to_be_bytes()),
        "truncated",
    ));
    vs.push(err(
        "too-many",
        "count 65,537: rejected before allocating",
        &patched(&sb, 5, &65_537u32.to_be_bytes()),
        "too_many",
    ));
    files.insert(
        "venue_checkins.json",
        file(
            "venue-checkin-store",
            "The phone's check-in store (ENVS): hour label, 4-bit tag, IBE ciphertext per record.",
            &w,
            vs,
        ),
    );

    // Visit state.
    let mut tracker = VisitTracker::new();
    let none = tracker.encode();
    tracker
        .handle_scan(v.clone(), at(9, 40), 7200, &mut w.rng)
        .unwrap();
    let open = tracker.encode();
    let times_at = 6 + pb.len();
    let mut vs = vec![
        ok("valid-none", "no open visit", &none, json!({"visit": null})),
        ok(
            "valid-open",
            "checked in at Café Lâm at 09:40, automatic check-out after 2 hours",
            &open,
            json!({"visit": {"payload": hex::encode(&pb), "arrival": at(9, 40).0, "checkout_at": at(11, 40).0}}),
        ),
    ];
    vs.extend(common_negatives(&open, None));
    vs.push(err(
        "flag-2",
        "visit flag 2",
        &patched(&none, 5, &[2]),
        "out_of_range",
    ));
    vs.push(err(
        "checkout-at-arrival",
        "check-out time equal to the arrival",
        &patched(&open, times_at + 8, &at(9, 40).0.to_be_bytes()),
        "out_of_range",
    ));
    vs.push(err(
        "longer-than-a-day",
        "check-out 24 h + 1 s after arrival",
        &patched(&open, times_at + 8, &at(9, 40).plus(86_401).0.to_be_bytes()),
        "out_of_range",
    ));
    vs.push(err(
        "none-then-data",
        "no visit, but bytes follow the flag",
        &[&none[..], &[0]].concat(),
        "trailing_bytes",
    ));
    files.insert(
        "venue_visit.json",
        file(
            "venue-visit-state",
            "The phone's open visit (ENVV), persisted between check-in and check-out.",
            &w,
            vs,
        ),
    );

    // Trace request (checked by the authority with `sealing_secret_key` at `now`).
    let hours = [hour(9), hour(10)];
    let req = v_secret.trace_request(&hours).unwrap().encode();
    let keys_at = req.len() - 2 * 52;
    let sealed_at = 5 + pb.len();
    let checked = TraceRequest::decode(&req)
        .unwrap()
        .open(&w.sealing, UnixTime(NOW))
        .unwrap();
    let mut vs = vec![ok(
        "valid",
        "Café Lâm, hours 09:00 and 10:00; `decoded` shows what the authority computes",
        &req,
        describe_checked(&checked),
    )];
    vs.extend(common_negatives(&req, None));
    let mut swapped_hours = req.clone();
    swapped_hours[keys_at..keys_at + 52].copy_from_slice(&req[keys_at + 52..]);
    swapped_hours[keys_at + 52..].copy_from_slice(&req[keys_at..keys_at + 52]);
    vs.push(err(
        "hours-unsorted",
        "the two (hour, key) pairs swapped",
        &swapped_hours,
        "non_canonical",
    ));
    let mut swapped_keys = req.clone();
    swapped_keys[keys_at + 4..keys_at + 52].copy_from_slice(&req[keys_at + 56..]);
    swapped_keys[keys_at + 56..].copy_from_slice(&req[keys_at + 4..keys_at + 52]);
    vs.push(err(
        "partial-key-other-hour",
        "trace for another hour: each hour carries the other hour's partial key",
        &swapped_keys,
        "venue_key_mismatch",
    ));
    let u_req = u_secret.trace_request(&hours).unwrap().encode();
    vs.push(err(
        "partial-key-other-venue",
        "trace for another venue: Phở 24's owner's partial keys under Café Lâm's payload",
        &patched(&req, keys_at, &u_req[u_req.len() - 104..]),
        "venue_key_mismatch",
    ));
    let u_sealed = &u_req[5 + u.encode().len()..5 + u.encode().len() + 88];
    vs.push(err(
        "sealed-share-other-venue",
        "Phở 24's sealed share (same authority) with Café Lâm's payload",
        &patched(&req, sealed_at, u_sealed),
        "sealed_share_invalid",
    ));
    vs.push(err(
        "sealed-share-other-authority",
        "a venue whose share is sealed to another authority's key",
        &x_secret.trace_request(&hours).unwrap().encode(),
        "sealed_share_invalid",
    ));
    vs.push(err(
        "partial-key-identity",
        "a partial key is the identity",
        &patched(&req, keys_at + 4, &bad_points::identity::<48>()),
        "identity_point",
    ));
    vs.push(err(
        "partial-key-not-in-subgroup",
        "a partial key is on the curve but outside G1",
        &patched(&req, keys_at + 4, &bad_points::g1_not_in_subgroup()),
        "invalid_point",
    ));
    vs.push(err(
        "partial-key-not-on-curve",
        "a partial key's x has no point on the curve",
        &patched(&req, keys_at + 4, &bad_points::g1_not_on_curve()),
        "invalid_point",
    ));
    vs.push(err(
        "hour-count-zero",
        "no hours",
        &[&req[..keys_at - 2], &[0, 0]].concat(),
        "out_of_range",
    ));
    let future = v_secret
        .trace_request(&[
            Hour::containing(UnixTime(NOW)),
            Hour(Hour::containing(UnixTime(NOW)).0 + 1),
        ])
        .unwrap()
        .encode();
    vs.push(err(
        "hour-in-future",
        "an hour after `now`",
        &future,
        "trace_hour_out_of_range",
    ));
    let old = v_secret
        .trace_request(&[Hour(Hour::containing(UnixTime(NOW)).0 - 14 * 24 - 1)])
        .unwrap()
        .encode();
    vs.push(err(
        "hour-too-old",
        "an hour more than 14 days before `now`",
        &old,
        "trace_hour_out_of_range",
    ));
    files.insert(
        "venue_trace_request.json",
        file("venue-trace-request", "Trace requests (ENVR) from the venue owner, opened by the authority holding `sealing_secret_key` at `now`.", &w, vs),
    );

    // Trace report.
    let report = w.report(&checked);
    let rb = report.sign(&w.authority).unwrap();
    let entries_at = rb.len() - 64 - 2 * 369;
    let signed = Some((context::VENUE_TRACE, context::TRACE_BATCH, &w.authority));
    let fix = |b: Vec<u8>| resign(&b, context::VENUE_TRACE, &w.authority);
    let mut vs = vec![ok(
        "valid",
        "Café Lâm, 09:00 and 10:00, signed by moh.vn",
        &rb,
        describe_report(&report),
    )];
    vs.extend(common_negatives(&rb, signed));
    vs.push(err(
        "wrong-key",
        "claims moh.vn but is signed by another key",
        &report.sign(&w.other_key).unwrap(),
        "bad_signature",
    ));
    let mut unknown = report.clone();
    unknown.authority = AuthorityId::new("nobody").unwrap();
    vs.push(err(
        "unknown-authority",
        "an authority the registry does not know",
        &unknown.sign(&w.authority).unwrap(),
        "unknown_authority",
    ));
    let mut region = report.clone();
    region.region = Region::new("TH").unwrap();
    vs.push(err(
        "wrong-region",
        "moh.vn may only trace in VN",
        &region.sign(&w.authority).unwrap(),
        "wrong_region",
    ));
    let e0 = entries_at;
    let mut unsorted = rb.clone();
    unsorted[e0..e0 + 369].copy_from_slice(&rb[e0 + 369..e0 + 738]);
    unsorted[e0 + 369..e0 + 738].copy_from_slice(&rb[e0..e0 + 369]);
    vs.push(err(
        "unsorted",
        "the two entries swapped (validly signed)",
        &fix(unsorted),
        "non_canonical",
    ));
    vs.push(err(
        "key-identity",
        "an entry's key is the identity (validly signed)",
        &fix(patched(&rb, e0 + 36, &bad_points::identity::<48>())),
        "identity_point",
    ));
    vs.push(err(
        "key-not-in-subgroup",
        "an entry's key is outside G1 (validly signed)",
        &fix(patched(&rb, e0 + 36, &bad_points::g1_not_in_subgroup())),
        "invalid_point",
    ));
    vs.push(err(
        "tag-16",
        "a 5-bit tag (validly signed)",
        &fix(patched(&rb, e0 + 84, &[16])),
        "out_of_range",
    ));
    vs.push(err(
        "entry-count-zero",
        "no entries (validly signed)",
        &fix([&rb[..e0 - 2], &[0, 0], &rb[rb.len() - 64..]].concat()),
        "out_of_range",
    ));
    files.insert(
        "venue_trace_report.json",
        file("venue-trace-report", "Trace reports (ENTR) signed by the health authority moh.vn (context en/v1/venue-trace).", &w, vs),
    );

    // Trace batch.
    let mut entries = report.entries().to_vec();
    for i in 0..4 {
        entries.push(fake_trace(&mut w.rng, hour(8 + 2 * i)));
    }
    let batch = TraceBatch {
        region: Region::new("VN").unwrap(),
        sequence: 1,
        window_start: UnixTime(DAY + 86_400),
        window_end: UnixTime(DAY + 2 * 86_400),
        prev_hash: GENESIS_HASH,
        entries,
    };
    let b1 = batch.clone().sign(&w.export).unwrap();
    let s1 = SignedTraceBatch::decode(&b1).unwrap();
    let h1 = s1.header().clone();
    let v1 = s1.verify(&w.export.public_key().into()).unwrap();
    let b2 = TraceBatch {
        sequence: 2,
        window_start: batch.window_end,
        window_end: batch.window_end.plus(86_400),
        prev_hash: h1.hash,
        entries: vec![],
        ..batch.clone()
    }
    .sign(&w.export)
    .unwrap();
    let s2 = SignedTraceBatch::decode(&b2).unwrap();
    let mut vs = vec![
        ok(
            "valid-first",
            "the report's 2 entries and 4 padding entries, sequence 1",
            &b1,
            describe_batch(&h1, v1.entries()),
        ),
        ok(
            "valid-empty-second",
            "sequence 2, chained to valid-first, no entries",
            &b2,
            describe_batch(s2.header(), &[]),
        ),
    ];
    vs.extend(common_negatives(
        &b1,
        Some((
            context::TRACE_BATCH,
            en_protocol::keys::context::BATCH,
            &w.export,
        )),
    ));
    let unknown = SigningKey::generate(&mut w.rng);
    vs.push(err(
        "unknown-export-key",
        "signed by an export key the phone does not trust",
        &batch.clone().sign(&unknown).unwrap(),
        "unknown_export_key",
    ));
    let fix = |b: Vec<u8>| resign(&b, context::TRACE_BATCH, &w.export);
    let e0 = b1.len() - 64 - 6 * 369;
    let count_at = e0 - 4;
    let mut unsorted = b1.clone();
    unsorted[e0..e0 + 369].copy_from_slice(&b1[e0 + 369..e0 + 738]);
    unsorted[e0 + 369..e0 + 738].copy_from_slice(&b1[e0..e0 + 369]);
    vs.push(err(
        "unsorted",
        "the first two entries swapped (validly signed)",
        &fix(unsorted),
        "non_canonical",
    ));
    vs.push(err(
        "duplicate",
        "the first entry twice (validly signed)",
        &fix(patched(&b1, e0 + 369, &b1[e0..e0 + 369])),
        "non_canonical",
    ));
    vs.push(err(
        "key-identity",
        "an entry's key is the identity (validly signed): refused by the decoder",
        &fix(patched(&b1, e0 + 36, &bad_points::identity::<48>())),
        "identity_point",
    ));
    vs.push(err(
        "key-x-too-large",
        "an entry's key has x = p (validly signed): refused by the decoder",
        &fix(patched(&b1, e0 + 36, &bad_points::g1_x_is_p())),
        "invalid_point",
    ));
    vs.push(err("key-not-in-subgroup", "an entry's key is outside G1 (validly signed): decodes, refused by check_keys and by matching", &fix(patched(&b1, e0 + 36, &bad_points::g1_not_in_subgroup())), "invalid_point"));
    vs.push(err(
        "tag-16",
        "a 5-bit tag (validly signed)",
        &fix(patched(&b1, e0 + 84, &[16])),
        "out_of_range",
    ));
    vs.push(err(
        "sequence-zero",
        "sequence 0 (validly signed)",
        &fix(patched(&b1, 5 + 8 + 3, &0u64.to_be_bytes())),
        "out_of_range",
    ));
    vs.push(err(
        "too-many",
        "entry count 1,000,001 (validly signed): rejected before allocating",
        &fix(patched(&b1, count_at, &1_000_001u32.to_be_bytes())),
        "too_many",
    ));
    files.insert(
        "venue_trace_batch.json",
        file("venue-trace-batch", "Trace batches (ENTB) signed by the export key (context en/v1/trace-batch); valid-empty-second follows valid-first. Checked: decode, verify, check_keys.", &w, vs),
    );

    // Trace index (ENTX): the trace chain's index, listing the two valid trace batches. No
    // draw from the generator here, so the files after it are unchanged.
    let listed = |h: &BatchHeader| IndexEntry {
        sequence: h.sequence,
        window_start: h.window_start,
        window_end: h.window_end,
        hash: h.hash,
        size: h.size,
    };
    let idx = Index {
        region: Region::new("VN").unwrap(),
        generated_at: UnixTime(s2.header().window_end.0 + 60),
        entries: vec![listed(&h1), listed(s2.header())],
    };
    let ib = idx.sign_as(&TRACE_INDEX, &w.export).unwrap();
    let mut vs = vec![ok(
        "valid",
        "lists valid-first and valid-empty-second of venue_trace_batch.json",
        &ib,
        describe_index(&idx),
    )];
    vs.extend(common_negatives(
        &ib,
        Some((
            context::TRACE_INDEX,
            en_protocol::keys::context::INDEX,
            &w.export,
        )),
    ));
    let fix = |b: Vec<u8>| resign(&b, context::TRACE_INDEX, &w.export);
    vs.push(err(
        "key-index",
        "the same content signed as the key chain's index (ENIX, en/v1/index): not a trace index",
        &idx.sign(&w.export).unwrap(),
        "bad_magic",
    ));
    vs.push(err(
        "unknown-export-key",
        "signed by an export key the phone does not trust",
        &idx.sign_as(&TRACE_INDEX, &SigningKey::from_seed(&[0x55; 32]))
            .unwrap(),
        "unknown_export_key",
    ));
    // Entries start after magic, version, key id, region (3), generated_at and count: 28.
    vs.push(err(
        "unsorted",
        "the second entry's sequence equals the first's (validly signed)",
        &fix(patched(&ib, 28 + 64, &1u64.to_be_bytes())),
        "non_canonical",
    ));
    vs.push(err(
        "empty-window",
        "the first entry's window ends where it starts (validly signed)",
        &fix(patched(&ib, 28 + 16, &ib[28 + 8..28 + 16])),
        "out_of_range",
    ));
    vs.push(err(
        "too-many",
        "entry count 100,001 (validly signed): rejected before allocating",
        &fix(patched(&ib, 24, &100_001u32.to_be_bytes())),
        "too_many",
    ));
    files.insert(
        "venue_trace_index.json",
        file("venue-trace-index", "The trace chain's index (ENTX) signed by the export key (context en/v1/trace-index), decoded as wire::index::TRACE_INDEX; same layout as the key index (wire-format.md §6).", &w, vs),
    );

    // Matching one record against one entry.
    let recs: Vec<&CheckInRecord> = store
        .records()
        .iter()
        .filter(|r| r.hour() <= hour(10))
        .collect();
    let (r9, r10) = (recs[0].encode(), recs[1].encode());
    assert_eq!((recs[0].hour(), recs[1].hour()), (hour(9), hour(10)));
    let (e9, e10) = (report.entries()[0].encode(), report.entries()[1].encode());
    let u_checked = u_secret
        .trace_request(&[hour(9)])
        .unwrap()
        .open(&w.sealing, UnixTime(NOW))
        .unwrap();
    let u9 = w.report(&u_checked).entries()[0].encode();
    let psk9 = &req[keys_at + 4..keys_at + 52];
    let nk = spec::nonces(&pb)[2];
    let m = |a: UnixTime, d: UnixTime| -> [u8; 48] {
        [&a.0.to_be_bytes()[..], &d.0.to_be_bytes(), &nk]
            .concat()
            .try_into()
            .unwrap()
    };
    let id9 = spec::identity(&pb, hour(9).0);
    let mpk_point =
        Option::<blstrs::G2Affine>::from(blstrs::G2Affine::from_compressed(&mpk)).unwrap();
    let crafted = |m: [u8; 48], skew: u64, w: &mut World| -> Vec<u8> {
        let x = w.bytes();
        [
            &hour(9).0.to_be_bytes()[..],
            &[v.tag(hour(9).day())],
            &spec::encrypt(&mpk_point, &id9, &m, x, skew),
        ]
        .concat()
    };
    let honest_by_spec = crafted(m(at(9, 40), at(10, 20)), 0, &mut w);
    let broken = crafted(m(at(9, 40), at(10, 20)), 1, &mut w);
    let outside = crafted(m(at(11, 0), at(11, 30)), 0, &mut w);
    let mut garbled = e9.clone();
    garbled[100] ^= 1;
    let match_vec = |name: &str, what: &str, r: &[u8], e: &[u8], expect: Result<Value, &str>| {
        match expect {
            Ok(d) => {
                json!({"name": name, "description": what, "record": hex::encode(r), "entry": hex::encode(e), "expect": "ok", "decoded": d})
            }
            Err(code) => {
                json!({"name": name, "description": what, "record": hex::encode(r), "entry": hex::encode(e), "expect": {"error": code}})
            }
        }
    };
    let notif = |h: Hour, overlap: u64, message: Option<&str>| json!({"hour": h.0, "arrival": at(9, 40).0, "departure": at(10, 20).0, "overlap_seconds": overlap, "message": message});
    let vs = vec![
        match_vec(
            "match-09",
            "the 09:00 record of a 09:40-10:20 visit and the 09:00 trace of the venue",
            &r9,
            &e9,
            Ok(notif(hour(9), 1200, Some(MESSAGE))),
        ),
        match_vec(
            "match-10",
            "the 10:00 record and the 10:00 trace",
            &r10,
            &e10,
            Ok(notif(hour(10), 1200, Some(MESSAGE))),
        ),
        match_vec(
            "match-spec-ciphertext",
            "a record encrypted by the test's independent implementation of the spec",
            &honest_by_spec,
            &e9,
            Ok(notif(hour(9), 1200, Some(MESSAGE))),
        ),
        match_vec(
            "message-garbled",
            "one bit of the encrypted message flipped: still a match, no message",
            &r9,
            &garbled,
            Ok(notif(hour(9), 1200, None)),
        ),
        match_vec(
            "other-venue",
            "trace for another venue: Phở 24's 09:00 key",
            &r9,
            &u9,
            Err("decryption_failed"),
        ),
        match_vec(
            "other-hour",
            "the venue's 10:00 trace against the 09:00 record",
            &r9,
            &e10,
            Err("no_overlap"),
        ),
        match_vec(
            "other-hour-relabelled",
            "trace for another hour: the 10:00 key and identity relabelled as 09:00",
            &r9,
            &patched(&e10, 0, &hour(9).0.to_be_bytes()),
            Err("decryption_failed"),
        ),
        match_vec(
            "identity-swapped",
            "the 09:00 key published under the 10:00 identity",
            &r9,
            &patched(&e9, 4, &e10[4..36]),
            Err("decryption_failed"),
        ),
        match_vec(
            "owner-share-only",
            "the owner's partial key H1(id)^msk_owner in place of the key",
            &r9,
            &patched(&e9, 36, psk9),
            Err("decryption_failed"),
        ),
        match_vec(
            "reencryption-check",
            "a ciphertext whose c1 is g2^(r+1): it decrypts, but re-encryption gives another c1",
            &broken,
            &e9,
            Err("reencryption_check_failed"),
        ),
        match_vec(
            "visit-outside-hour",
            "a 09:00 record whose encrypted visit is 11:00-11:30",
            &outside,
            &e9,
            Err("no_overlap"),
        ),
        match_vec(
            "key-identity",
            "the entry's key is the identity",
            &r9,
            &patched(&e9, 36, &bad_points::identity::<48>()),
            Err("identity_point"),
        ),
        match_vec(
            "key-not-in-subgroup",
            "the entry's key is outside G1: refused before any pairing",
            &r9,
            &patched(&e9, 36, &bad_points::g1_not_in_subgroup()),
            Err("invalid_point"),
        ),
        match_vec(
            "key-not-on-curve",
            "the entry's key is not on the curve",
            &r9,
            &patched(&e9, 36, &bad_points::g1_not_on_curve()),
            Err("invalid_point"),
        ),
    ];
    files.insert(
        "venue_match.json",
        file("venue-match", "One check-in record (`record`) tried against one trace entry (`entry`), as CheckInRecord::decode, TraceEntry::decode, try_match.", &w, vs),
    );
    files
}

fn describe_secret(bytes: &[u8], s: &TracingSecret) -> Value {
    let pl = s.payload().encode().len();
    json!({"payload": hex::encode(s.payload().encode()), "owner_share": hex::encode(&bytes[5 + pl..5 + pl + 32]),
           "sealed_share": hex::encode(&bytes[5 + pl + 32..])})
}
fn describe_store(s: &CheckInStore) -> Value {
    json!({"records": s.records().iter().map(describe_record).collect::<Vec<_>>()})
}
fn describe_checked(c: &venue::CheckedTrace) -> Value {
    json!({"payload": hex::encode(c.payload().encode()),
           "keys": c.identity_keys().map(|(h, id, k)| json!({"hour": h.0, "identity": hex::encode(&id), "key": hex::encode(&k)})).collect::<Vec<_>>()})
}
fn describe_report(r: &TraceReport) -> Value {
    json!({"authority": r.authority.as_str(), "region": r.region.as_str(), "issued_at": r.issued_at.0,
           "nonce": hex::encode(&r.nonce), "entries": r.entries().iter().map(describe_entry).collect::<Vec<_>>()})
}
fn describe_batch(h: &BatchHeader, entries: &[TraceEntry]) -> Value {
    let mut d = describe_header(h);
    d["entries"] = json!(entries.iter().map(describe_entry).collect::<Vec<_>>());
    d
}

/// Decodes, verifies and describes one vector; the error code on failure. Returns the
/// description and whether the input re-encodes to itself.
fn check(format: &str, ctx: &Value, v: &Value) -> Result<(Value, bool), String> {
    let code = |e: Error| e.code().to_string();
    let dec = |e: en_protocol::DecodeError| code(e.into());
    let bytes = |k: &str| hex::decode(v[k].as_str().unwrap()).unwrap();
    let pk = |k: &str| PublicKey::from_hex(ctx[k].as_str().unwrap()).unwrap();
    let now = UnixTime(ctx["now"].as_u64().unwrap());
    match format {
        "venue-entry" => {
            if let Some(url) = v["url"].as_str() {
                let p = EntryPayload::from_url(url, ctx["host"].as_str().unwrap()).map_err(dec)?;
                return Ok((describe_entry_payload(&p), p.to_url(HOST).unwrap() == url));
            }
            let b = bytes("hex");
            let p = EntryPayload::decode(&b).map_err(dec)?;
            Ok((describe_entry_payload(&p), p.encode() == b))
        }
        "venue-tracing-secret" => {
            let b = bytes("hex");
            let s = TracingSecret::decode(&b).map_err(dec)?;
            Ok((describe_secret(&b, &s), s.encode()[..] == b[..]))
        }
        "venue-checkin-store" => {
            let b = bytes("hex");
            let s = CheckInStore::decode(&b).map_err(dec)?;
            Ok((describe_store(&s), s.encode() == b))
        }
        "venue-visit-state" => {
            let b = bytes("hex");
            let t = VisitTracker::decode(&b).map_err(dec)?;
            let d = match t.current() {
                None => json!({"visit": null}),
                Some(c) => json!({"visit": {"payload": hex::encode(c.payload().encode()),
                                            "arrival": c.arrival().0, "checkout_at": c.checkout_at().0}}),
            };
            Ok((d, t.encode() == b))
        }
        "venue-trace-request" => {
            let b = bytes("hex");
            let r = TraceRequest::decode(&b).map_err(dec)?;
            let sealing = SealingSecretKey::from_bytes(
                hex::decode_array(ctx["sealing_secret_key"].as_str().unwrap()).unwrap(),
            );
            let c = r.open(&sealing, now).map_err(code)?;
            Ok((describe_checked(&c), r.encode() == b))
        }
        "venue-trace-report" => {
            let b = bytes("hex");
            let mut registry = BTreeMap::new();
            registry.insert(
                AuthorityId::new(ctx["authority_id"].as_str().unwrap()).unwrap(),
                AuthorityInfo {
                    public_key: pk("authority_public_key"),
                    region: Some(Region::new("VN").unwrap()),
                    revoked: false,
                },
            );
            let s = SignedTraceReport::decode(&b).map_err(dec)?;
            let same = s.encode() == &b[..];
            let r = s.verify(&registry).map_err(code)?;
            Ok((describe_report(r.report()), same))
        }
        "venue-trace-batch" => {
            let b = bytes("hex");
            let export: ExportKeys = pk("export_public_key").into();
            let s = SignedTraceBatch::decode(&b).map_err(dec)?;
            let same = s.encode() == &b[..];
            let v = s.verify(&export).map_err(code)?;
            v.check_keys().map_err(dec)?;
            Ok((describe_batch(v.header(), v.entries()), same))
        }
        "venue-trace-index" => {
            let b = bytes("hex");
            let s = SignedIndex::decode_as(&b, &TRACE_INDEX).map_err(dec)?;
            let same = s.encode() == &b[..];
            let v = s.verify(&pk("export_public_key").into()).map_err(code)?;
            Ok((describe_index(v.index()), same))
        }
        "venue-match" => {
            let (rb, eb) = (bytes("record"), bytes("entry"));
            let r = CheckInRecord::decode(&rb).map_err(dec)?;
            let e = TraceEntry::decode(&eb).map_err(dec)?;
            let n = try_match(&r, &e).map_err(code)?;
            Ok((
                describe_notification(&n),
                r.encode() == rb && e.encode() == eb,
            ))
        }
        other => panic!("unknown format {other}"),
    }
}

#[test]
fn every_venue_vector_file_is_current() {
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
fn every_venue_vector_behaves_as_stated() {
    let (mut files, mut checked) = (0, 0);
    for entry in std::fs::read_dir(vectors_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        files += 1;
        let f: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let format = f["format"].as_str().unwrap();
        let (mut positives, mut negatives) = (0, 0);
        for v in f["vectors"].as_array().unwrap() {
            let name = format!("{}:{}", path.display(), v["name"].as_str().unwrap());
            let got = check(format, &f["context"], v);
            if v["expect"] == "ok" {
                let (decoded, reencodes) =
                    got.unwrap_or_else(|e| panic!("{name}: expected ok, got {e}"));
                assert_eq!(decoded, v["decoded"], "{name}: decoded fields");
                assert!(reencodes, "{name}: re-encoding");
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
    assert_eq!(files, 9, "one vector file per venue format");
    assert!(checked > 100, "{checked}");
}

#[test]
fn venue_trace_batch_vectors_link() {
    let f: Value = serde_json::from_str(
        &std::fs::read_to_string(vectors_dir().join("venue_trace_batch.json")).unwrap(),
    )
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
        SignedTraceBatch::decode(&hex::decode(v["hex"].as_str().unwrap()).unwrap())
            .unwrap()
            .verify(&export)
            .unwrap()
    };
    let (a, b) = (get("valid-first"), get("valid-empty-second"));
    assert_eq!(b.check_follows(a.header()), Ok(()));
    assert!(a.check_follows(b.header()).is_err());
}
