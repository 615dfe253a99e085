//! [`PhoneError`]: the protocol's one error enum, flattened for foreign languages into its
//! kind and its stable code (the same codes as the test vectors and the HTTP API).

use en_protocol::Error;

/// Why a call was refused. Every variant carries `code`, the protocol's stable,
/// machine-readable error code (`"index_rollback"`, `"batch_hash_mismatch"`, `"usage"`, …; see
/// `spec/`), and `detail`, a sentence for logs. Neither ever contains key material.
///
/// The variant says who is at fault, as in `en_protocol::Error`: the server or a mirror
/// (`Decode`, `Verify`, `Validation`, `Follow`) or the app (`Usage`). A refused call changes
/// nothing in the phone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum PhoneError {
    /// The bytes are not a canonical encoding of the expected format.
    #[error("{code}: {detail}")]
    Decode {
        /// Stable error code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// The bytes decoded but a signature or chain check failed.
    #[error("{code}: {detail}")]
    Verify {
        /// Stable error code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// Authentic content that breaks a rule of the protocol.
    #[error("{code}: {detail}")]
    Validation {
        /// Stable error code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// An authentic message the phone must not follow: stale, rolled back, forked or gapped
    /// chains, a batch other than the one asked for. `chain_gap` can be bridged by
    /// `Phone.resync()`; nothing else should be worked around.
    #[error("{code}: {detail}")]
    Follow {
        /// Stable error code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// The app called the API in a way it does not support (`code` is `"usage"`).
    #[error("{code}: {detail}")]
    Usage {
        /// Stable error code.
        code: String,
        /// What was wrong.
        detail: String,
    },
    /// A kind of protocol error this binding does not know yet; its code is still stable.
    #[error("{code}: {detail}")]
    Other {
        /// Stable error code.
        code: String,
        /// What was wrong.
        detail: String,
    },
}

impl PhoneError {
    /// The protocol's stable error code.
    pub fn code(&self) -> &str {
        match self {
            PhoneError::Decode { code, .. }
            | PhoneError::Verify { code, .. }
            | PhoneError::Validation { code, .. }
            | PhoneError::Follow { code, .. }
            | PhoneError::Usage { code, .. }
            | PhoneError::Other { code, .. } => code,
        }
    }
}

impl From<Error> for PhoneError {
    fn from(e: Error) -> Self {
        let code = e.code().to_string();
        let detail = e.to_string();
        match e {
            Error::Decode(_) => PhoneError::Decode { code, detail },
            Error::Verify(_) => PhoneError::Verify { code, detail },
            Error::Validation(_) => PhoneError::Validation { code, detail },
            Error::Follow(_) => PhoneError::Follow { code, detail },
            Error::Usage(_) => PhoneError::Usage { code, detail },
            _ => PhoneError::Other { code, detail },
        }
    }
}

impl From<en_protocol::DecodeError> for PhoneError {
    fn from(e: en_protocol::DecodeError) -> Self {
        Error::from(e).into()
    }
}
