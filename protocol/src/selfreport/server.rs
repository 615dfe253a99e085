//! The server's side: evaluate a blinded element with a proof, and verify a redeemed token.

use std::fmt;

use rand_core::CryptoRngCore;
use subtle::ConstantTimeEq;
use voprf::VoprfServer;

use super::{
    exact, BlindedElement, Evaluation, SelfReportError, SelfReportPublicKey, Suite, Token,
    SECRET_KEY_LEN,
};

/// The server's VOPRF secret key. No `Copy`, a redacted `Debug`; the library zeroizes the
/// scalar on drop.
pub struct SelfReportKey(VoprfServer<Suite>);

impl fmt::Debug for SelfReportKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SelfReportKey(<redacted>, public={:?})",
            self.public_key()
        )
    }
}

impl SelfReportKey {
    /// A new key from `rng`.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        loop {
            let mut b = zeroize::Zeroizing::new([0u8; SECRET_KEY_LEN]);
            rng.fill_bytes(&mut b[..]);
            // Rejection sampling: a uniform value below 2^253 is a canonical non-zero scalar
            // (below the group order, about 2^252) about half the time; uniform if accepted.
            b[31] &= 0x1f;
            if let Ok(k) = Self::from_slice(&b[..]) {
                return k;
            }
        }
    }

    /// The key derived from a 32-byte secret `seed` (RFC 9497 §3.2.1 `DeriveKeyPair`, empty
    /// info): the server keeps the seed in its data directory.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SelfReportKey(
            VoprfServer::<Suite>::new_from_seed(seed, b"")
                .expect("a 32-byte seed derives a key (failure has probability 2^-255)"),
        )
    }

    /// Decodes [`SECRET_KEY_LEN`] bytes: a canonical, non-zero scalar (little endian).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SelfReportError> {
        let b: [u8; SECRET_KEY_LEN] = exact(bytes, "secret key")?;
        VoprfServer::<Suite>::new_with_key(&b)
            .map(SelfReportKey)
            .map_err(|_| SelfReportError::InvalidScalar("secret key"))
    }

    /// The encoding (secret).
    pub fn to_bytes(&self) -> zeroize::Zeroizing<[u8; SECRET_KEY_LEN]> {
        // The library's serialization is sk ‖ pk.
        let all = zeroize::Zeroizing::new(self.0.serialize());
        let mut sk = zeroize::Zeroizing::new([0u8; SECRET_KEY_LEN]);
        sk.copy_from_slice(&all[..SECRET_KEY_LEN]);
        sk
    }

    /// The public key phones check proofs against.
    pub fn public_key(&self) -> SelfReportPublicKey {
        SelfReportPublicKey(self.0.get_public_key())
    }

    /// Evaluates `blinded` with a DLEQ proof (randomized by `rng`).
    pub fn evaluate(&self, rng: &mut impl CryptoRngCore, blinded: &BlindedElement) -> Evaluation {
        let r = self.0.blind_evaluate(rng, &blinded.0);
        Evaluation {
            element: r.message,
            proof: r.proof,
        }
    }

    /// Checks that `token`'s output is this key's evaluation of its input (constant-time
    /// comparison of the outputs).
    pub fn verify(&self, token: &Token) -> Result<(), SelfReportError> {
        let want = self
            .0
            .evaluate(&token.input.0)
            .map_err(|_| SelfReportError::BadToken)?;
        if bool::from(want.as_slice().ct_eq(&token.output[..])) {
            Ok(())
        } else {
            Err(SelfReportError::BadToken)
        }
    }
}
