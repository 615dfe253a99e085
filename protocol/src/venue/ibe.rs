//! The identity-based encryption under a check-in: CrowdNotifier's modified Boneh–Franklin
//! FullIdent on BLS12-381 (type-III pairing `e: G1 × G2 → GT`).
//!
//! ```text
//! KeyDer(msk, id) = H1(id)^msk                                   (G1)
//! Enc(mpk, id, m):  x ←$ 32 B;  r = H3(x, id, m);  c1 = g2^r;
//!                   c2 = x ⊕ H_T(e(H1(id)^r, mpk));  c3 = AES-256-GCM(H4(x), 0⁹⁶, m, aad = id)
//! Dec(sk, id, c):   x' = c2 ⊕ H_T(e(sk, c1));  m' = open(H4(x'), c3, aad = id);
//!                   r' = H3(x', id, m');  require c1 = g2^r'
//! ```
//!
//! The re-encryption check makes decryption robust: a key for another identity, or a
//! ciphertext built with an inconsistent `r`, never yields a plaintext. Each AEAD key `H4(x)`
//! encrypts exactly one message, so the fixed zero nonce is safe.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce, Tag};
use blstrs::{G1Affine, G2Affine, Scalar};
use group::Curve;
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::curve::{self, G2_LEN};
use super::labels;
use crate::error::{DecodeError, VerifyError};
use crate::wire::Reader;

/// Bytes of a check-in plaintext: arrival u64 ‖ departure u64 ‖ notification key.
pub const PLAINTEXT_LEN: usize = 8 + 8 + 32;
/// Bytes of an AEAD tag.
const TAG_LEN: usize = 16;
/// Bytes of a ciphertext: `c1` (96) ‖ `c2` (32) ‖ `c3` (48 + 16).
pub const CIPHERTEXT_LEN: usize = G2_LEN + 32 + PLAINTEXT_LEN + TAG_LEN;

/// A validated IBE ciphertext (its `c1` is a non-identity subgroup point).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Ciphertext {
    c1: G2Affine,
    bytes: [u8; CIPHERTEXT_LEN],
}

impl std::fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ciphertext({}…)", crate::hex::encode(&self.bytes[..8]))
    }
}

impl Ciphertext {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bytes: [u8; CIPHERTEXT_LEN] = r.array("ciphertext")?;
        let c1 = curve::g2_decode(bytes[..G2_LEN].try_into().expect("96"), "ciphertext c1")?;
        Ok(Ciphertext { c1, bytes })
    }
    pub(crate) fn bytes(&self) -> &[u8; CIPHERTEXT_LEN] {
        &self.bytes
    }
}

fn h3(x: &[u8; 32], id: &[u8; 32], m: &[u8]) -> Scalar {
    curve::hash_to_scalar(&[x, id, m], labels::H3_DST)
}

fn aead(x: &[u8; 32]) -> Aes256Gcm {
    let k = Zeroizing::new(labels::sha256(labels::H4, &[x]));
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(k.as_ref()))
}

/// Encrypts `m` to identity `id` under the venue's master public key.
pub(crate) fn encrypt(
    mpk: &G2Affine,
    id: &[u8; 32],
    m: &[u8; PLAINTEXT_LEN],
    rng: &mut impl CryptoRngCore,
) -> Ciphertext {
    loop {
        let mut x = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(x.as_mut());
        let r = h3(&x, id, m);
        let c1 = curve::g2_mul(&r);
        let hr = (curve::h1(id) * r).to_affine();
        // r = 0 (a 2⁻²⁵⁵ event) gives the identity: draw another x rather than publish it.
        let Some(pad) = curve::ht(&curve::pairing(&hr, mpk)) else {
            continue;
        };
        let mut out = [0u8; CIPHERTEXT_LEN];
        out[..G2_LEN].copy_from_slice(&c1.to_compressed());
        for (i, o) in out[G2_LEN..G2_LEN + 32].iter_mut().enumerate() {
            *o = x[i] ^ pad[i];
        }
        let c3 = &mut out[G2_LEN + 32..];
        c3[..PLAINTEXT_LEN].copy_from_slice(m);
        let tag = aead(&x)
            .encrypt_in_place_detached(Nonce::from_slice(&[0u8; 12]), id, &mut c3[..PLAINTEXT_LEN])
            .expect("AES-GCM encrypts 48 bytes");
        c3[PLAINTEXT_LEN..].copy_from_slice(&tag);
        return Ciphertext { c1, bytes: out };
    }
}

/// Decrypts with the identity key `sk` (a checked, non-identity point). One pairing; on
/// success also one G2 multiplication for the re-encryption check.
pub(crate) fn decrypt(
    sk: &G1Affine,
    id: &[u8; 32],
    ct: &Ciphertext,
) -> Result<Zeroizing<[u8; PLAINTEXT_LEN]>, VerifyError> {
    let pad = curve::ht(&curve::pairing(sk, &ct.c1)).ok_or(VerifyError::DecryptionFailed)?;
    let mut x = Zeroizing::new([0u8; 32]);
    for (i, o) in x.iter_mut().enumerate() {
        *o = ct.bytes[G2_LEN + i] ^ pad[i];
    }
    let c3 = &ct.bytes[G2_LEN + 32..];
    let mut m = Zeroizing::new([0u8; PLAINTEXT_LEN]);
    m.copy_from_slice(&c3[..PLAINTEXT_LEN]);
    aead(&x)
        .decrypt_in_place_detached(
            Nonce::from_slice(&[0u8; 12]),
            id,
            m.as_mut(),
            Tag::from_slice(&c3[PLAINTEXT_LEN..]),
        )
        .map_err(|_| VerifyError::DecryptionFailed)?;
    if curve::g2_mul(&h3(&x, id, m.as_ref())) != ct.c1 {
        return Err(VerifyError::ReencryptionCheck);
    }
    Ok(m)
}

/// `H1(id)^s`: a full identity key (`s = msk`) or a share of one.
pub(crate) fn key_share(s: &Scalar, id: &[u8; 32]) -> G1Affine {
    (curve::h1(id) * s).to_affine()
}

/// The authority's check that `sk` is the identity key of `id` under `mpk`:
/// `e(sk, g2) = e(H1(id), mpk)`.
pub(crate) fn key_fits(sk: &G1Affine, id: &[u8; 32], mpk: &G2Affine) -> bool {
    curve::pairings_equal(sk, &curve::g2(), &curve::h1(id), mpk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn decrypts_only_with_the_right_key() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let msk = curve::random_scalar(&mut rng);
        let mpk = curve::g2_mul(&msk);
        let (id, other) = ([1u8; 32], [2u8; 32]);
        let m = [7u8; PLAINTEXT_LEN];
        let ct = encrypt(&mpk, &id, &m, &mut rng);
        let sk = key_share(&msk, &id);
        assert!(key_fits(&sk, &id, &mpk));
        assert_eq!(*decrypt(&sk, &id, &ct).unwrap(), m);
        let wrong = key_share(&msk, &other);
        assert!(!key_fits(&wrong, &id, &mpk));
        assert_eq!(
            decrypt(&wrong, &id, &ct),
            Err(VerifyError::DecryptionFailed)
        );
        // The right key under a wrong published id: the AEAD's associated data refuses it.
        assert_eq!(
            decrypt(&sk, &other, &ct),
            Err(VerifyError::DecryptionFailed)
        );
        let back = Ciphertext::read(&mut Reader::new(ct.bytes())).unwrap();
        assert_eq!(back, ct);
    }
}
