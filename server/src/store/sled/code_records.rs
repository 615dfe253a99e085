//! The records of the code trees (see [`super::codes`]), strictly decoded.
//!
//! ```text
//! claims := authority_len u8 ‖ authority ‖ test_type u8 ‖ test_date u32 ‖ onset_flag u8 ‖ onset u32
//! issue  := claims ‖ used u8 ‖ short_expiry u64 (0: none) ‖ short_hash 32 ‖ long_expiry u64 ‖ long_hash 32
//! code   := issue_id 16 ‖ expiry u64
//! token  := claims ‖ used u8 ‖ expiry u64
//! stats  := issued u64 ‖ claimed u64 ‖ expired u64 ‖ certificates u64 ‖ keys u64
//! audit  := at u64 ‖ action u8 ‖ count u64 ‖ authority_len u8 ‖ authority ‖ actor_len u8 ‖ actor
//! ```
//! Integers are big-endian. No record holds a code, a token or anything about a person.

use en_api::date::Day;
use en_api::verify::TestType;
use en_protocol::UnixTime;

use crate::store::codes::{AuditAction, AuditEntry, Claims, DayStats, Hash};

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        (self.0.len() >= n).then(|| {
            let (a, b) = self.0.split_at(n);
            self.0 = b;
            a
        })
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn hash(&mut self) -> Option<Hash> {
        self.take(32)?.try_into().ok()
    }
    fn text(&mut self) -> Option<String> {
        let n = usize::from(self.u8()?);
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn end<T>(&self, v: T) -> Option<T> {
        self.0.is_empty().then_some(v)
    }
}

fn put_text(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(255)];
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

fn put_claims(out: &mut Vec<u8>, c: &Claims) {
    put_text(out, &c.authority);
    out.push(c.test_type.code());
    out.extend_from_slice(&c.test_date.0.to_be_bytes());
    out.push(u8::from(c.symptom_onset.is_some()));
    out.extend_from_slice(&c.symptom_onset.map_or(0, |d| d.0).to_be_bytes());
}

fn read_claims(r: &mut Cursor<'_>) -> Option<Claims> {
    let authority = r.text()?;
    let test_type = TestType::from_code(r.u8()?)?;
    let test_date = Day(r.u32()?);
    let flag = r.u8()?;
    let onset = r.u32()?;
    let symptom_onset = match flag {
        0 if onset == 0 => None,
        1 => Some(Day(onset)),
        _ => return None,
    };
    Some(Claims {
        authority,
        test_type,
        test_date,
        symptom_onset,
    })
}

fn flag(b: u8) -> Option<bool> {
    match b {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// An issue: its claims, whether it was used, and its codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRecord {
    /// What was certified.
    pub claims: Claims,
    /// Redeemed (by either code).
    pub used: bool,
    /// The short code's expiry and hash.
    pub short: Option<(UnixTime, Hash)>,
    /// The long code's expiry and hash.
    pub long: (UnixTime, Hash),
}

impl IssueRecord {
    /// Encodes the record.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        put_claims(&mut out, &self.claims);
        out.push(u8::from(self.used));
        let (se, sh) = self.short.unwrap_or((UnixTime(0), [0; 32]));
        out.extend_from_slice(&se.0.to_be_bytes());
        out.extend_from_slice(&sh);
        out.extend_from_slice(&self.long.0 .0.to_be_bytes());
        out.extend_from_slice(&self.long.1);
        out
    }
    /// Decodes exactly one record.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Cursor(b);
        let claims = read_claims(&mut r)?;
        let used = flag(r.u8()?)?;
        let (se, sh) = (r.u64()?, r.hash()?);
        let long = (UnixTime(r.u64()?), r.hash()?);
        r.end(IssueRecord {
            claims,
            used,
            short: (se != 0).then_some((UnixTime(se), sh)),
            long,
        })
    }
    /// When its last code expires.
    pub fn expires_at(&self) -> UnixTime {
        self.short.map_or(self.long.0, |(e, _)| e.max(self.long.0))
    }
}

/// A code: which issue, and until when.
pub fn encode_code(issue: &[u8; 16], expiry: UnixTime) -> [u8; 24] {
    let mut v = [0u8; 24];
    v[..16].copy_from_slice(issue);
    v[16..].copy_from_slice(&expiry.0.to_be_bytes());
    v
}

/// Decodes [`encode_code`].
pub fn decode_code(b: &[u8]) -> Option<([u8; 16], UnixTime)> {
    let mut r = Cursor(b);
    let id = r.take(16)?.try_into().ok()?;
    let e = UnixTime(r.u64()?);
    r.end((id, e))
}

/// A token: the claims it carries, whether it was spent, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The claims of the redeemed code.
    pub claims: Claims,
    /// Spent.
    pub used: bool,
    /// Expiry.
    pub expires_at: UnixTime,
}

impl TokenRecord {
    /// Encodes the record.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        put_claims(&mut out, &self.claims);
        out.push(u8::from(self.used));
        out.extend_from_slice(&self.expires_at.0.to_be_bytes());
        out
    }
    /// Decodes exactly one record.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Cursor(b);
        let claims = read_claims(&mut r)?;
        let used = flag(r.u8()?)?;
        let expires_at = UnixTime(r.u64()?);
        r.end(TokenRecord {
            claims,
            used,
            expires_at,
        })
    }
}

/// Encodes a day's statistics.
pub fn encode_stats(s: &DayStats) -> [u8; 40] {
    let mut v = [0u8; 40];
    for (i, n) in [s.issued, s.claimed, s.expired, s.certificates, s.keys]
        .into_iter()
        .enumerate()
    {
        v[i * 8..i * 8 + 8].copy_from_slice(&n.to_be_bytes());
    }
    v
}

/// Decodes [`encode_stats`].
pub fn decode_stats(b: &[u8]) -> Option<DayStats> {
    let mut r = Cursor(b);
    let s = DayStats {
        issued: r.u64()?,
        claimed: r.u64()?,
        expired: r.u64()?,
        certificates: r.u64()?,
        keys: r.u64()?,
    };
    r.end(s)
}

/// Key of a per-(period, authority) counter: period u64 ‖ authority.
pub fn period_key(period: u64, authority: &str) -> Vec<u8> {
    let mut k = period.to_be_bytes().to_vec();
    k.extend_from_slice(authority.as_bytes());
    k
}

/// Splits [`period_key`].
pub fn split_period_key(k: &[u8]) -> Option<(u64, String)> {
    let (p, a) = k.split_at_checked(8)?;
    Some((
        u64::from_be_bytes(p.try_into().ok()?),
        String::from_utf8(a.to_vec()).ok()?,
    ))
}

/// Encodes an audit entry.
pub fn encode_audit(e: &AuditEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&e.at.0.to_be_bytes());
    out.push(e.action.code());
    out.extend_from_slice(&e.count.to_be_bytes());
    put_text(&mut out, &e.authority);
    put_text(&mut out, &e.actor);
    out
}

/// Decodes [`encode_audit`].
pub fn decode_audit(b: &[u8]) -> Option<AuditEntry> {
    let mut r = Cursor(b);
    let at = UnixTime(r.u64()?);
    let action = AuditAction::from_code(r.u8()?)?;
    let count = r.u64()?;
    let authority = r.text()?;
    let actor = r.text()?;
    r.end(AuditEntry {
        at,
        authority,
        actor,
        action,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            authority: "moh.vn".into(),
            test_type: TestType::Likely,
            test_date: Day(20_400),
            symptom_onset: Some(Day(20_398)),
        }
    }

    #[test]
    fn records_round_trip_and_refuse_every_truncation() {
        let issue = IssueRecord {
            claims: claims(),
            used: false,
            short: Some((UnixTime(5), [1; 32])),
            long: (UnixTime(9), [2; 32]),
        };
        let token = TokenRecord {
            claims: Claims {
                symptom_onset: None,
                ..claims()
            },
            used: true,
            expires_at: UnixTime(7),
        };
        let audit = AuditEntry {
            at: UnixTime(3),
            authority: "moh.vn".into(),
            actor: "alice".into(),
            action: AuditAction::IssuedBulk,
            count: 12,
        };
        let b = issue.encode();
        assert_eq!(IssueRecord::decode(&b), Some(issue.clone()));
        assert_eq!(issue.expires_at(), UnixTime(9));
        for n in 0..b.len() {
            assert_eq!(IssueRecord::decode(&b[..n]), None);
        }
        let t = token.encode();
        assert_eq!(TokenRecord::decode(&t), Some(token));
        assert!(TokenRecord::decode(&[t.as_slice(), &[0]].concat()).is_none());
        let a = encode_audit(&audit);
        assert_eq!(decode_audit(&a), Some(audit));
        let s = DayStats {
            issued: 1,
            claimed: 2,
            expired: 3,
            certificates: 4,
            keys: 5,
        };
        assert_eq!(decode_stats(&encode_stats(&s)), Some(s));
        assert_eq!(
            split_period_key(&period_key(7, "moh.vn")),
            Some((7, "moh.vn".into()))
        );
    }
}
