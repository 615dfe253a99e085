//! BLS12-381 as the venue scheme uses it: encodings that let nothing reach a pairing unless it
//! is a non-identity point of the prime-order subgroup, and the hashes onto G1 and the scalars.
//!
//! Points are the usual compressed encodings (48 bytes in G1, 96 in G2, the ZCash/IETF
//! format), checked for canonical form, curve and subgroup membership; the identity is
//! refused separately, because `e(O, ·) = 1` would let a crafted key "decrypt" nothing but
//! also reach blstrs' target-group compression, which panics on the identity.

use blstrs::{Compress, G1Affine, G1Projective, G2Affine, G2Prepared, G2Projective, Gt, Scalar};
use ff::Field;
use group::prime::PrimeCurveAffine;
use group::{Curve, Group};
use pairing::{MillerLoopResult, MultiMillerLoop};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::labels;
use crate::error::DecodeError;

/// Bytes of a compressed G1 point.
pub const G1_LEN: usize = 48;
/// Bytes of a compressed G2 point.
pub const G2_LEN: usize = 96;
/// Bytes of a scalar (big-endian, below the group order).
pub const SCALAR_LEN: usize = 32;

/// The checks every decoded point gets: it decompressed (on the curve, in the subgroup), is
/// not the identity, and re-encodes to the input (blst already rejects x ≥ p and bad flag
/// bits; the comparison makes "one encoding per point" explicit rather than a property of
/// the library).
fn checked_point<P: PrimeCurveAffine>(
    decoded: subtle::CtOption<P>,
    reencodes: impl Fn(&P) -> bool,
    what: &'static str,
) -> Result<P, DecodeError> {
    let p = Option::<P>::from(decoded).ok_or(DecodeError::InvalidPoint(what))?;
    if bool::from(p.is_identity()) {
        return Err(DecodeError::IdentityPoint(what));
    }
    if !reencodes(&p) {
        return Err(DecodeError::InvalidPoint(what));
    }
    Ok(p)
}

/// Decodes a compressed G1 point: canonical, on the curve, in the subgroup, not the identity.
pub(crate) fn g1_decode(b: &[u8; G1_LEN], what: &'static str) -> Result<G1Affine, DecodeError> {
    checked_point(
        G1Affine::from_compressed(b),
        |p| p.to_compressed() == *b,
        what,
    )
}

/// Decodes a compressed G2 point with the same checks as [`g1_decode`].
pub(crate) fn g2_decode(b: &[u8; G2_LEN], what: &'static str) -> Result<G2Affine, DecodeError> {
    checked_point(
        G2Affine::from_compressed(b),
        |p| p.to_compressed() == *b,
        what,
    )
}

/// The BLS12-381 base-field modulus p, big-endian.
const P_BYTES: [u8; G1_LEN] = [
    0x1a, 0x01, 0x11, 0xea, 0x39, 0x7f, 0xe6, 0x9a, 0x4b, 0x1b, 0xa7, 0xb6, 0x43, 0x4b, 0xac, 0xd7,
    0x64, 0x77, 0x4b, 0x84, 0xf3, 0x85, 0x12, 0xbf, 0x67, 0x30, 0xd2, 0xa0, 0xf6, 0xb0, 0xf6, 0x24,
    0x1e, 0xab, 0xff, 0xfe, 0xb1, 0x53, 0xff, 0xff, 0xb9, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xaa, 0xab,
];

/// Checks only the form of a compressed G1 encoding, without curve arithmetic: compression
/// flag set, the identity refused, x below p. Accepts a superset of [`g1_decode`]; a trace
/// batch's keys get this at decoding and the full check when a phone tries them.
pub(crate) fn g1_check_form(b: &[u8; G1_LEN], what: &'static str) -> Result<(), DecodeError> {
    if b[0] & 0x80 == 0 {
        return Err(DecodeError::InvalidPoint(what));
    }
    if b[0] & 0x40 != 0 {
        return Err(if b[0] == 0xc0 && b[1..].iter().all(|&x| x == 0) {
            DecodeError::IdentityPoint(what)
        } else {
            DecodeError::InvalidPoint(what)
        });
    }
    let mut x = *b;
    x[0] &= 0x1f;
    if x >= P_BYTES {
        return Err(DecodeError::InvalidPoint(what));
    }
    Ok(())
}

/// Decodes a secret scalar: big-endian, below the group order, not zero.
pub(crate) fn scalar_decode(
    b: &[u8; SCALAR_LEN],
    what: &'static str,
) -> Result<Scalar, DecodeError> {
    let s =
        Option::<Scalar>::from(Scalar::from_bytes_be(b)).ok_or(DecodeError::OutOfRange(what))?;
    if bool::from(s.is_zero()) {
        return Err(DecodeError::OutOfRange(what));
    }
    Ok(s)
}

/// The scalar's 32-byte big-endian encoding, wiped when dropped.
pub(crate) fn scalar_bytes(s: &Scalar) -> Zeroizing<[u8; SCALAR_LEN]> {
    Zeroizing::new(s.to_bytes_be())
}

/// RFC 9380 §5.3.1 `expand_message_xmd` with SHA-256 (`len` ≤ 255 × 32, `dst` ≤ 255 bytes).
pub(crate) fn expand_message_xmd(msg: &[&[u8]], dst: &[u8], len: usize) -> Vec<u8> {
    assert!(
        len <= 255 * 32 && dst.len() <= 255 && len > 0,
        "RFC 9380 bounds"
    );
    let ell = len.div_ceil(32);
    let dst_prime = |h: &mut Sha256| {
        h.update(dst);
        h.update([dst.len() as u8]);
    };
    let mut h = Sha256::new();
    h.update([0u8; 64]);
    for m in msg {
        h.update(m);
    }
    h.update((len as u16).to_be_bytes());
    h.update([0u8]);
    dst_prime(&mut h);
    let b0: [u8; 32] = h.finalize().into();
    let mut out = Vec::with_capacity(ell * 32);
    let mut prev = [0u8; 32];
    for i in 1..=ell {
        let mut h = Sha256::new();
        let mut x = b0;
        if i > 1 {
            for (a, b) in x.iter_mut().zip(prev) {
                *a ^= b;
            }
        }
        h.update(x);
        h.update([i as u8]);
        dst_prime(&mut h);
        prev = h.finalize().into();
        out.extend_from_slice(&prev);
    }
    out.truncate(len);
    out
}

/// OS2IP(`bytes`) mod r for a multiple of 16 bytes (Horner's rule in 128-bit limbs, each
/// below r, so every step is exact).
fn reduce(bytes: &[u8]) -> Scalar {
    debug_assert!(bytes.len().is_multiple_of(16));
    let limb = |c: &[u8]| {
        let v = u128::from_be_bytes(c.try_into().expect("16 bytes"));
        Option::<Scalar>::from(Scalar::from_u64s_le(&[v as u64, (v >> 64) as u64, 0, 0]))
            .expect("a 128-bit value is below r")
    };
    let shift = Option::<Scalar>::from(Scalar::from_u64s_le(&[0, 0, 1, 0])).expect("2^128 < r");
    bytes
        .chunks(16)
        .fold(Scalar::from(0u64), |acc, c| acc * shift + limb(c))
}

/// RFC 9380 `hash_to_field` for the scalar field: OS2IP(expand_message_xmd(msg, dst, 48)) mod r.
pub(crate) fn hash_to_scalar(msg: &[&[u8]], dst: &[u8]) -> Scalar {
    let u = Zeroizing::new(expand_message_xmd(msg, dst, 48));
    reduce(&u)
}

/// A uniformly random non-zero scalar: 32 random bytes through [`hash_to_scalar`] with
/// [`labels::SCALAR_DST`] (spec/venue.md §3), redrawn in the (2⁻²⁵⁵-likely) case of zero.
pub(crate) fn random_scalar(rng: &mut impl CryptoRngCore) -> Scalar {
    loop {
        let mut b = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(b.as_mut());
        let s = hash_to_scalar(&[b.as_ref()], labels::SCALAR_DST);
        if !bool::from(s.is_zero()) {
            return s;
        }
    }
}

/// H1: RFC 9380 `BLS12381G1_XMD:SHA-256_SSWU_RO_` with our tag. Never the identity in
/// practice (that would need a hash preimage); callers still check where it matters.
pub(crate) fn h1(id: &[u8; 32]) -> G1Affine {
    G1Projective::hash_to_curve(id, labels::H1_DST, &[]).to_affine()
}

/// H_T: SHA-256 over the torus compression of a target-group element; `None` for the
/// identity, which blstrs cannot compress (it would panic) and which no honest pairing of
/// two non-identity points yields.
pub(crate) fn ht(g: &Gt) -> Option<[u8; 32]> {
    if bool::from(g.is_identity()) {
        return None;
    }
    let mut buf = Vec::with_capacity(288);
    // Only the identity has a zero w-coefficient in GT (a unitary element of Fp6 is ±1, and
    // -1 has even order), so compression cannot fail here.
    g.write_compressed(&mut buf).ok()?;
    Some(labels::sha256(labels::HT, &[&buf]))
}

/// The generator of G2, affine.
pub(crate) fn g2() -> G2Affine {
    G2Affine::generator()
}

/// `g2^s`, affine.
pub(crate) fn g2_mul(s: &Scalar) -> G2Affine {
    (G2Projective::generator() * s).to_affine()
}

/// `e(a, b)`.
pub(crate) fn pairing(a: &G1Affine, b: &G2Affine) -> Gt {
    blstrs::pairing(a, b)
}

/// `e(a, b) == e(c, d)` with one final exponentiation.
pub(crate) fn pairings_equal(a: &G1Affine, b: &G2Affine, c: &G1Affine, d: &G2Affine) -> bool {
    let nb = G2Prepared::from(-*b);
    let d = G2Prepared::from(*d);
    let r = blstrs::Bls12::multi_miller_loop(&[(a, &nb), (c, &d)]).final_exponentiation();
    bool::from(r.is_identity())
}

/// A random point of G1 (a random multiple of the generator): what a real trace key looks
/// like to anyone without the venue's master secret.
pub(crate) fn random_g1(rng: &mut impl CryptoRngCore) -> G1Affine {
    (G1Projective::generator() * random_scalar(rng)).to_affine()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expand_message_xmd_matches_rfc9380() {
        // RFC 9380 Appendix K.1 (SHA-256, DST "QUUX-V01-CS02-with-expander-SHA256-128").
        let dst = b"QUUX-V01-CS02-with-expander-SHA256-128";
        assert_eq!(
            crate::hex::encode(&expand_message_xmd(&[b""], dst, 0x20)),
            "68a985b87eb6b46952128911f2a4412bbc302a9d759667f87f7a21d803f07235"
        );
        assert_eq!(
            crate::hex::encode(&expand_message_xmd(&[b"abc"], dst, 0x20)),
            "d8ccab23b5985ccea865c6c97b6e5b8350e794e603b4b97902f53a8a0d605615"
        );
    }

    #[test]
    fn reduce_is_os2ip_mod_r() {
        // 2^256 mod r, from r = 0x73eda753...00000001.
        let mut b = [0u8; 48];
        b[15] = 1;
        let two_256 = reduce(&b);
        let two_128 = reduce(
            &[
                [0u8; 16],
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0u8; 16],
            ]
            .concat(),
        );
        assert_eq!(two_256, two_128 * two_128);
        assert_eq!(reduce(&[0xffu8; 16]) + Scalar::from(1u64), two_128);
    }

    #[test]
    fn identity_and_garbage_points_are_refused() {
        let mut id1 = [0u8; 48];
        id1[0] = 0xc0;
        assert_eq!(g1_decode(&id1, "p"), Err(DecodeError::IdentityPoint("p")));
        let mut id2 = [0u8; 96];
        id2[0] = 0xc0;
        assert_eq!(g2_decode(&id2, "p"), Err(DecodeError::IdentityPoint("p")));
        assert_eq!(
            g1_decode(&[0u8; 48], "p"),
            Err(DecodeError::InvalidPoint("p"))
        );
        assert_eq!(
            g1_decode(&[0xffu8; 48], "p"),
            Err(DecodeError::InvalidPoint("p"))
        );
        assert!(ht(&Gt::identity()).is_none());
        assert_eq!(
            g1_check_form(&id1, "p"),
            Err(DecodeError::IdentityPoint("p"))
        );
        let mut at_p = P_BYTES;
        at_p[0] |= 0x80;
        assert_eq!(
            g1_check_form(&at_p, "p"),
            Err(DecodeError::InvalidPoint("p"))
        );
        assert_eq!(g1_decode(&at_p, "p"), Err(DecodeError::InvalidPoint("p")));
        at_p[47] -= 1;
        assert_eq!(g1_check_form(&at_p, "p"), Ok(()));
    }

    #[test]
    fn form_check_accepts_every_valid_point() {
        let mut rng =
            <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(9);
        for _ in 0..50 {
            let b = random_g1(&mut rng).to_compressed();
            assert_eq!(g1_check_form(&b, "p"), Ok(()));
            assert!(g1_decode(&b, "p").is_ok());
        }
    }
}
