//! The one place where errors become HTTP: a status, a stable error code and a sentence.
//!
//! Every rejection is `{"error": "<code>", "message": "<sentence>"}` with a 4xx status (a bulk
//! upload adds `"report": <index>` when one report is at fault). Only a storage failure (not
//! the client's fault) is a 5xx.

use bytes::Bytes;
use en_protocol::{DecodeError, Error as ProtoError, ValidationError, VerifyError};
use hyper::{Response, StatusCode};

use crate::store::StoreError;

/// An error response.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// A sentence a person understands.
    pub message: String,
    /// In a bulk upload, the index of the report that was refused.
    pub report: Option<usize>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            report: None,
        }
    }
    /// The same error, attributed to report `index` of a bulk upload.
    pub fn at_report(mut self, index: usize) -> Self {
        self.message = format!("Report {index}: {}", self.message);
        self.report = Some(index);
        self
    }
    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// A decoding failure of the named object (`malformed_report`, `malformed_certificate`).
    pub fn malformed(code: &'static str, what: &str, e: DecodeError) -> Self {
        Self::bad_request(code, format!("The {what} could not be decoded: {e}."))
    }
    /// The JSON response body.
    pub fn body(&self) -> String {
        match self.report {
            None => serde_json::json!({"error": self.code, "message": self.message}),
            Some(i) => {
                serde_json::json!({"error": self.code, "message": self.message, "report": i})
            }
        }
        .to_string()
    }
    /// The full response.
    pub fn into_response(self) -> Response<http_body_util::Full<Bytes>> {
        let mut r = Response::new(http_body_util::Full::new(Bytes::from(self.body())));
        *r.status_mut() = self.status;
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        r
    }
}

impl From<ProtoError> for ApiError {
    fn from(e: ProtoError) -> Self {
        match e {
            ProtoError::Decode(d) => ApiError::bad_request(
                "malformed",
                format!("The request could not be decoded: {d}."),
            ),
            ProtoError::Verify(v) => v.into(),
            ProtoError::Validation(v) => v.into(),
            ProtoError::Usage(m) => ApiError::bad_request("invalid_request", m),
            other => ApiError::bad_request("invalid_request", other.to_string()),
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        use StatusCode as S;
        let (status, msg) = match &e {
            VerifyError::BadSignature => (S::UNAUTHORIZED, "The signature does not verify with the health authority's registered key."),
            VerifyError::UnknownAuthority => (S::UNAUTHORIZED, "The health authority is not registered with this server."),
            VerifyError::RevokedAuthority => (S::FORBIDDEN, "The health authority has been revoked; its uploads are no longer accepted."),
            VerifyError::WrongRegion => (S::FORBIDDEN, "The health authority may not report for this region."),
            VerifyError::UnknownExportKey => (S::BAD_REQUEST, "The message names an unknown export key."),
            VerifyError::Expired => (S::UNAUTHORIZED, "The verification certificate has expired; ask the health authority for a new one."),
            VerifyError::NotYetValid => (S::BAD_REQUEST, "The report or certificate claims to be issued in the future; check the issuer's clock."),
            VerifyError::WrongAudience => (S::UNAUTHORIZED, "The verification certificate was issued for another server."),
            VerifyError::TekmacMismatch => (S::UNAUTHORIZED, "The keys are not the ones the verification certificate was issued for."),
            VerifyError::BrokenChain(_) => (S::BAD_REQUEST, "The batch does not continue the hash chain."),
            _ => (S::BAD_REQUEST, "The request could not be verified."),
        };
        ApiError::new(status, e.code(), msg)
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        let msg = match &e {
            ValidationError::NoKeys => "The upload contains no keys.".to_string(),
            ValidationError::TooManyKeys { count, max } => {
                format!("The upload contains {count} keys; at most {max} are accepted.")
            }
            ValidationError::KeyInFuture => "A key starts in the future.".to_string(),
            ValidationError::KeyTooOld => "A key is older than the maximum key age.".to_string(),
            ValidationError::OverlappingKeys => {
                "Two keys cover overlapping time intervals.".to_string()
            }
            ValidationError::DuplicateKey => {
                "The same key appears twice in the upload.".to_string()
            }
            ValidationError::ReportTooOld => {
                "The case report was issued too long ago; sign a new one.".to_string()
            }
            other => format!("{other}."),
        };
        ApiError::bad_request(e.code(), msg)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Replayed(_) => ApiError::new(
                StatusCode::CONFLICT,
                "replayed",
                "This case report or certificate has already been used.",
            ),
            StoreError::KeyExists(_) => ApiError::new(
                StatusCode::CONFLICT,
                "key_exists",
                "A key in this upload has already been uploaded.",
            ),
            StoreError::QuotaExceeded(_) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "quota_exceeded",
                "The health authority's daily upload quota is used up; try again tomorrow.",
            ),
            e @ (StoreError::Io(_) | StoreError::Corrupt(_) | StoreError::OldLayout) => {
                tracing::error!(error = %e, "storage failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "storage_error",
                    "The server could not store the upload; nothing was stored. Try again.",
                )
            }
        }
    }
}
