//! Key types: temporary exposure keys (secret until published) and ed25519 signing keys.
//!
//! Secret types have no `Copy`, no `Display`, a redacted `Debug`, and are zeroized on drop,
//! so they cannot be printed into a log or duplicated by accident.

use std::fmt;

use ed25519_dalek::Signer;
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{DecodeError, Error, VerifyError};

/// Length of a temporary exposure key in bytes.
pub const TEK_LEN: usize = 16;

/// A Temporary Exposure Key: 16 random bytes a phone generates each day.
///
/// Every rolling proximity identifier the phone broadcasts that day derives from it, so it
/// stays secret until its owner chooses to publish it as a diagnosis key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TemporaryExposureKey([u8; TEK_LEN]);

impl TemporaryExposureKey {
    /// Wraps existing key bytes (from storage or a published batch).
    pub fn from_bytes(bytes: [u8; TEK_LEN]) -> Self {
        TemporaryExposureKey(bytes)
    }
    /// Draws a fresh key from `rng` (the caller supplies a CSPRNG; the crate has no OS RNG).
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut b = [0u8; TEK_LEN];
        rng.fill_bytes(&mut b);
        TemporaryExposureKey(b)
    }
    /// The key bytes. Handle with care: these are secret until published.
    pub fn as_bytes(&self) -> &[u8; TEK_LEN] {
        &self.0
    }
}

impl PartialEq for TemporaryExposureKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for TemporaryExposureKey {}

impl fmt::Debug for TemporaryExposureKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TemporaryExposureKey(<redacted>)")
    }
}

/// Identifies a public key in 8 bytes: SHA-256("en/v1/key-id" || public key), truncated.
///
/// Batches, indexes and risk configurations name the export key that signed them, so
/// export keys can rotate while phones still trust several.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}
impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// An ed25519 public key of a health authority or of the server's export signer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Parses 32 bytes; rejects encodings that are not valid curve points.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map(PublicKey)
            .map_err(|_| DecodeError::OutOfRange("public key").into())
    }
    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Result<Self, Error> {
        let bytes = crate::hex::decode_array::<32>(s.trim()).ok_or(DecodeError::BadText("hex"))?;
        Self::from_bytes(&bytes)
    }
    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
    /// Lower-case hex of the 32-byte encoding.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0.to_bytes())
    }
    /// This key's [`KeyId`].
    pub fn key_id(&self) -> KeyId {
        let mut h = Sha256::new();
        h.update(b"en/v1/key-id");
        h.update(self.0.as_bytes());
        let d = h.finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&d[..8]);
        KeyId(id)
    }
    /// Verifies `sig` over `context || 0x00 || msg` (strict verification: no malleable signatures).
    pub(crate) fn verify(
        &self,
        context: &[u8],
        msg: &[u8],
        sig: &[u8; 64],
    ) -> Result<(), VerifyError> {
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        let m = contextualise(context, msg);
        self.0
            .verify_strict(&m, &sig)
            .map_err(|_| VerifyError::BadSignature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

/// An ed25519 private key (a health authority's, or the server's export key).
///
/// No `Copy`, no `Display`, a `Debug` that prints only the key id; zeroized on drop.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// Generates a key from the caller's CSPRNG.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        SigningKey(ed25519_dalek::SigningKey::generate(rng))
    }
    /// Restores a key from its 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }
    /// The 32-byte seed, for writing to a key file. Secret.
    pub fn to_seed(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.0.to_bytes())
    }
    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
    /// Signs `context || 0x00 || msg`.
    pub(crate) fn sign(&self, context: &[u8], msg: &[u8]) -> [u8; 64] {
        self.0.sign(&contextualise(context, msg)).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey(<redacted>, key_id={})",
            self.public_key().key_id()
        )
    }
}

/// Domain separation: every signature covers its format's context string, a zero byte and
/// the message, so a signature made for one format never verifies as another.
fn contextualise(context: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(context.len() + 1 + msg.len());
    m.extend_from_slice(context);
    m.push(0);
    m.extend_from_slice(msg);
    m
}

/// The signature contexts, one per signed format (see `spec/wire-format.md`).
pub mod context {
    /// Case reports signed by a health authority.
    pub const CASE_REPORT: &[u8] = b"en/v1/case-report";
    /// Verification certificates signed by a health authority.
    pub const CERTIFICATE: &[u8] = b"en/v1/verification-certificate";
    /// Batches signed by the server's export key.
    pub const BATCH: &[u8] = b"en/v1/batch";
    /// Indexes signed by the server's export key.
    pub const INDEX: &[u8] = b"en/v1/index";
    /// Risk configurations signed by the server's export key.
    pub const RISK_CONFIG: &[u8] = b"en/v1/risk-config";
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn secrets_do_not_print() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let tek = TemporaryExposureKey::generate(&mut rng);
        let sk = SigningKey::generate(&mut rng);
        let seed_hex = crate::hex::encode(sk.to_seed().as_ref());
        let tek_hex = crate::hex::encode(tek.as_bytes());
        let printed = format!("{tek:?} {sk:?}");
        assert!(!printed.contains(&seed_hex[..16]), "{printed}");
        assert!(!printed.contains(&tek_hex[..16]), "{printed}");
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn contexts_separate_signatures() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let sk = SigningKey::generate(&mut rng);
        let sig = sk.sign(context::BATCH, b"m");
        let pk = sk.public_key();
        assert_eq!(pk.verify(context::BATCH, b"m", &sig), Ok(()));
        assert_eq!(
            pk.verify(context::INDEX, b"m", &sig),
            Err(VerifyError::BadSignature)
        );
    }
}
