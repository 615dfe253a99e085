//! `[console]`: verification codes, the phone endpoints that redeem them, and the health
//! authority console (sessions, login throttling). The guessing bound these settings must keep
//! is checked at start ([`ConsoleSettings::check`]; spec/verification.md §3).

use serde::{Deserialize, Serialize};

/// The space of short codes (8 digits).
pub const SHORT_CODE_SPACE: u64 = 100_000_000;
/// The most successful random guesses of short codes the settings may allow per day, as
/// 1 / this (10⁻³: one success in a thousand days at the worst case).
pub const GUESS_BOUND_INVERSE: u64 = 1_000;

/// Settings of verification codes and the console.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ConsoleSettings {
    /// Seconds a short code (8 digits, read out on the phone) stays valid.
    pub short_code_lifetime_seconds: u64,
    /// Seconds a long code (16 characters, a link or a QR code) stays valid.
    pub long_code_lifetime_seconds: u64,
    /// Unexpired, unused short codes an authority may hold at once (N of the guessing bound).
    pub max_outstanding_short_codes: u64,
    /// Failed short-code attempts allowed per clock hour on the whole server (F/24).
    pub failed_short_codes_per_hour: u64,
    /// Failed short-code attempts allowed per clock hour for one authority.
    pub failed_short_codes_per_authority_per_hour: u64,
    /// Seconds a token from `POST /v1/verify` may be exchanged for a certificate.
    pub token_lifetime_seconds: u64,
    /// Validity of the certificates the server signs (at most `max_certificate_lifetime_seconds`).
    pub certificate_lifetime_seconds: u64,
    /// Oldest test date (and symptom onset) accepted, in days before today.
    pub max_test_age_days: u64,
    /// Test results in one bulk CSV or back-office request.
    pub max_codes_per_request: usize,
    /// Every `POST /v1/verify` and `POST /v1/certificate` body must be exactly this long
    /// (phones pad). 0 accepts any length.
    pub phone_request_bytes: usize,
    /// Links of long codes: `{code_link_base}?a=<authority>&c=<code>` (the phone app's link).
    pub code_link_base: String,
    /// A console session ends after this many seconds without a request.
    pub session_idle_seconds: u64,
    /// A console session ends this many seconds after login, however active.
    pub session_max_seconds: u64,
    /// Failed logins of one account before it is locked for `login_lockout_seconds`.
    pub login_failures_before_lockout: u32,
    /// Seconds an account stays locked after too many failed logins.
    pub login_lockout_seconds: u64,
    /// Failed logins per minute on the whole console before every login waits for the next
    /// minute (guessing across accounts).
    pub login_failures_per_minute: u32,
    /// Days of daily statistics and audit log kept.
    pub history_days: u64,
    /// The authority self-reports are certified for (registered with `--server-key`); empty:
    /// self-reports are disabled (spec/self-report.md).
    pub self_report_authority: String,
    /// Verification codes of type self-report issued per UTC day at most (the per-authority
    /// quota of self-reports).
    pub self_report_daily_codes: u64,
    /// Days a test-kit code stays valid after `en-server selfreport kits` created it.
    pub kit_code_lifetime_days: u64,
    /// Days a redeemed self-report token is remembered (refused if redeemed again); at least
    /// as long as the self-report key is used.
    pub self_report_token_days: u64,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            short_code_lifetime_seconds: 3600,
            long_code_lifetime_seconds: 86_400,
            max_outstanding_short_codes: 400,
            failed_short_codes_per_hour: 10,
            failed_short_codes_per_authority_per_hour: 5,
            token_lifetime_seconds: 3600,
            certificate_lifetime_seconds: 900,
            max_test_age_days: 28,
            max_codes_per_request: 1000,
            phone_request_bytes: en_api::verify::PHONE_REQUEST_BYTES,
            code_link_base: "en-verify://v".into(),
            session_idle_seconds: 1800,
            session_max_seconds: 12 * 3600,
            login_failures_before_lockout: 5,
            login_lockout_seconds: 900,
            login_failures_per_minute: 30,
            history_days: 400,
            self_report_authority: String::new(),
            self_report_daily_codes: 1000,
            kit_code_lifetime_days: 365,
            self_report_token_days: 730,
        }
    }
}

impl ConsoleSettings {
    /// Expected successful random guesses of short codes per day at the worst case, times
    /// [`SHORT_CODE_SPACE`]: F · N, with F = 24 × `failed_short_codes_per_hour`.
    pub fn guesses_bound(&self) -> u128 {
        24 * u128::from(self.failed_short_codes_per_hour)
            * u128::from(self.max_outstanding_short_codes)
    }

    /// Checks the rules, in particular the guessing bound F · N / 10⁸ < 10⁻³.
    pub fn check(&self, max_certificate_lifetime: u64) -> Result<(), String> {
        if self.guesses_bound() * u128::from(GUESS_BOUND_INVERSE) >= u128::from(SHORT_CODE_SPACE) {
            return Err(format!(
                "console: 24 × failed_short_codes_per_hour × max_outstanding_short_codes = {} allows \
                 {:.2e} successful guesses of a short code per day; it must stay below 10^-3 (below {})",
                self.guesses_bound(),
                self.guesses_bound() as f64 / SHORT_CODE_SPACE as f64,
                SHORT_CODE_SPACE / GUESS_BOUND_INVERSE
            ));
        }
        if self.failed_short_codes_per_authority_per_hour > self.failed_short_codes_per_hour {
            return Err("console: failed_short_codes_per_authority_per_hour must not exceed failed_short_codes_per_hour".into());
        }
        let positive = [
            self.short_code_lifetime_seconds,
            self.long_code_lifetime_seconds,
            self.token_lifetime_seconds,
            self.certificate_lifetime_seconds,
            self.session_idle_seconds,
            self.session_max_seconds,
            self.max_test_age_days,
            self.kit_code_lifetime_days,
            self.self_report_token_days,
        ];
        if positive.contains(&0) || self.max_codes_per_request == 0 {
            return Err("console: lifetimes, session limits, max_test_age_days and max_codes_per_request must be positive".into());
        }
        if self.certificate_lifetime_seconds > max_certificate_lifetime {
            return Err(format!("console: certificate_lifetime_seconds must not exceed max_certificate_lifetime_seconds ({max_certificate_lifetime})"));
        }
        if self.short_code_lifetime_seconds > self.long_code_lifetime_seconds {
            return Err("console: short codes must not outlive long codes".into());
        }
        if self.phone_request_bytes != 0 && self.phone_request_bytes < 512 {
            return Err("console: phone_request_bytes must be 0 or at least 512".into());
        }
        if self.code_link_base.is_empty()
            || self
                .code_link_base
                .contains(|c: char| c.is_whitespace() || c == '?' || c == '#' || c == '"')
        {
            return Err(
                "console: code_link_base must be a URL without spaces, quotes, ? or #".into(),
            );
        }
        Ok(())
    }
}

/// Comments of the `[console]` settings, in file order (for the template).
pub(super) const COMMENTS: &[(&str, &str)] = &[
    ("self_report_authority", "The authority self-reports are certified for (registered with --server-key); empty\n# disables self-reports (POST /v1/self-report/*; spec/self-report.md). Use an authority of\n# its own: self_report_daily_codes counts every code issued for it."),
    ("self_report_daily_codes", "Self-report verification codes issued per UTC day at most (the self-report quota)."),
    ("kit_code_lifetime_days", "Days a test-kit code (en-server selfreport kits) stays valid."),
    ("self_report_token_days", "Days a redeemed self-report token is remembered and refused again (at least as long\n# as the self-report key is in use)."),
    ("short_code_lifetime_seconds", "Seconds a short code (8 digits, read out on the phone) stays valid."),
    ("long_code_lifetime_seconds", "Seconds a long code (16 characters: a link, an SMS, a QR code) stays valid."),
    ("max_outstanding_short_codes", "Unexpired, unused short codes one authority may hold (N). With the two settings\n# below it bounds random guessing: 24 x failed_short_codes_per_hour x N / 10^8 must stay\n# below 10^-3 expected successful guesses per day (checked at start; spec/verification.md)."),
    ("failed_short_codes_per_hour", "Failed short-code attempts allowed per clock hour on the whole server; beyond, every\n# short code is refused (429 code_rate_limited) until the hour ends. Long codes still work."),
    ("failed_short_codes_per_authority_per_hour", "The same for one authority (so that guessing at one authority locks out only it)."),
    ("token_lifetime_seconds", "Seconds the token from POST /v1/verify may be exchanged for a certificate."),
    ("certificate_lifetime_seconds", "Validity of the verification certificates the server signs for phones (at most\n# max_certificate_lifetime_seconds)."),
    ("max_test_age_days", "Test dates and symptom onsets older than this many days are refused."),
    ("max_codes_per_request", "Test results in one bulk CSV upload or back-office API request."),
    ("phone_request_bytes", "Every POST /v1/verify and /v1/certificate body must be exactly this long (phones pad),\n# so real and fake requests look alike. 0 accepts any size."),
    ("code_link_base", "Long codes are also given as the link <code_link_base>?a=<authority>&c=<code> (the\n# phone app's link; shown as a QR code)."),
    ("session_idle_seconds", "A console session ends after this many seconds without a request."),
    ("session_max_seconds", "A console session ends this long after login, however active."),
    ("login_failures_before_lockout", "Failed logins of one account before it is locked for login_lockout_seconds."),
    ("login_lockout_seconds", "How long a locked account stays locked (an admin can reset its password meanwhile)."),
    ("login_failures_per_minute", "Failed logins per minute on the whole console before every login waits for the\n# next minute (guessing across many accounts)."),
    ("history_days", "Days of daily statistics and of the audit log kept."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_keep_the_guessing_bound() {
        let c = ConsoleSettings::default();
        // F = 240 failures a day, N = 400 codes: 9.6e-4 expected successes per day.
        assert_eq!(c.guesses_bound(), 96_000);
        c.check(86_400).unwrap();
    }

    #[test]
    fn settings_that_break_the_bound_are_refused() {
        let c = ConsoleSettings {
            max_outstanding_short_codes: 500,
            ..ConsoleSettings::default()
        };
        let e = c.check(86_400).unwrap_err();
        assert!(e.contains("10^-3"), "{e}");
        let c = ConsoleSettings {
            certificate_lifetime_seconds: 7200,
            ..ConsoleSettings::default()
        };
        assert!(c.check(3600).is_err());
    }
}
