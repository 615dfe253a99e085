//! JSON bodies of the self-report endpoints (`spec/self-report.md`, `spec/api.md`): a test-kit
//! code and a blinded element for a VOPRF evaluation, and a token for a verification code.
//! Every binary field is standard base64 of a fixed length; [`decode_b64`] is strict.

use base64::Engine;
use serde::{Deserialize, Serialize};

/// The VOPRF suite named in [`SelfReportKeyAnswer::suite`] (RFC 9497 §4.1, VOPRF mode).
pub const SUITE: &str = "ristretto255-SHA512";

/// `GET /v1/self-report/key`: the public key phones check evaluation proofs against.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfReportKeyAnswer {
    /// Always [`SUITE`].
    pub suite: String,
    /// The 32-byte ristretto255 public key, standard base64.
    pub public_key: String,
}

/// `POST /v1/self-report/tokens`: a test-kit code (spent) and a blinded element.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The kit code as printed (dashes and spaces are ignored, case-insensitive).
    pub kit_code: String,
    /// The 32-byte blinded element, standard base64.
    pub blinded: String,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("kit_code", &"<redacted>")
            .field("blinded", &self.blinded)
            .finish()
    }
}

/// The answer to a token request: the evaluated element and its DLEQ proof.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenAnswer {
    /// The 32-byte evaluated element, standard base64.
    pub evaluated: String,
    /// The 64-byte proof (c ‖ s), standard base64.
    pub proof: String,
}

/// `POST /v1/self-report/redeem`: a finalized token (spent).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    /// The 32-byte token input, standard base64.
    pub input: String,
    /// The 64-byte VOPRF output, standard base64.
    pub output: String,
}

impl std::fmt::Debug for RedeemRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedeemRequest(<redacted>)")
    }
}

/// The answer to a redeemed token: a long verification code of type self-report for the
/// self-report authority, redeemed through `POST /v1/verify` as any other.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemAnswer {
    /// The self-report authority's id.
    pub authority: String,
    /// The verification code.
    pub code: String,
    /// When the code expires (Unix seconds).
    pub expires_at: u64,
}

impl std::fmt::Debug for RedeemAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedeemAnswer")
            .field("authority", &self.authority)
            .field("code", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Standard base64 (padded, canonical) of exactly `len` bytes; `None` otherwise.
pub fn decode_b64(s: &str, len: usize) -> Option<Vec<u8>> {
    let b = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    (b.len() == len).then_some(b)
}

/// Standard base64.
pub fn encode_b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_fields_are_exact_length_and_canonical() {
        let s = encode_b64(&[7u8; 32]);
        assert_eq!(decode_b64(&s, 32), Some(vec![7u8; 32]));
        assert_eq!(decode_b64(&s, 31), None);
        assert_eq!(decode_b64(&s[..s.len() - 1], 32), None);
        // A non-canonical last character (trailing bits set) is refused.
        let mut bad = encode_b64(&[0u8; 32]);
        bad.replace_range(42..43, "B");
        assert_eq!(decode_b64(&bad, 32), None);
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let r = RedeemRequest {
            input: "SECRETIN".into(),
            output: "SECRETOUT".into(),
        };
        assert!(!format!("{r:?}").contains("SECRET"));
        let t = TokenRequest {
            kit_code: "KITSECRET".into(),
            blinded: "b".into(),
        };
        assert!(!format!("{t:?}").contains("KITSECRET"));
    }
}
