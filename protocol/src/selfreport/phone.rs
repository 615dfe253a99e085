//! The phone's side: blind a fresh random input, then check the server's proof and unblind.

use std::fmt;

use rand_core::CryptoRngCore;
use voprf::VoprfClient;

use super::{
    exact, BlindedElement, Evaluation, SelfReportError, SelfReportPublicKey, Suite, Token,
    TokenInput, ELEMENT_LEN, INPUT_LEN, SECRET_KEY_LEN,
};

/// Bytes of [`Pending::to_bytes`]: input ‖ blind ‖ blinded element.
pub const PENDING_LEN: usize = INPUT_LEN + SECRET_KEY_LEN + ELEMENT_LEN;

/// What the phone keeps between sending a blinded element and receiving its evaluation: the
/// input and the blind. Secret (the blind links the request to the token): a redacted `Debug`.
pub struct Pending {
    input: TokenInput,
    client: VoprfClient<Suite>,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pending(<redacted>)")
    }
}

/// Draws a random input from `rng` and blinds it: the state to keep and the element to send.
pub fn blind(rng: &mut impl CryptoRngCore) -> (Pending, BlindedElement) {
    let mut input = [0u8; INPUT_LEN];
    rng.fill_bytes(&mut input);
    blind_input(TokenInput(input), rng)
}

/// Blinds a given `input` (tests and vectors; phones use [`blind`]).
pub fn blind_input(input: TokenInput, rng: &mut impl CryptoRngCore) -> (Pending, BlindedElement) {
    let r = VoprfClient::<Suite>::blind(&input.0, rng)
        .expect("a 32-byte input is within the VOPRF's input bounds");
    (
        Pending {
            input,
            client: r.state,
        },
        BlindedElement(r.message),
    )
}

impl Pending {
    /// Checks `evaluation`'s proof against `key` and unblinds it into a [`Token`]. A proof
    /// that does not verify (another key, a forged or damaged answer) is refused with
    /// [`SelfReportError::BadProof`].
    pub fn finalize(
        &self,
        evaluation: &Evaluation,
        key: &SelfReportPublicKey,
    ) -> Result<Token, SelfReportError> {
        let out = self
            .client
            .finalize(&self.input.0, &evaluation.element, &evaluation.proof, key.0)
            .map_err(|_| SelfReportError::BadProof)?;
        Ok(Token {
            input: self.input.clone(),
            output: out.into(),
        })
    }

    /// The stored form (secret): input ‖ blind ‖ blinded element.
    pub fn to_bytes(&self) -> [u8; PENDING_LEN] {
        let mut b = [0u8; PENDING_LEN];
        b[..INPUT_LEN].copy_from_slice(&self.input.0);
        b[INPUT_LEN..].copy_from_slice(&self.client.serialize());
        b
    }

    /// Decodes [`Pending::to_bytes`] strictly.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SelfReportError> {
        let b: [u8; PENDING_LEN] = exact(bytes, "pending state")?;
        let client = VoprfClient::<Suite>::deserialize(&b[INPUT_LEN..])
            .map_err(|_| SelfReportError::InvalidScalar("pending state"))?;
        Ok(Pending {
            input: TokenInput::from_slice(&b[..INPUT_LEN])?,
            client,
        })
    }
}
