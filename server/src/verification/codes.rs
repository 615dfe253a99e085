//! Drawing codes and tokens, their keyed hashes, and the rules of the claims staff enter.

use base64::Engine;
use en_api::date::Day;
use en_api::verify::{CodeKind, TestResult, LONG_CODE_ALPHABET, LONG_CODE_LEN};
use en_protocol::UnixTime;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::store::codes::{Claims, Hash};

/// The secret (`codes.key`) that keys every hash of a code, token, API key or session.
pub struct Hasher(Zeroizing<[u8; 32]>);

impl Hasher {
    /// A hasher keyed with `secret`.
    pub fn new(secret: [u8; 32]) -> Self {
        Hasher(Zeroizing::new(secret))
    }

    /// HMAC-SHA256 of `label` and the length-prefixed `parts`.
    fn mac(&self, label: &[u8], parts: &[&[u8]]) -> Hash {
        let mut m = <Hmac<Sha256>>::new_from_slice(self.0.as_slice()).expect("any key length");
        m.update(label);
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// The hash of a normalized code of `authority`: codes live in each authority's own space.
    pub fn code(&self, authority: &str, kind: CodeKind, code: &str) -> Hash {
        self.mac(
            b"en/v1/code",
            &[authority.as_bytes(), &[kind.code()], code.as_bytes()],
        )
    }

    /// The hash of a normalized test-kit code (spec/self-report.md).
    pub fn kit(&self, code: &str) -> Hash {
        self.mac(b"en/v1/kit-code", &[code.as_bytes()])
    }

    /// The hash of a redeemed self-report token's input (the used set).
    pub fn self_report_input(&self, input: &[u8; 32]) -> Hash {
        self.mac(b"en/v1/self-report-input", &[input])
    }

    /// The hash of a token's 32 bytes.
    pub fn token(&self, token: &[u8; 32]) -> Hash {
        self.mac(b"en/v1/token", &[token])
    }

    /// The hash of an API key, hex (as the accounts file stores it).
    pub fn api_key(&self, key: &str) -> String {
        en_protocol::hex::encode(&self.mac(b"en/v1/api-key", &[key.as_bytes()]))
    }

    /// The hash of a session id (the session table's key).
    pub fn session(&self, id: &[u8; 32]) -> Hash {
        self.mac(b"en/v1/session", &[id])
    }
}

/// A random short code: 8 decimal digits, uniform over 10⁸.
pub fn short_code(rng: &mut impl Rng) -> Zeroizing<String> {
    Zeroizing::new(format!("{:08}", rng.gen_range(0..100_000_000u32)))
}

/// A random long code: 16 characters of Crockford's base32, uniform over 2⁸⁰.
pub fn long_code(rng: &mut impl Rng) -> Zeroizing<String> {
    Zeroizing::new(
        (0..LONG_CODE_LEN)
            .map(|_| LONG_CODE_ALPHABET[rng.gen_range(0..LONG_CODE_ALPHABET.len())] as char)
            .collect(),
    )
}

/// A random token and its text (43 characters of unpadded base64url).
pub fn token(rng: &mut impl Rng) -> ([u8; 32], Zeroizing<String>) {
    let t: [u8; 32] = rng.gen();
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t);
    (t, Zeroizing::new(text))
}

/// Reads a token's text back; `None` if it is not one.
pub fn parse_token(text: &str) -> Option<[u8; 32]> {
    if text.len() != 43 {
        return None;
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?
        .try_into()
        .ok()
}

/// Which date of a test result is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    /// The test date.
    TestDate,
    /// The symptom onset.
    SymptomOnset,
}

/// What is wrong with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateProblem {
    /// Not `YYYY-MM-DD`.
    NotADate,
    /// After tomorrow.
    Future,
    /// Older than `max_test_age_days`.
    TooOld,
}

/// A test result that cannot be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {} {}", match .field { DateField::TestDate => "test date", DateField::SymptomOnset => "symptom onset" },
    match .problem { DateProblem::NotADate => "is not a date (YYYY-MM-DD)", DateProblem::Future => "is in the future", DateProblem::TooOld => "is too long ago" })]
pub struct ClaimError {
    /// Which date.
    pub field: DateField,
    /// What is wrong.
    pub problem: DateProblem,
}

/// Checks a test result entered for `authority` at `now`: dates are `YYYY-MM-DD`, not after
/// tomorrow (UTC; staff east of Greenwich are a day ahead) and at most `max_age_days` old.
pub fn claims(
    authority: &str,
    t: &TestResult,
    now: UnixTime,
    max_age_days: u64,
) -> Result<Claims, ClaimError> {
    let today = Day::of_unix(now.0);
    let oldest = Day(today
        .0
        .saturating_sub(u32::try_from(max_age_days).unwrap_or(u32::MAX)));
    let day = |field: DateField, s: &str| -> Result<Day, ClaimError> {
        let bad = |problem| ClaimError { field, problem };
        let d = Day::parse(s.trim()).ok_or(bad(DateProblem::NotADate))?;
        if d.0 > today.0 + 1 {
            return Err(bad(DateProblem::Future));
        }
        if d < oldest {
            return Err(bad(DateProblem::TooOld));
        }
        Ok(d)
    };
    let test_date = day(DateField::TestDate, &t.test_date)?;
    let symptom_onset = t
        .symptom_onset
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| day(DateField::SymptomOnset, s))
        .transpose()?;
    Ok(Claims {
        authority: authority.to_string(),
        test_type: t.test_type,
        test_date,
        symptom_onset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use en_api::verify::{normalize_code, TestType};

    #[test]
    fn drawn_codes_are_what_people_type() {
        let mut rng = rand::rngs::OsRng;
        for _ in 0..100 {
            let s = short_code(&mut rng);
            assert_eq!(normalize_code(&s), Some((CodeKind::Short, s.to_string())));
            let l = long_code(&mut rng);
            assert_eq!(normalize_code(&l), Some((CodeKind::Long, l.to_string())));
            let (t, text) = token(&mut rng);
            assert_eq!(parse_token(&text), Some(t));
        }
        assert_eq!(parse_token("too short"), None);
    }

    #[test]
    fn hashes_are_per_authority_and_kind() {
        let h = Hasher::new([1; 32]);
        let a = h.code("moh.vn", CodeKind::Short, "12345678");
        assert_ne!(a, h.code("hcm.vn", CodeKind::Short, "12345678"));
        assert_ne!(
            a,
            Hasher::new([2; 32]).code("moh.vn", CodeKind::Short, "12345678")
        );
    }

    #[test]
    fn dates_must_be_recent_and_real() {
        let now = UnixTime(u64::from(Day::parse("2026-11-23").unwrap().0) * 86_400 + 3600);
        let t = |date: &str, onset: Option<&str>| TestResult {
            test_type: TestType::Confirmed,
            test_date: date.into(),
            symptom_onset: onset.map(Into::into),
            short: false,
        };
        let c = claims("moh.vn", &t("2026-11-22", Some("2026-11-20")), now, 28).unwrap();
        assert_eq!(c.symptom_onset.unwrap().to_string(), "2026-11-20");
        assert!(claims("moh.vn", &t("2026-11-24", Some("")), now, 28).is_ok());
        for (d, o) in [
            ("2026-11-25", None),
            ("2026-10-25", None),
            ("2026-11-22", Some("2026-12-01")),
            ("22/11/2026", None),
        ] {
            assert!(claims("moh.vn", &t(d, o), now, 28).is_err(), "{d} {o:?}");
        }
    }
}
