//! Argument parsers shared by the subcommands: each fails with a one-line message.

use en_protocol::hex;

/// A hex argument of the wrong length or with non-hex characters.
#[derive(Debug, thiserror::Error)]
pub enum HexArgError {
    /// Wrong length.
    #[error("expected {want} hex characters, got {got}")]
    Length {
        /// Expected characters.
        want: usize,
        /// Characters given.
        got: usize,
    },
    /// A character that is not hex.
    #[error("not valid hex")]
    NotHex,
}

/// Parses exactly `N` bytes of hex.
pub fn hex_array<const N: usize>(s: &str) -> Result<[u8; N], HexArgError> {
    let s = s.trim();
    if s.len() != 2 * N {
        return Err(HexArgError::Length {
            want: 2 * N,
            got: s.len(),
        });
    }
    hex::decode_array(s).ok_or(HexArgError::NotHex)
}

/// Parses a 16-byte TEK in hex.
pub fn tek(s: &str) -> Result<[u8; 16], HexArgError> {
    hex_array::<16>(s)
}

/// Parses 4 bytes of metadata in hex.
pub fn metadata(s: &str) -> Result<[u8; 4], HexArgError> {
    hex_array::<4>(s)
}

/// A time argument that is neither a Unix time nor an RFC 3339 UTC time.
#[derive(Debug, thiserror::Error)]
#[error("expected a Unix time in seconds, `now`, or a UTC time like 2026-01-01T09:10:00Z")]
pub struct TimeArgError;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// The date of a day number (the inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Parses a time: Unix seconds, `now`, or `YYYY-MM-DDTHH:MM[:SS]Z` (UTC).
pub fn time(s: &str) -> Result<en_protocol::UnixTime, TimeArgError> {
    let s = s.trim();
    if s == "now" {
        return Ok(en_client::now());
    }
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
        return s
            .parse()
            .map(en_protocol::UnixTime)
            .map_err(|_| TimeArgError);
    }
    let body = s.strip_suffix('Z').ok_or(TimeArgError)?;
    let (date, clock) = body.split_once('T').ok_or(TimeArgError)?;
    let num = |p: &str, len: usize| -> Result<i64, TimeArgError> {
        if p.len() != len || !p.bytes().all(|c| c.is_ascii_digit()) {
            return Err(TimeArgError);
        }
        p.parse().map_err(|_| TimeArgError)
    };
    let d: Vec<&str> = date.split('-').collect();
    let c: Vec<&str> = clock.split(':').collect();
    let [y, mo, da] = d[..] else {
        return Err(TimeArgError);
    };
    let (h, mi, se) = match c[..] {
        [h, mi] => (num(h, 2)?, num(mi, 2)?, 0),
        [h, mi, se] => (num(h, 2)?, num(mi, 2)?, num(se, 2)?),
        _ => return Err(TimeArgError),
    };
    let (y, mo, da) = (num(y, 4)?, num(mo, 2)?, num(da, 2)?);
    let days = days_from_civil(y, mo, da);
    if y < 1970 || !(1..=12).contains(&mo) || civil_from_days(days) != (y, mo, da) {
        return Err(TimeArgError);
    }
    if h > 23 || mi > 59 || se > 59 {
        return Err(TimeArgError);
    }
    Ok(en_protocol::UnixTime(
        (days * 86_400 + h * 3600 + mi * 60 + se) as u64,
    ))
}

/// `2026-01-01 09:10 UTC`.
pub fn fmt_time(t: en_protocol::UnixTime) -> String {
    let (y, m, d) = civil_from_days((t.0 / 86_400) as i64);
    let s = t.0 % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        s / 3600,
        s % 3600 / 60
    )
}

/// `2026-01-01` for a UTC day number.
pub fn fmt_day(day: u32) -> String {
    let (y, m, d) = civil_from_days(i64::from(day));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_print() {
        let t = time("2026-01-01T09:10:00Z").unwrap();
        assert_eq!(t.0, 1_767_258_600);
        assert_eq!(time("2026-01-01T09:10Z").unwrap(), t);
        assert_eq!(time("1767258600").unwrap(), t);
        assert_eq!(fmt_time(t), "2026-01-01 09:10 UTC");
        assert_eq!(fmt_day(20_454), "2026-01-01");
        assert_eq!(time("2024-02-29T00:00:00Z").unwrap().0, 1_709_164_800);
        for bad in [
            "2025-02-29T00:00Z",
            "2026-13-01T00:00Z",
            "2026-01-01T24:00Z",
            "2026-01-01T09:10",
            "2026-1-01T09:10Z",
            "1969-12-31T23:59Z",
            "",
            "-5",
            "tomorrow",
        ] {
            assert!(time(bad).is_err(), "{bad}");
        }
        for day in [0, 1, 59, 365, 11_016, 20_454, 40_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }
}
