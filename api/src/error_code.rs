//! The one table of the server's error codes: code, HTTP status, and when it is answered.
//!
//! The server turns every refusal into one of these (`server/src/error.rs`); clients match on
//! them; `spec/api.md` lists them and `spec/openapi.yaml` has one schema per status, and tests
//! check that both agree with this table.

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = ($code:literal, $status:literal), )*) => {
        /// A stable, machine-readable error code of the HTTP API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The code as it appears in `{"error": "<code>"}`.
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code, )* }
            }

            /// The HTTP status answered with this code.
            pub fn status(self) -> u16 {
                match self { $( ErrorCode::$variant => $status, )* }
            }
        }
    };
}

error_codes! {
    /// The body is not JSON.
    MalformedJson = ("malformed_json", 400),
    /// JSON of the wrong shape: wrong types, missing or unknown fields, or a bad parameter.
    InvalidRequest = ("invalid_request", 400),
    /// The case report's base64 or binary encoding is invalid.
    MalformedReport = ("malformed_report", 400),
    /// The verification certificate's base64 or binary encoding is invalid.
    MalformedCertificate = ("malformed_certificate", 400),
    /// A JSON key is not 16 bytes of base64 or has a field out of range.
    InvalidKey = ("invalid_key", 400),
    /// The HMAC key is not 16 to 64 bytes of base64.
    InvalidHmacKey = ("invalid_hmac_key", 400),
    /// An upload without keys.
    NoKeys = ("no_keys", 400),
    /// More keys than allowed in one upload.
    TooManyKeys = ("too_many_keys", 400),
    /// More than 16 entries in a phone upload's `visited_regions`.
    TooManyVisitedRegions = ("too_many_visited_regions", 400),
    /// A `visited_regions` entry that is not a region code, is listed twice, or is the
    /// server's own region.
    InvalidVisitedRegion = ("invalid_visited_region", 400),
    /// A key starts in the future.
    KeyInFuture = ("key_in_future", 400),
    /// A key is older than the maximum key age.
    KeyTooOld = ("key_too_old", 400),
    /// Two keys cover overlapping intervals.
    OverlappingKeys = ("overlapping_keys", 400),
    /// The same key twice in one upload.
    DuplicateKey = ("duplicate_key", 400),
    /// The case report was issued too long ago.
    ReportTooOld = ("report_too_old", 400),
    /// The report or certificate claims to be issued in the future.
    NotYetValid = ("not_yet_valid", 400),
    /// A certificate valid for longer than the server allows.
    CertificateTooLong = ("certificate_lifetime_too_long", 400),
    /// A phone upload whose body is not padded to the server's fixed size.
    UploadNotPadded = ("upload_not_padded", 400),
    /// The venue trace report's base64 or binary encoding is invalid (a key included).
    MalformedTrace = ("malformed_trace", 400),
    /// A traced hour is in the future or older than the 14-day check-in retention.
    TraceHourOutOfRange = ("trace_hour_out_of_range", 400),
    /// A bulk upload with no reports or too many.
    InvalidBulkSize = ("invalid_bulk_size", 400),
    /// `/v1/batches/{seq}` with a sequence that is not a positive decimal integer.
    InvalidSequence = ("invalid_sequence", 400),
    /// The body ended early.
    IncompleteBody = ("incomplete_body", 400),
    /// A verification code that is neither 8 digits nor 16 characters of the code alphabet.
    MalformedCode = ("malformed_code", 400),
    /// A verification token that is not 43 characters of base64url.
    MalformedToken = ("malformed_token", 400),
    /// A test result the server cannot issue a code for (type, dates).
    InvalidTestResult = ("invalid_test_result", 400),
    /// A test-kit code that is not 20 characters of the code alphabet (dashes and spaces aside).
    MalformedKitCode = ("malformed_kit_code", 400),
    /// A blinded element that is not 32 bytes of base64 encoding a valid ristretto255 element.
    InvalidBlindedElement = ("invalid_blinded_element", 400),
    /// A self-report token whose input is not 32 or whose output is not 64 bytes of base64.
    MalformedSelfReportToken = ("malformed_self_report_token", 400),
    /// The revision token's base64 or binary encoding is invalid.
    MalformedRevisionToken = ("malformed_revision_token", 400),
    /// A revision to a type other than confirmed or revoked.
    RevisionTypeNotAllowed = ("revision_type_not_allowed", 400),
    /// A signature check failed.
    BadSignature = ("bad_signature", 401),
    /// The signing authority is not registered.
    UnknownAuthority = ("unknown_authority", 401),
    /// The verification certificate has expired.
    CertificateExpired = ("certificate_expired", 401),
    /// The certificate names another server.
    WrongAudience = ("wrong_audience", 401),
    /// The keys are not the ones the certificate was issued for.
    TekmacMismatch = ("tekmac_mismatch", 401),
    /// No such verification code (never issued, mistyped, or purged after expiry).
    UnknownCode = ("unknown_code", 401),
    /// The verification code has expired.
    CodeExpired = ("code_expired", 401),
    /// No such verification token.
    UnknownToken = ("unknown_token", 401),
    /// The verification token has expired.
    TokenExpired = ("token_expired", 401),
    /// No such test-kit code (never issued, mistyped, or purged after expiry).
    UnknownKitCode = ("unknown_kit_code", 401),
    /// The test-kit code has expired.
    KitCodeExpired = ("kit_code_expired", 401),
    /// The self-report token's output is not the server's evaluation of its input (forged,
    /// or issued under a key since rotated).
    InvalidSelfReportToken = ("invalid_self_report_token", 401),
    /// A back-office request without a valid API key.
    InvalidApiKey = ("invalid_api_key", 401),
    /// The authority has been revoked.
    RevokedAuthority = ("revoked_authority", 403),
    /// The authority may not report for this region, or this server does not publish for it.
    WrongRegion = ("wrong_region", 403),
    /// The revision token was not issued by this server for exactly these keys.
    RevisionTokenMismatch = ("revision_token_mismatch", 403),
    /// The revision token has expired.
    RevisionTokenExpired = ("revision_token_expired", 403),
    /// No such endpoint.
    NotFound = ("not_found", 404),
    /// No such batch (never published, or expired).
    BatchNotFound = ("batch_not_found", 404),
    /// Self-reports are not enabled on this server (no self-report authority configured).
    SelfReportDisabled = ("self_report_disabled", 404),
    /// `/v1/federation/{REGION}/…` for a region this server publishes no federation chain for.
    UnknownFederationRegion = ("unknown_federation_region", 404),
    /// A revised key is not stored (never uploaded here, or past its retention).
    RevisionUnknownKeys = ("revision_unknown_keys", 404),
    /// The endpoint does not support the method (the answer lists the allowed ones in `Allow`).
    MethodNotAllowed = ("method_not_allowed", 405),
    /// The request took longer than the request timeout to arrive.
    RequestTimeout = ("request_timeout", 408),
    /// The case-report nonce or certificate was already used.
    Replayed = ("replayed", 409),
    /// A key was uploaded before.
    KeyExists = ("key_exists", 409),
    /// The verification code was already used.
    CodeUsed = ("code_used", 409),
    /// The verification token was already used.
    TokenUsed = ("token_used", 409),
    /// The test-kit code was already used.
    KitCodeUsed = ("kit_code_used", 409),
    /// The self-report token was already redeemed.
    SelfReportTokenUsed = ("self_report_token_used", 409),
    /// The body is larger than allowed.
    BodyTooLarge = ("body_too_large", 413),
    /// An upload without `Content-Type: application/json`.
    UnsupportedMediaType = ("unsupported_media_type", 415),
    /// The authority's daily upload quota is used up.
    QuotaExceeded = ("quota_exceeded", 429),
    /// Too many failed short-code attempts for this authority (or the server) this hour.
    CodeRateLimited = ("code_rate_limited", 429),
    /// The authority has as many unexpired short codes as allowed; issue long codes.
    TooManyShortCodes = ("too_many_short_codes", 429),
    /// The self-report authority's daily self-report quota is used up.
    SelfReportQuotaExceeded = ("self_report_quota_exceeded", 429),
    /// The store failed.
    StorageError = ("storage_error", 500),
    /// The server is at its limit of request bodies in memory; try again shortly.
    ServerBusy = ("server_busy", 503),
    /// The authority registry cannot be read; uploads are refused until an operator fixes it.
    RegistryUnavailable = ("registry_unavailable", 503),
}

impl ErrorCode {
    /// Parses a code string.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(s: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every `(status, code)` pair of the "Errors" table in spec/api.md.
    fn spec_table() -> BTreeSet<(u16, String)> {
        let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/api.md"))
            .expect("spec/api.md");
        let section = spec
            .split("\n## Errors")
            .nth(1)
            .expect("spec/api.md has an Errors section");
        let section = section.split("\n## ").next().unwrap_or(section);
        let mut out = BTreeSet::new();
        for line in section.lines().filter(|l| l.starts_with("| ")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let Ok(status) = cells[1].parse::<u16>() else {
                continue; // header and separator rows
            };
            for code in cells[2].split(',') {
                let code = code.trim().trim_matches('`');
                if !code.is_empty() {
                    out.insert((status, code.to_string()));
                }
            }
        }
        out
    }

    #[test]
    fn codes_and_statuses_match_the_spec() {
        let ours: BTreeSet<(u16, String)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.status(), c.as_str().to_string()))
            .collect();
        let spec = spec_table();
        let missing: Vec<_> = ours.difference(&spec).collect();
        let extra: Vec<_> = spec.difference(&ours).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "spec/api.md and ErrorCode disagree: not in the spec {missing:?}; only in the spec {extra:?}"
        );
    }

    /// Every `(status, code)` pair of spec/openapi.yaml: the `enum: [...]` line of each
    /// `ErrorNNN:` schema (the file keeps that shape for this test).
    fn openapi_table() -> BTreeSet<(u16, String)> {
        let spec =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/openapi.yaml"))
                .expect("spec/openapi.yaml");
        let schemas = spec
            .split("\n  schemas:\n")
            .nth(1)
            .and_then(|s| s.split("\n  responses:\n").next())
            .expect("spec/openapi.yaml has components/schemas");
        let mut out = BTreeSet::new();
        let mut status = None;
        for line in schemas.lines() {
            let t = line.trim();
            if let Some(n) = line
                .strip_prefix("    Error")
                .and_then(|r| r.strip_suffix(':'))
                .and_then(|n| n.parse::<u16>().ok())
            {
                status = Some(n);
            } else if let (Some(s), Some(list)) = (status, t.strip_prefix("enum: [")) {
                for code in list.trim_end_matches(']').split(',') {
                    out.insert((s, code.trim().to_string()));
                }
                status = None;
            }
        }
        out
    }

    #[test]
    fn codes_and_statuses_match_the_openapi_schemas() {
        let ours: BTreeSet<(u16, String)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.status(), c.as_str().to_string()))
            .collect();
        let spec = openapi_table();
        let missing: Vec<_> = ours.difference(&spec).collect();
        let extra: Vec<_> = spec.difference(&ours).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "spec/openapi.yaml and ErrorCode disagree: not in the spec {missing:?}; only in the spec {extra:?}"
        );
    }

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut seen = BTreeSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {c}");
            assert_eq!(ErrorCode::from_str(c.as_str()), Some(*c));
            assert!((400..600).contains(&c.status()));
        }
    }
}
