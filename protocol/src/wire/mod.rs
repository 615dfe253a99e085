//! Wire formats: one file per format, each with an encoder and a strict, canonical decoder.
//!
//! Common rules (spec/wire-format.md §1): integers are big-endian; every message opens with a
//! 4-byte magic and a 1-byte version; every length is bounded before anything is allocated;
//! trailing bytes, unknown versions and non-canonical encodings are rejected, so that
//! `encode(decode(x)) == x` for every accepted `x`.

pub mod batch;
pub mod case_report;
pub mod certificate;
pub mod chain;
pub mod config;
pub mod index;
pub mod key;
pub mod revision;

use crate::error::DecodeError;

/// The current version of every format.
pub const VERSION: u8 = 1;

/// A bounds-checked cursor over input bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated(what));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    /// Checks the magic and version that open every message.
    pub(crate) fn header(
        &mut self,
        magic: &[u8; 4],
        name: &'static str,
    ) -> Result<(), DecodeError> {
        if &self.array::<4>("magic")? != magic {
            return Err(DecodeError::BadMagic(name));
        }
        match self.u8("version")? {
            VERSION => Ok(()),
            v => Err(DecodeError::UnsupportedVersion(v)),
        }
    }
    /// A length-prefixed (u8) ASCII string whose bytes all satisfy `allowed`.
    pub(crate) fn short_str(
        &mut self,
        what: &'static str,
        max: usize,
        allowed: fn(u8) -> bool,
    ) -> Result<String, DecodeError> {
        let n = usize::from(self.u8(what)?);
        if n == 0 || n > max {
            return Err(DecodeError::OutOfRange(what));
        }
        let s = self.take(n, what)?;
        if !s.iter().all(|&c| allowed(c)) {
            return Err(DecodeError::OutOfRange(what));
        }
        Ok(String::from_utf8(s.to_vec()).expect("ASCII checked above"))
    }
    /// Rejects anything after the message.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Appends a u8-length-prefixed string (callers guarantee the length bound).
pub(crate) fn put_short_str(out: &mut Vec<u8>, s: &str) {
    out.push(u8::try_from(s.len()).expect("short strings are validated to fit a u8 length"));
    out.extend_from_slice(s.as_bytes());
}

/// Writes the magic and version.
pub(crate) fn put_header(out: &mut Vec<u8>, magic: &[u8; 4]) {
    out.extend_from_slice(magic);
    out.push(VERSION);
}

macro_rules! bounded_string {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;
            /// Checks the value against the format's character set and length.
            pub fn new(s: &str) -> Result<Self, DecodeError> {
                let ok: fn(u8) -> bool = $allowed;
                if s.is_empty() || s.len() > Self::MAX_LEN || !s.bytes().all(ok) {
                    return Err(DecodeError::OutOfRange($what));
                }
                Ok($name(s.to_owned()))
            }
            /// The string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.short_str($what, Self::MAX_LEN, $allowed).map($name)
            }
            pub(crate) fn write(&self, out: &mut Vec<u8>) {
                put_short_str(out, &self.0)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

bounded_string!(
    /// A health authority's identifier: 1–64 of `a-z 0-9 . _ -`.
    AuthorityId, "authority id", 64,
    |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
);
bounded_string!(
    /// A region code: 1–16 of `A-Z 0-9 -` (e.g. `VN`, `VN-KG`).
    Region, "region", 16,
    |c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'-'
);
bounded_string!(
    /// The server a certificate is valid for: 1–128 printable ASCII characters, no spaces.
    Audience, "audience", 128,
    |c| c.is_ascii_graphic()
);

/// How a case was established. Numbering follows GAEN's export `ReportType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ReportType {
    /// A positive laboratory test.
    ConfirmedTest = 1,
    /// A clinician's diagnosis without a test.
    ConfirmedClinicalDiagnosis = 2,
    /// Self-reported symptoms, not confirmed by an authority.
    SelfReport = 3,
    /// Withdraws keys previously published with another type.
    Revoked = 5,
}

impl ReportType {
    /// All report types, in code order.
    pub const ALL: [ReportType; 4] = [
        Self::ConfirmedTest,
        Self::ConfirmedClinicalDiagnosis,
        Self::SelfReport,
        Self::Revoked,
    ];

    /// Parses the wire code.
    pub fn from_code(c: u8) -> Result<Self, DecodeError> {
        Self::ALL
            .into_iter()
            .find(|t| *t as u8 == c)
            .ok_or(DecodeError::OutOfRange("report type"))
    }
    /// The wire code.
    pub fn code(self) -> u8 {
        self as u8
    }
    /// The name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::ConfirmedTest => "confirmed",
            Self::ConfirmedClinicalDiagnosis => "clinical",
            Self::SelfReport => "self-report",
            Self::Revoked => "revoked",
        }
    }
    /// Parses [`ReportType::name`].
    /// `likely` (the name for a clinical diagnosis) is accepted as an alias.
    pub fn from_name(s: &str) -> Option<Self> {
        if s == "likely" {
            return Some(Self::ConfirmedClinicalDiagnosis);
        }
        Self::ALL.into_iter().find(|t| t.name() == s)
    }
    /// Transmission risk GAEN backfills when the uploader sent 0.
    pub fn default_transmission_risk(self) -> u8 {
        match self {
            Self::ConfirmedTest => 2,
            Self::ConfirmedClinicalDiagnosis => 4,
            Self::SelfReport => 5,
            Self::Revoked => 6,
        }
    }
}

pub(crate) fn read_opt_interval(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<Option<crate::IntervalNumber>, DecodeError> {
    match r.u8(what)? {
        0 => {
            if r.u32(what)? != 0 {
                return Err(DecodeError::NonCanonical(
                    "absent interval must be encoded as zero",
                ));
            }
            Ok(None)
        }
        1 => Ok(Some(crate::IntervalNumber(r.u32(what)?))),
        _ => Err(DecodeError::OutOfRange(what)),
    }
}

pub(crate) fn put_opt_interval(out: &mut Vec<u8>, v: Option<crate::IntervalNumber>) {
    match v {
        None => {
            out.push(0);
            out.extend_from_slice(&0u32.to_be_bytes());
        }
        Some(i) => {
            out.push(1);
            out.extend_from_slice(&i.0.to_be_bytes());
        }
    }
}

/// Splits `bytes` into the signed part and the trailing 64-byte signature.
pub(crate) fn split_signature<'a>(
    bytes: &'a [u8],
    what: &'static str,
) -> Result<(&'a [u8], [u8; 64]), DecodeError> {
    if bytes.len() < 64 {
        return Err(DecodeError::Truncated(what));
    }
    let (body, sig) = bytes.split_at(bytes.len() - 64);
    Ok((body, sig.try_into().expect("64 bytes")))
}
