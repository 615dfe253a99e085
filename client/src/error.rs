//! The one error type of the client crate.

use std::path::PathBuf;

use en_api::keyfile::KeyFileError;
use en_api::ErrorCode;

/// Everything that can go wrong in a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        /// The server's base URL.
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The server refused the request.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// A self-report answer the phone refuses (a proof that does not verify for the key it
    /// holds, or a malformed element): nothing is kept.
    #[error("self-report answer refused: {0}")]
    SelfReport(#[from] en_protocol::selfreport::SelfReportError),
    /// The server's answer was not what the API promises.
    #[error("the server's answer is not valid: {0}")]
    BadAnswer(&'static str),
    /// A signed object failed decoding or verification, or broke a protocol rule.
    #[error("{what}: {source}")]
    Protocol {
        /// Which object.
        what: String,
        /// The protocol's reason.
        source: en_protocol::Error,
    },
    /// A key file could not be used.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// A file could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// "read", "write", …
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An argument is invalid (the message says which and why).
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// Wraps a protocol error with the object it concerns.
    pub fn protocol(what: impl Into<String>, source: impl Into<en_protocol::Error>) -> Self {
        Error::Protocol {
            what: what.into(),
            source: source.into(),
        }
    }

    /// An IO error on `path`.
    pub fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Why the server refused a request: its status, stable code and sentence.
#[derive(Debug, Clone, thiserror::Error)]
#[error("server answered {status} {code}: {message}")]
pub struct Refused {
    /// HTTP status.
    pub status: u16,
    /// Stable error code (`unknown` if the body was not an error body).
    pub code: String,
    /// The server's sentence.
    pub message: String,
}

impl Refused {
    /// The code, if it is one of the API's.
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::from_str(&self.code)
    }
}
