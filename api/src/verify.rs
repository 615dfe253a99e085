//! Verification codes (spec/api.md, "Verification codes"): their formats, the JSON bodies of
//! `POST /v1/verify` and `POST /v1/certificate` (phones), and of the back-office API on the
//! admin listener.
//!
//! A code is either **short** (8 digits, read out on the phone) or **long** (16 characters of
//! Crockford's base32, sent as a link or printed as a QR code). People type codes, so
//! [`normalize_code`] forgives spaces, dashes, case and Crockford's look-alikes.
//!
//! Phone requests are padded to exactly [`PHONE_REQUEST_BYTES`] and answers to fixed sizes, so
//! that real and fake requests look the same on the wire ([`padded`]).

use serde::{Deserialize, Serialize};

/// Every `POST /v1/verify` and `POST /v1/certificate` body is padded to exactly this many
/// bytes (the server's `console.phone_request_bytes`).
pub const PHONE_REQUEST_BYTES: usize = 1024;
/// Every successful `POST /v1/verify` answer is exactly this long.
pub const VERIFY_ANSWER_BYTES: usize = 512;
/// Every successful `POST /v1/certificate` answer is exactly this long (a certificate is at
/// most 333 bytes, 444 in base64).
pub const CERTIFICATE_ANSWER_BYTES: usize = 640;

/// Digits of a short code.
pub const SHORT_CODE_DIGITS: usize = 8;
/// Characters of a long code (80 bits).
pub const LONG_CODE_LEN: usize = 16;
/// The alphabet of long codes: Crockford's base32, lower case (no i, l, o, u).
pub const LONG_CODE_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// The two kinds of code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CodeKind {
    /// 8 digits, for a phone call; valid 1 hour by default.
    Short,
    /// 16 characters, for a link, an SMS or print; valid 24 hours by default.
    Long,
}

impl CodeKind {
    /// The wire byte (in stored records).
    pub fn code(self) -> u8 {
        match self {
            CodeKind::Short => 1,
            CodeKind::Long => 2,
        }
    }
}

/// A code as a person typed it, in canonical form: digits for a short code, the lower-case
/// alphabet for a long one. `None` if it is neither.
pub fn normalize_code(typed: &str) -> Option<(CodeKind, String)> {
    let s: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if s.len() == SHORT_CODE_DIGITS && s.bytes().all(|c| c.is_ascii_digit()) {
        return Some((CodeKind::Short, s));
    }
    if s.chars().count() != LONG_CODE_LEN {
        return None;
    }
    let long: Option<String> = s
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => Some('1'),
            'o' => Some('0'),
            c if c.is_ascii() && LONG_CODE_ALPHABET.contains(&(c as u8)) => Some(c),
            _ => None,
        })
        .collect();
    long.map(|l| (CodeKind::Long, l))
}

/// A long code grouped in fours for people (`abcd-efgh-jkmn-pqrs`); [`normalize_code`] reads
/// it back.
pub fn group(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The link a long code is sent as: `{base}?a={authority}&c={code}`. Phone apps register the
/// base (an app link); `en-sim phone upload --code` accepts the link as it is.
pub fn code_link(base: &str, authority: &str, long_code: &str) -> String {
    format!("{base}?a={authority}&c={long_code}")
}

/// What a person gave as a code: a bare code, or a link that also names the authority.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeInput {
    /// The authority named by a link.
    pub authority: Option<String>,
    /// The code as given (not yet normalized).
    pub code: String,
}

impl std::fmt::Debug for CodeInput {
    // A code is a secret until it is used.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodeInput({:?}, <code>)", self.authority)
    }
}

/// Reads a code or a link made by [`code_link`] (parameters after `?` or `#`).
pub fn parse_code_input(s: &str) -> CodeInput {
    let s = s.trim();
    let Some((_, query)) = s.split_once(['?', '#']) else {
        return CodeInput {
            authority: None,
            code: s.to_string(),
        };
    };
    let mut out = CodeInput {
        authority: None,
        code: String::new(),
    };
    for pair in query.split(['&', '#']) {
        match pair.split_once('=') {
            Some(("a", v)) => out.authority = Some(v.to_string()),
            Some(("c", v)) => out.code = v.to_string(),
            _ => {}
        }
    }
    out
}

/// A test result as staff enter it (GAEN's verification server's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestType {
    /// A positive laboratory test (report type `confirmed`).
    Confirmed,
    /// A clinical diagnosis without a test (report type `clinical`).
    Likely,
    /// A negative test: keys are published as `revoked`, which phones ignore.
    Negative,
    /// A self-report (a home test, spec/self-report.md): only the self-report service issues
    /// it, never staff (not in [`TestType::ALL`]).
    #[serde(rename = "self-report")]
    SelfReport,
}

impl TestType {
    /// Every test type staff may issue codes for.
    pub const ALL: [TestType; 3] = [TestType::Confirmed, TestType::Likely, TestType::Negative];

    /// The report type its certificates carry.
    pub fn report_type(self) -> en_protocol::wire::ReportType {
        use en_protocol::wire::ReportType as R;
        match self {
            TestType::Confirmed => R::ConfirmedTest,
            TestType::Likely => R::ConfirmedClinicalDiagnosis,
            TestType::Negative => R::Revoked,
            TestType::SelfReport => R::SelfReport,
        }
    }

    /// The name in JSON and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            TestType::Confirmed => "confirmed",
            TestType::Likely => "likely",
            TestType::Negative => "negative",
            TestType::SelfReport => "self-report",
        }
    }

    /// Parses [`TestType::as_str`].
    pub fn parse(s: &str) -> Option<TestType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s.trim())
    }

    /// The wire byte (in stored records).
    pub fn code(self) -> u8 {
        match self {
            TestType::Confirmed => 1,
            TestType::Likely => 2,
            TestType::Negative => 3,
            TestType::SelfReport => 4,
        }
    }

    /// Parses [`TestType::code`].
    pub fn from_code(c: u8) -> Option<TestType> {
        Self::ALL
            .into_iter()
            .chain([TestType::SelfReport])
            .find(|t| t.code() == c)
    }
}

/// `POST /v1/verify`: a phone exchanges a code for a token.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The health authority that issued the code (the phone app's authority, or the link's).
    pub authority: String,
    /// The code as the patient typed it.
    pub code: String,
    /// A chaff request: answered like a real one, changes nothing.
    #[serde(default)]
    pub fake: bool,
    /// Filler that makes every request [`PHONE_REQUEST_BYTES`] long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<String>,
}

/// The answer to a redeemed code (padded to [`VERIFY_ANSWER_BYTES`]).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyAnswer {
    /// Single-use token for `POST /v1/certificate` (43 characters of base64url).
    pub token: String,
    /// When the token expires (Unix seconds).
    pub token_expires_at: u64,
    /// The test result the code was issued for.
    pub test_type: TestType,
    /// `YYYY-MM-DD`.
    pub test_date: String,
    /// `YYYY-MM-DD`, if the staff entered one.
    pub symptom_onset: Option<String>,
    /// Filler.
    pub padding: String,
}

impl std::fmt::Debug for VerifyAnswer {
    // The token is a secret until it is spent.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyAnswer")
            .field("token", &"<token>")
            .field("token_expires_at", &self.token_expires_at)
            .field("test_type", &self.test_type)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/certificate`: a phone exchanges a token and its tekmac for a certificate.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// The token from `POST /v1/verify`.
    pub token: String,
    /// The tekmac of the keys the phone will upload: 32 bytes, standard base64.
    pub tekmac: String,
    /// A chaff request: answered like a real one, changes nothing.
    #[serde(default)]
    pub fake: bool,
    /// Filler that makes every request [`PHONE_REQUEST_BYTES`] long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<String>,
}

/// The signed certificate (padded to [`CERTIFICATE_ANSWER_BYTES`]).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateAnswer {
    /// The certificate (wire-format §4), standard base64: `POST /v1/publish`'s `certificate`.
    pub certificate: String,
    /// Filler.
    pub padding: String,
}

/// One test result to issue a code for (back-office API and console).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestResult {
    /// The result.
    pub test_type: TestType,
    /// `YYYY-MM-DD` (UTC), not in the future, at most `max_test_age_days` ago.
    pub test_date: String,
    /// `YYYY-MM-DD`, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symptom_onset: Option<String>,
    /// Also issue a short code (for a phone call); long codes are always issued.
    #[serde(default)]
    pub short: bool,
}

/// `POST /console/api/v1/codes` (admin listener, with an API key): test results → codes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// 1 to `max_codes_per_request` results.
    pub tests: Vec<TestResult>,
}

/// The codes of one test result. Shown once: the server keeps only keyed hashes.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuedCode {
    /// The short code, if one was asked for.
    pub short_code: Option<String>,
    /// When the short code expires (Unix seconds).
    pub short_expires_at: Option<u64>,
    /// The long code.
    pub long_code: String,
    /// When the long code expires (Unix seconds).
    pub long_expires_at: u64,
    /// The long code as a link ([`code_link`]).
    pub link: String,
}

impl std::fmt::Debug for IssuedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedCode(<codes>)")
    }
}

/// The answer of the back-office API, in the order of the request's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueAnswer {
    /// One per test result.
    pub codes: Vec<IssuedCode>,
}

/// `value` serialized with its `padding` field filled with `=` so that the JSON is exactly
/// `size` bytes; `None` if it does not fit. `size` 0: unpadded.
pub fn padded<T: Serialize>(value: &T, size: usize) -> Option<Vec<u8>> {
    let mut v = serde_json::to_value(value).expect("API bodies serialize");
    if size == 0 {
        return Some(serde_json::to_vec(&v).expect("serializes"));
    }
    v["padding"] = serde_json::Value::String(String::new());
    let base = serde_json::to_vec(&v).expect("serializes").len();
    v["padding"] = serde_json::Value::String("=".repeat(size.checked_sub(base)?));
    let out = serde_json::to_vec(&v).expect("serializes");
    debug_assert_eq!(out.len(), size);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_normalized_as_people_type_them() {
        assert_eq!(
            normalize_code(" 1234 5678 "),
            Some((CodeKind::Short, "12345678".into()))
        );
        assert_eq!(
            normalize_code("ABCD-EFGH-JKMN-PQRS"),
            Some((CodeKind::Long, "abcdefghjkmnpqrs".into()))
        );
        assert_eq!(
            normalize_code("oIl0-0000-0000-0000"),
            Some((CodeKind::Long, "0110000000000000".into()))
        );
        for bad in [
            "1234567",
            "123456789",
            "abcd-efgh-jkmn-pqru",
            "",
            "é234-5678-9abc-defg",
        ] {
            assert_eq!(normalize_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn links_carry_the_authority_and_the_code() {
        let link = code_link("en-verify://v", "moh.vn", "abcdefghjkmnpqrs");
        let i = parse_code_input(&link);
        assert_eq!(i.authority.as_deref(), Some("moh.vn"));
        assert_eq!(i.code, "abcdefghjkmnpqrs");
        let bare = parse_code_input(" 12345678 ");
        assert_eq!((bare.authority, bare.code.as_str()), (None, "12345678"));
        assert_eq!(group("abcdefghjkmnpqrs"), "abcd-efgh-jkmn-pqrs");
    }

    #[test]
    fn the_largest_answers_fit_their_fixed_sizes() {
        let verify = VerifyAnswer {
            token: "a".repeat(43),
            token_expires_at: u64::MAX,
            test_type: TestType::Negative,
            test_date: "2026-11-23".into(),
            symptom_onset: Some("2026-11-20".into()),
            padding: String::new(),
        };
        assert_eq!(
            padded(&verify, VERIFY_ANSWER_BYTES).map(|b| b.len()),
            Some(VERIFY_ANSWER_BYTES)
        );
        let cert = CertificateAnswer {
            certificate: "A".repeat(444),
            padding: String::new(),
        };
        assert_eq!(
            padded(&cert, CERTIFICATE_ANSWER_BYTES).map(|b| b.len()),
            Some(CERTIFICATE_ANSWER_BYTES)
        );
        let request = VerifyRequest {
            authority: "a".repeat(64),
            code: "x".repeat(200),
            fake: false,
            padding: None,
        };
        assert!(padded(&request, PHONE_REQUEST_BYTES).is_some());
        let request = CertificateRequest {
            token: "a".repeat(43),
            tekmac: "b".repeat(44),
            fake: true,
            padding: None,
        };
        assert!(padded(&request, PHONE_REQUEST_BYTES).is_some());
    }
}
