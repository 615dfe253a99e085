//! The sealed box that carries the health authority's share of a venue's master key from
//! the venue's setup (offline, on the owner's device) to the authority, via the owner.
//!
//! Ephemeral-static X25519, HKDF-SHA256, AES-256-GCM (spec/venue.md §5):
//!
//! ```text
//! key_id = SHA-256("en/v1/venue/sealing-key-id" ‖ 0 ‖ pk)[..8]
//! epk = X25519(e, 9);  ss = X25519(e, pk)      (all-zero ss refused)
//! k   = HKDF-SHA256(salt = epk ‖ pk, IKM = ss, info = "en/v1/venue/sealed-share", 32)
//! box = key_id ‖ epk ‖ AES-256-GCM(k, 0⁹⁶, msk_ha (32 B big-endian),
//!                                  aad = "en/v1/venue/sealed-share" ‖ 0 ‖ key_id ‖ mpk)
//! ```
//!
//! The associated data binds the share to the venue's master public key, so a sealed share
//! cannot be replayed next to another venue's payload.

use std::fmt;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce, Tag};
use blstrs::Scalar;
use hkdf::Hkdf;
use rand_core::CryptoRngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::curve::{self, G2_LEN};
use super::labels;
use crate::error::{Error, VerifyError};

/// Bytes of a sealed share: key id (8) ‖ ephemeral key (32) ‖ ciphertext (32) ‖ tag (16).
pub const SEALED_SHARE_LEN: usize = 8 + 32 + 32 + 16;

/// The health authority's X25519 secret key for opening sealed shares.
///
/// No `Copy`, no `Display`, a redacted `Debug`; zeroized on drop (x25519-dalek's `zeroize`).
pub struct SealingSecretKey(x25519_dalek::StaticSecret);

impl SealingSecretKey {
    /// Draws a key from the caller's CSPRNG.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut b = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(b.as_mut());
        SealingSecretKey(x25519_dalek::StaticSecret::from(*b))
    }
    /// Restores a key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SealingSecretKey(x25519_dalek::StaticSecret::from(bytes))
    }
    /// The 32 secret bytes, for a key file.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }
    /// The public key venues seal to.
    pub fn public_key(&self) -> SealingPublicKey {
        SealingPublicKey(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }
}

impl fmt::Debug for SealingSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SealingSecretKey(<redacted>, key_id={})",
            crate::hex::encode(&self.public_key().key_id())
        )
    }
}

/// The health authority's X25519 public key (published with the venue app).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SealingPublicKey([u8; 32]);

impl SealingPublicKey {
    /// Wraps 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SealingPublicKey(bytes)
    }
    /// The 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }
    /// The key's 8-byte id, written in front of every sealed share.
    pub fn key_id(&self) -> [u8; 8] {
        let d = labels::sha256(labels::SEALING_KEY_ID, &[&self.0]);
        d[..8].try_into().expect("8 bytes")
    }
}

/// A sealed authority share, opaque to everyone but the authority.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SealedShare(pub(crate) [u8; SEALED_SHARE_LEN]);

impl fmt::Debug for SealedShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SealedShare(key_id={})",
            crate::hex::encode(&self.0[..8])
        )
    }
}

fn box_key(ss: &[u8; 32], epk: &[u8; 32], pk: &[u8; 32]) -> Aes256Gcm {
    let mut k = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&[epk.as_slice(), pk].concat()), ss)
        .expand(labels::SEALED_SHARE, k.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 length");
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(k.as_ref()))
}

fn aad(key_id: &[u8], mpk: &[u8; G2_LEN]) -> Vec<u8> {
    [labels::SEALED_SHARE, &[0], key_id, mpk].concat()
}

/// Seals `share` to the authority's key, bound to the venue's `mpk`.
pub(crate) fn seal(
    pk: &SealingPublicKey,
    share: &Scalar,
    mpk: &[u8; G2_LEN],
    rng: &mut impl CryptoRngCore,
) -> Result<SealedShare, Error> {
    let e = SealingSecretKey::generate(rng);
    let epk = e.public_key().0;
    let ss = e.0.diffie_hellman(&x25519_dalek::PublicKey::from(pk.0));
    if !ss.was_contributory() {
        return Err(Error::Usage(
            "the authority's sealing key is a low-order point",
        ));
    }
    let key_id = pk.key_id();
    let mut out = [0u8; SEALED_SHARE_LEN];
    out[..8].copy_from_slice(&key_id);
    out[8..40].copy_from_slice(&epk);
    out[40..72].copy_from_slice(curve::scalar_bytes(share).as_ref());
    let tag = box_key(ss.as_bytes(), &epk, &pk.0)
        .encrypt_in_place_detached(
            Nonce::from_slice(&[0u8; 12]),
            &aad(&key_id, mpk),
            &mut out[40..72],
        )
        .expect("AES-GCM encrypts 32 bytes");
    out[72..].copy_from_slice(&tag);
    Ok(SealedShare(out))
}

/// Opens a sealed share for the venue with `mpk`; any failure is [`VerifyError::SealedShare`].
pub(crate) fn open(
    sk: &SealingSecretKey,
    sealed: &SealedShare,
    mpk: &[u8; G2_LEN],
) -> Result<Scalar, VerifyError> {
    let pk = sk.public_key();
    let b = &sealed.0;
    if b[..8] != pk.key_id() {
        return Err(VerifyError::SealedShare);
    }
    let epk: [u8; 32] = b[8..40].try_into().expect("32 bytes");
    let ss = sk.0.diffie_hellman(&x25519_dalek::PublicKey::from(epk));
    if !ss.was_contributory() {
        return Err(VerifyError::SealedShare);
    }
    let mut share = Zeroizing::new([0u8; 32]);
    share.copy_from_slice(&b[40..72]);
    box_key(ss.as_bytes(), &epk, &pk.0)
        .decrypt_in_place_detached(
            Nonce::from_slice(&[0u8; 12]),
            &aad(&b[..8], mpk),
            share.as_mut(),
            Tag::from_slice(&b[72..]),
        )
        .map_err(|_| VerifyError::SealedShare)?;
    curve::scalar_decode(&share, "sealed share").map_err(|_| VerifyError::SealedShare)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn opens_only_for_its_key_and_venue() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let ha = SealingSecretKey::generate(&mut rng);
        let other = SealingSecretKey::generate(&mut rng);
        let share = curve::random_scalar(&mut rng);
        let mpk = curve::g2_mul(&curve::random_scalar(&mut rng)).to_compressed();
        let mpk2 = curve::g2_mul(&curve::random_scalar(&mut rng)).to_compressed();
        let s = seal(&ha.public_key(), &share, &mpk, &mut rng).unwrap();
        assert_eq!(open(&ha, &s, &mpk).unwrap(), share);
        assert_eq!(open(&other, &s, &mpk), Err(VerifyError::SealedShare));
        assert_eq!(open(&ha, &s, &mpk2), Err(VerifyError::SealedShare));
        let mut t = s.clone();
        t.0[50] ^= 1;
        assert_eq!(open(&ha, &t, &mpk), Err(VerifyError::SealedShare));
        let low_order = SealingPublicKey::from_bytes([0u8; 32]);
        assert!(seal(&low_order, &share, &mpk, &mut rng).is_err());
        assert!(!format!("{ha:?}").contains(&crate::hex::encode(ha.to_bytes().as_ref())));
    }
}
