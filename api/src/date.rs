//! Calendar dates (`YYYY-MM-DD`, UTC) as the verification API writes them: a test date and a
//! symptom-onset date are days, not instants.

use std::fmt;

/// A UTC calendar day, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub u32);

/// Days from 1970-01-01 to `y-m-d` (proleptic Gregorian; H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl Day {
    /// The day containing Unix time `seconds`.
    pub fn of_unix(seconds: u64) -> Day {
        Day(u32::try_from(seconds / 86_400).unwrap_or(u32::MAX))
    }

    /// The first second of the day.
    pub fn start(self) -> u64 {
        u64::from(self.0) * 86_400
    }

    /// Parses exactly `YYYY-MM-DD` (a real date from 1970 to 9999).
    pub fn parse(s: &str) -> Option<Day> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let (y, m, d) = (i64::from(num(0..4)?), num(5..7)?, num(8..10)?);
        if y < 1970 || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        u32::try_from(days_from_civil(y, m, d)).ok().map(Day)
    }

    /// (year, month, day).
    pub fn ymd(self) -> (i64, u32, u32) {
        // H. Hinnant's `civil_from_days`.
        let z = i64::from(self.0) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i64::from(m <= 2);
        (y, m, d)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_days() {
        assert_eq!(Day::parse("1970-01-01"), Some(Day(0)));
        assert_eq!(Day::parse("2020-04-02"), Some(Day(1_585_785_600 / 86_400)));
        assert_eq!(Day::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        for d in (0..40_000).step_by(37) {
            assert_eq!(Day::parse(&Day(d).to_string()), Some(Day(d)));
        }
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for s in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-01-32",
            "1969-12-31",
            "2024-1-01",
            "2024-01-01T",
            "+024-01-01",
            "２０２４-01-01",
            "",
        ] {
            assert_eq!(Day::parse(s), None, "{s}");
        }
    }
}
