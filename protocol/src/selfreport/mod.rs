//! Self-report tokens: a verifiable oblivious pseudorandom function (VOPRF, RFC 9497, suite
//! `ristretto255-SHA512`, mode 0x01) turns a one-time test-kit code into a token the server
//! cannot link to the kit code, which the phone later redeems for a verification code of type
//! self-report (`spec/self-report.md`).
//!
//! - The phone draws a random 32-byte [`TokenInput`], blinds it ([`phone::blind`]) and sends
//!   the [`BlindedElement`] with its kit code.
//! - The server evaluates it with its [`server::SelfReportKey`] and proves (DLEQ) that it used
//!   the key whose [`SelfReportPublicKey`] it publishes: an [`Evaluation`].
//! - The phone checks the proof against the public key it fetched and unblinds: a [`Token`]
//!   (input ‖ output). It keeps the token, and redeems it later; the server re-evaluates the
//!   input and compares the outputs in constant time.
//!
//! Every decoder is strict: exact lengths, canonical ristretto255 encodings, no identity
//! point, canonical non-zero scalars. Nothing here does IO, reads a clock or draws OS
//! randomness: an RNG is an argument.

pub mod phone;
pub mod server;

use std::fmt;

use voprf::Ristretto255;

/// The VOPRF cipher suite (RFC 9497 §4.1: ristretto255 with SHA-512).
pub type Suite = Ristretto255;

/// Bytes of a token input (drawn by the phone).
pub const INPUT_LEN: usize = 32;
/// Bytes of an encoded ristretto255 element (blinded element, evaluation, public key).
pub const ELEMENT_LEN: usize = 32;
/// Bytes of a DLEQ proof (two scalars c ‖ s).
pub const PROOF_LEN: usize = 64;
/// Bytes of a VOPRF output (SHA-512).
pub const OUTPUT_LEN: usize = 64;
/// Bytes of an encoded secret key (a canonical, non-zero scalar).
pub const SECRET_KEY_LEN: usize = 32;

/// Why self-report bytes were refused. [`SelfReportError::code`] is stable (test vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelfReportError {
    /// A field has the wrong length.
    #[error("{0}: wrong length")]
    Length(&'static str),
    /// Not a canonical encoding of a non-identity ristretto255 element.
    #[error("{0}: not a valid ristretto255 element")]
    InvalidPoint(&'static str),
    /// Not a canonical, non-zero scalar.
    #[error("{0}: not a canonical non-zero scalar")]
    InvalidScalar(&'static str),
    /// The server's proof does not verify for this public key (a wrong key, or a forged or
    /// damaged answer): the phone refuses the token.
    #[error("the evaluation proof does not verify for the published key")]
    BadProof,
    /// The token's output is not the server's evaluation of its input (a forged token, or one
    /// issued under another key).
    #[error("the token does not verify")]
    BadToken,
}

impl SelfReportError {
    /// A stable code for test vectors and logs.
    pub fn code(&self) -> &'static str {
        match self {
            SelfReportError::Length(_) => "wrong_length",
            SelfReportError::InvalidPoint(_) => "invalid_point",
            SelfReportError::InvalidScalar(_) => "invalid_scalar",
            SelfReportError::BadProof => "bad_proof",
            SelfReportError::BadToken => "bad_token",
        }
    }
}

fn exact<const N: usize>(bytes: &[u8], what: &'static str) -> Result<[u8; N], SelfReportError> {
    bytes.try_into().map_err(|_| SelfReportError::Length(what))
}

/// A phone's random token input: the value it later reveals at redemption.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenInput(pub(crate) [u8; INPUT_LEN]);

impl TokenInput {
    /// Decodes exactly [`INPUT_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SelfReportError> {
        exact(bytes, "input").map(TokenInput)
    }
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; INPUT_LEN] {
        &self.0
    }
}

impl fmt::Debug for TokenInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenInput(<redacted>)")
    }
}

/// A blinded element the phone sends with its kit code: uniformly distributed in the group,
/// whatever the input (the blind is a uniformly random non-zero scalar).
#[derive(Clone, PartialEq, Eq)]
pub struct BlindedElement(pub(crate) voprf::BlindedElement<Suite>);

impl BlindedElement {
    /// Decodes exactly [`ELEMENT_LEN`] bytes: a canonical, non-identity ristretto255 element.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SelfReportError> {
        let b: [u8; ELEMENT_LEN] = exact(bytes, "blinded element")?;
        voprf::BlindedElement::deserialize(&b)
            .map(BlindedElement)
            .map_err(|_| SelfReportError::InvalidPoint("blinded element"))
    }
    /// The encoding.
    pub fn to_bytes(&self) -> [u8; ELEMENT_LEN] {
        self.0.serialize().into()
    }
}

impl fmt::Debug for BlindedElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BlindedElement({})",
            crate::hex::encode(&self.to_bytes())
        )
    }
}

/// The server's answer to a blinded element: the evaluated element and a DLEQ proof that it
/// was computed with the key of the published [`SelfReportPublicKey`].
#[derive(Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub(crate) element: voprf::EvaluationElement<Suite>,
    pub(crate) proof: voprf::Proof<Suite>,
}

impl Evaluation {
    /// Decodes the evaluated element ([`ELEMENT_LEN`] bytes) and the proof ([`PROOF_LEN`]
    /// bytes: canonical non-zero scalars c ‖ s).
    pub fn from_slices(element: &[u8], proof: &[u8]) -> Result<Self, SelfReportError> {
        let e: [u8; ELEMENT_LEN] = exact(element, "evaluated element")?;
        let p: [u8; PROOF_LEN] = exact(proof, "proof")?;
        Ok(Evaluation {
            element: voprf::EvaluationElement::deserialize(&e)
                .map_err(|_| SelfReportError::InvalidPoint("evaluated element"))?,
            proof: voprf::Proof::deserialize(&p)
                .map_err(|_| SelfReportError::InvalidScalar("proof"))?,
        })
    }
    /// The evaluated element's encoding.
    pub fn element_bytes(&self) -> [u8; ELEMENT_LEN] {
        self.element.serialize().into()
    }
    /// The proof's encoding.
    pub fn proof_bytes(&self) -> [u8; PROOF_LEN] {
        self.proof.serialize().into()
    }
}

impl fmt::Debug for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Evaluation({})",
            crate::hex::encode(&self.element_bytes())
        )
    }
}

/// The server's self-report public key (a ristretto255 element), published so that phones
/// can check the proof of every evaluation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SelfReportPublicKey(pub(crate) Point);

/// The suite's group element.
type Point = <Suite as voprf::Group>::Elem;

impl SelfReportPublicKey {
    /// Decodes exactly [`ELEMENT_LEN`] bytes: a canonical, non-identity element.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SelfReportError> {
        let b: [u8; ELEMENT_LEN] = exact(bytes, "public key")?;
        <Suite as voprf::Group>::deserialize_elem(&b)
            .map(SelfReportPublicKey)
            .map_err(|_| SelfReportError::InvalidPoint("public key"))
    }
    /// The encoding.
    pub fn to_bytes(&self) -> [u8; ELEMENT_LEN] {
        <Suite as voprf::Group>::serialize_elem(self.0).into()
    }
}

impl fmt::Debug for SelfReportPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SelfReportPublicKey({})",
            crate::hex::encode(&self.to_bytes())
        )
    }
}

/// A finalized token: the input and the VOPRF output, redeemed once for a verification code.
/// A bearer secret until redeemed: a redacted `Debug`, zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The input the phone drew.
    pub input: TokenInput,
    /// The VOPRF output for `input` under the server's key.
    pub output: [u8; OUTPUT_LEN],
}

impl Token {
    /// Decodes an input ([`INPUT_LEN`] bytes) and an output ([`OUTPUT_LEN`] bytes).
    pub fn from_slices(input: &[u8], output: &[u8]) -> Result<Self, SelfReportError> {
        Ok(Token {
            input: TokenInput::from_slice(input)?,
            output: exact(output, "output")?,
        })
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.input.0);
        zeroize::Zeroize::zeroize(&mut self.output);
    }
}
