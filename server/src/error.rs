//! The server's errors: [`Error`] for starting and running it, and [`ApiError`], the one
//! place where refusals become HTTP (a status, a stable code from `en_api::ErrorCode`, and a
//! sentence).
//!
//! Every refusal is `{"error": "<code>", "message": "<sentence>"}` with a 4xx status (a bulk
//! upload adds `"report": <index>` when one report is at fault). Only faults of the server
//! itself are 5xx: a store failure, a full body budget, an unreadable registry.

use std::path::PathBuf;

use bytes::Bytes;
use en_api::ErrorCode;
use en_protocol::{DecodeError, Error as ProtoError, ValidationError, VerifyError};
use hyper::{Response, StatusCode};

use crate::store::StoreError;

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error("{}: {message}", file.display())]
    Config {
        /// The configuration file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file or directory could not be used.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// "read", "create", …
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A private file or directory that group or others may read.
    #[error("{} may be read by other users (mode {mode:o}); it holds secrets or embargoed keys: run `chmod {want:o} {}`", path.display(), path.display())]
    Exposed {
        /// The path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The mode it should have.
        want: u32,
    },
    /// A key file could not be used.
    #[error(transparent)]
    KeyFile(#[from] en_api::keyfile::KeyFileError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The verification-code store failed.
    #[error("code store: {0}")]
    CodeStore(#[from] crate::store::codes::CodeStoreError),
    /// TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(String),
    /// The authority registry is invalid or cannot be changed.
    #[error("authority registry: {0}")]
    Registry(String),
    /// Signing failed (a configuration the protocol cannot express).
    #[error("signing: {0}")]
    Protocol(#[from] ProtoError),
    /// Listening or serving failed.
    #[error("{0}")]
    Serve(String),
    /// The console's accounts or an authority key it holds cannot be used.
    #[error("console: {0}")]
    Console(String),
}

impl Error {
    /// An IO error on `path`.
    pub fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// An error response.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The stable code (its HTTP status comes with it).
    pub code: ErrorCode,
    /// A sentence a person understands.
    pub message: String,
    /// In a bulk upload, the index of the report that was refused.
    pub report: Option<usize>,
    /// For 405: the methods the endpoint allows (the `Allow` header).
    pub allow: Option<&'static str>,
    /// For 429: seconds until a retry may succeed (the `Retry-After` header).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            report: None,
            allow: None,
            retry_after: None,
        }
    }
    /// The same error, attributed to report `index` of a bulk upload.
    pub fn at_report(mut self, index: usize) -> Self {
        self.message = format!("Report {index}: {}", self.message);
        self.report = Some(index);
        self
    }
    /// 405 listing the allowed methods.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        ApiError {
            allow: Some(allow),
            ..Self::new(
                ErrorCode::MethodNotAllowed,
                format!("This endpoint allows only {allow}."),
            )
        }
    }
    /// A decoding failure of the named object.
    pub fn malformed(code: ErrorCode, what: &str, e: DecodeError) -> Self {
        Self::new(code, format!("The {what} could not be decoded: {e}."))
    }
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).expect("table statuses are valid")
    }
    /// The JSON response body.
    pub fn body(&self) -> String {
        serde_json::to_string(&en_api::json::ErrorBody {
            error: self.code.as_str().to_string(),
            message: self.message.clone(),
            report: self.report,
        })
        .expect("error bodies serialize")
    }
    /// The full response.
    pub fn into_response(self) -> Response<http_body_util::Full<Bytes>> {
        let mut r = Response::new(http_body_util::Full::new(Bytes::from(self.body())));
        *r.status_mut() = self.status();
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        if let Some(a) = self.allow {
            r.headers_mut().insert(
                hyper::header::ALLOW,
                hyper::header::HeaderValue::from_static(a),
            );
        }
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(
                hyper::header::RETRY_AFTER,
                hyper::header::HeaderValue::from(s),
            );
        }
        r
    }
}

impl From<ProtoError> for ApiError {
    fn from(e: ProtoError) -> Self {
        match e {
            ProtoError::Decode(d) => ApiError::new(
                ErrorCode::InvalidRequest,
                format!("The request could not be decoded: {d}."),
            ),
            ProtoError::Verify(v) => v.into(),
            ProtoError::Validation(v) => v.into(),
            ProtoError::Usage(m) => ApiError::new(ErrorCode::InvalidRequest, m),
            other => ApiError::new(ErrorCode::InvalidRequest, other.to_string()),
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        use ErrorCode as C;
        let (code, msg) = match &e {
            VerifyError::BadSignature => (C::BadSignature, "The signature does not verify with the health authority's registered key."),
            VerifyError::UnknownAuthority => (C::UnknownAuthority, "The health authority is not registered with this server."),
            VerifyError::RevokedAuthority => (C::RevokedAuthority, "The health authority has been revoked; its uploads are no longer accepted."),
            VerifyError::WrongRegion => (C::WrongRegion, "The health authority may not report for this server's region (or the report is for another region)."),
            VerifyError::Expired => (C::CertificateExpired, "The verification certificate has expired; ask the health authority for a new one."),
            VerifyError::NotYetValid => (C::NotYetValid, "The report or certificate claims to be issued in the future; check the issuer's clock."),
            VerifyError::WrongAudience => (C::WrongAudience, "The verification certificate was issued for another server."),
            VerifyError::TekmacMismatch => (C::TekmacMismatch, "The keys are not the ones the verification certificate was issued for."),
            VerifyError::RevisionTokenMismatch => (C::RevisionTokenMismatch, "The revision token was not issued by this server for exactly these keys."),
            VerifyError::RevisionTokenExpired => (C::RevisionTokenExpired, "The revision token has expired; keys can be revised only within 14 days of their upload."),
            _ => (C::InvalidRequest, "The request could not be verified."),
        };
        ApiError::new(code, msg)
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        use ErrorCode as C;
        let (code, msg) = match &e {
            ValidationError::NoKeys => (C::NoKeys, "The upload contains no keys.".to_string()),
            ValidationError::TooManyKeys { count, max } => (
                C::TooManyKeys,
                format!("The upload contains {count} keys; at most {max} are accepted."),
            ),
            ValidationError::KeyInFuture => (C::KeyInFuture, "A key starts in the future.".into()),
            ValidationError::KeyTooOld => {
                (C::KeyTooOld, "A key is older than the maximum key age.".into())
            }
            ValidationError::OverlappingKeys => (
                C::OverlappingKeys,
                "Two keys cover overlapping time intervals.".into(),
            ),
            ValidationError::DuplicateKey => (
                C::DuplicateKey,
                "The same key appears twice in the upload.".into(),
            ),
            ValidationError::ReportTooOld => (
                C::ReportTooOld,
                "The case report was issued too long ago; sign a new one.".into(),
            ),
            ValidationError::CertificateLifetimeTooLong { max_seconds } => (
                C::CertificateTooLong,
                format!("The verification certificate is valid for longer than this server accepts ({max_seconds} seconds); ask for a shorter one."),
            ),
            ValidationError::RevisionTypeNotAllowed => (
                C::RevisionTypeNotAllowed,
                "A revision's certificate must be of type confirmed or revoked.".into(),
            ),
            ValidationError::TraceHourOutOfRange => (
                C::TraceHourOutOfRange,
                "A traced hour is in the future or older than the 14 days phones keep check-ins.".into(),
            ),
            other => (C::InvalidRequest, format!("{other}.")),
        };
        ApiError::new(code, msg)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Replayed(_) => ApiError::new(
                ErrorCode::Replayed,
                "This case report or certificate has already been used for other keys.",
            ),
            StoreError::KeyExists(_) => ApiError::new(
                ErrorCode::KeyExists,
                "A key in this upload has already been uploaded.",
            ),
            StoreError::UnknownKeys => ApiError::new(
                ErrorCode::RevisionUnknownKeys,
                "A key of this revision is not stored here (never uploaded, or past its retention); nothing was changed.",
            ),
            StoreError::QuotaExceeded(_) => ApiError::new(
                ErrorCode::QuotaExceeded,
                "The health authority's daily upload quota is used up; try again tomorrow.",
            ),
            StoreError::Uncertain(e) => {
                tracing::error!(error = %e, "could not confirm a write is durable");
                ApiError::new(
                    ErrorCode::StorageError,
                    "The server could not confirm that the upload reached stable storage: it may have been stored. Send the same request again: a retry of a stored upload is answered as accepted.",
                )
            }
            e => {
                tracing::error!(error = %e, "storage failure");
                ApiError::new(
                    ErrorCode::StorageError,
                    "The server could not store the upload; nothing was stored. Try again.",
                )
            }
        }
    }
}

impl From<crate::store::codes::CodeStoreError> for ApiError {
    fn from(e: crate::store::codes::CodeStoreError) -> Self {
        use crate::store::codes::CodeStoreError as E;
        match e {
            E::TooManyShortCodes => ApiError::new(
                ErrorCode::TooManyShortCodes,
                "The authority holds as many unused short codes as allowed; issue long codes (a link, an SMS or a printed code) until some are used or expire.",
            ),
            E::Uncertain(e) => {
                tracing::error!(error = %e, "could not confirm a code-store write is durable");
                ApiError::new(
                    ErrorCode::StorageError,
                    "The server could not confirm that the change reached stable storage. Try again.",
                )
            }
            e => {
                tracing::error!(error = %e, "code-store failure");
                ApiError::new(
                    ErrorCode::StorageError,
                    "The server could not read or store the code; nothing changed. Try again.",
                )
            }
        }
    }
}

impl From<crate::verification::CodeError> for ApiError {
    fn from(e: crate::verification::CodeError) -> Self {
        use crate::store::codes::Refusal as R;
        use crate::verification::{CodeError as E, Subject as S};
        use ErrorCode as C;
        let (code, msg) = match e {
            E::MalformedCode => (C::MalformedCode, "The code must be 8 digits, or 16 letters and digits as on the SMS or the printed code.".to_string()),
            E::MalformedToken => (C::MalformedToken, "The token must be the 43 characters POST /v1/verify answered.".into()),
            E::MalformedTekmac => (C::InvalidRequest, "The tekmac must be 32 bytes of standard base64.".into()),
            E::UnknownAuthority => (C::UnknownAuthority, "The health authority is not registered with this server, or does not issue codes here.".into()),
            E::RevokedAuthority => (C::RevokedAuthority, "The health authority has been revoked; its codes are no longer accepted.".into()),
            E::WrongRegion => (C::WrongRegion, "The health authority may not report for this server's region.".into()),
            E::RateLimited { retry_after } => {
                return ApiError {
                    retry_after: Some(retry_after),
                    ..ApiError::new(C::CodeRateLimited, "Too many wrong short codes were tried this hour; short codes are refused until the hour ends. A long code (link or SMS) still works.")
                }
            }
            E::Refused(S::Code, R::Unknown) => (C::UnknownCode, "There is no such code; check it and try again, or ask for a new one.".into()),
            E::Refused(S::Code, R::Expired) => (C::CodeExpired, "The code has expired; ask the health authority for a new one.".into()),
            E::Refused(S::Code, R::Used) => (C::CodeUsed, "The code has already been used.".into()),
            E::Refused(S::Token, R::Unknown) => (C::UnknownToken, "There is no such token; redeem the code again.".into()),
            E::Refused(S::Token, R::Expired) => (C::TokenExpired, "The token has expired; ask the health authority for a new code.".into()),
            E::Refused(S::Token, R::Used) => (C::TokenUsed, "The token has already been used.".into()),
            E::InvalidTest { index, reason } => {
                return ApiError {
                    report: Some(index),
                    ..ApiError::new(C::InvalidTestResult, format!("Test result {index}: {reason}."))
                }
            }
            E::BadCount(n) => (C::InvalidBulkSize, format!("A request carries 1 to the configured maximum of test results; this one has {n}.")),
            E::TooManyShortCodes => return crate::store::codes::CodeStoreError::TooManyShortCodes.into(),
            E::Store(e) => return e.into(),
            E::Server(Error::Registry(m)) => {
                tracing::error!(error = %m, "authority registry unavailable");
                (C::RegistryUnavailable, "The server cannot read its list of health authorities; try again later.".into())
            }
            E::Server(e) => {
                tracing::error!(error = %e, "verification failed on the server's side");
                (C::StorageError, "The server could not complete the request; nothing changed. Try again.".into())
            }
        };
        ApiError::new(code, msg)
    }
}

impl From<crate::selfreport::SelfReportError> for ApiError {
    fn from(e: crate::selfreport::SelfReportError) -> Self {
        use crate::selfreport::SelfReportError as E;
        use crate::store::codes::Refusal as R;
        use ErrorCode as C;
        let (code, msg) = match e {
            E::Disabled => (C::SelfReportDisabled, "Self-reports are not enabled on this server."),
            E::MalformedKitCode => (C::MalformedKitCode, "The kit code must be the 20 letters and digits printed in the test kit."),
            E::InvalidBlinded => (C::InvalidBlindedElement, "The blinded element must be 32 bytes of standard base64 encoding a ristretto255 element; the kit code was not used."),
            E::MalformedToken => (C::MalformedSelfReportToken, "The token's input must be 32 bytes and its output 64 bytes of standard base64."),
            E::Kit(R::Unknown) => (C::UnknownKitCode, "There is no such kit code; check it and try again."),
            E::Kit(R::Expired) => (C::KitCodeExpired, "The kit code has expired."),
            E::Kit(R::Used) => (C::KitCodeUsed, "The kit code has already been used."),
            E::InvalidToken => (C::InvalidSelfReportToken, "The token does not verify under this server's self-report key."),
            E::TokenUsed => (C::SelfReportTokenUsed, "The token has already been redeemed."),
            E::Quota => (C::SelfReportQuotaExceeded, "Today's self-reports are used up; try again tomorrow."),
            E::Code(e) => return e.into(),
            E::Store(e) => return e.into(),
        };
        ApiError::new(code, msg)
    }
}
