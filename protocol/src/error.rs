//! The one error type of the protocol crate.
//!
//! Following rustls, "the peer sent something wrong" ([`DecodeError`], [`VerifyError`],
//! [`ValidationError`], [`FollowError`]) is kept apart from "the caller misused the API"
//! ([`Error::Usage`]).

use thiserror::Error;

use crate::time::UnixTime;
use crate::wire::Region;

/// Everything that can go wrong in the protocol crate.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a canonical encoding of the expected format.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The bytes decoded but a signature, signer, certificate or MAC check failed.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The content is authentic but breaks a rule of the protocol (key ages, overlaps...).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Authentic server messages that a phone must not follow: stale, rolled back, forked
    /// or gapped chains, batches other than the one asked for.
    #[error(transparent)]
    Follow(#[from] FollowError),
    /// The caller asked for something the protocol cannot express.
    #[error("invalid use of the API: {0}")]
    Usage(&'static str),
}

impl Error {
    /// A stable, machine-readable code for this error (used in test vectors and HTTP errors).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Decode(e) => e.code(),
            Error::Verify(e) => e.code(),
            Error::Validation(e) => e.code(),
            Error::Follow(e) => e.code(),
            Error::Usage(_) => "usage",
        }
    }
}

impl DecodeError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::Truncated(_) => "truncated",
            DecodeError::TrailingBytes(_) => "trailing_bytes",
            DecodeError::BadMagic(_) => "bad_magic",
            DecodeError::UnsupportedVersion(_) => "unsupported_version",
            DecodeError::OutOfRange(_) => "out_of_range",
            DecodeError::TooMany { .. } => "too_many",
            DecodeError::NonCanonical(_) => "non_canonical",
            DecodeError::BadText(_) => "bad_encoding",
            DecodeError::InvalidPoint(_) => "invalid_point",
            DecodeError::IdentityPoint(_) => "identity_point",
        }
    }
}

impl VerifyError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::BadSignature => "bad_signature",
            VerifyError::UnknownAuthority => "unknown_authority",
            VerifyError::RevokedAuthority => "revoked_authority",
            VerifyError::WrongRegion => "wrong_region",
            VerifyError::UnknownExportKey => "unknown_export_key",
            VerifyError::Expired => "certificate_expired",
            VerifyError::NotYetValid => "not_yet_valid",
            VerifyError::WrongAudience => "wrong_audience",
            VerifyError::TekmacMismatch => "tekmac_mismatch",
            VerifyError::BrokenChain(_) => "broken_chain",
            VerifyError::SealedShare => "sealed_share_invalid",
            VerifyError::VenueKeyMismatch => "venue_key_mismatch",
            VerifyError::DecryptionFailed => "decryption_failed",
            VerifyError::ReencryptionCheck => "reencryption_check_failed",
            VerifyError::NoOverlap => "no_overlap",
            VerifyError::RevisionTokenMismatch => "revision_token_mismatch",
            VerifyError::RevisionTokenExpired => "revision_token_expired",
        }
    }
}

impl ValidationError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationError::NoKeys => "no_keys",
            ValidationError::TooManyKeys { .. } => "too_many_keys",
            ValidationError::KeyInFuture => "key_in_future",
            ValidationError::KeyTooOld => "key_too_old",
            ValidationError::OverlappingKeys => "overlapping_keys",
            ValidationError::DuplicateKey => "duplicate_key",
            ValidationError::ReportTooOld => "report_too_old",
            ValidationError::CertificateLifetimeTooLong { .. } => "certificate_lifetime_too_long",
            ValidationError::TraceHourOutOfRange => "trace_hour_out_of_range",
            ValidationError::RevisionTypeNotAllowed => "revision_type_not_allowed",
        }
    }
}

impl FollowError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            FollowError::WrongRegion { .. } => "wrong_region",
            FollowError::StaleIndex { .. } => "stale_index",
            FollowError::FutureIndex { .. } => "future_index",
            FollowError::IndexRollback { .. } => "index_rollback",
            FollowError::ChainRollback { .. } => "chain_rollback",
            FollowError::ChainGap { .. } => "chain_gap",
            FollowError::ChainFork { .. } => "chain_fork",
            FollowError::SequenceOverflow => "sequence_overflow",
            FollowError::UnexpectedBatch { .. } => "unexpected_batch",
            FollowError::BatchHashMismatch { .. } => "batch_hash_mismatch",
            FollowError::FutureBatch { .. } => "future_batch",
            FollowError::StaleConfig { .. } => "stale_config",
            FollowError::FutureConfig { .. } => "future_config",
            FollowError::ConfigRollback { .. } => "config_rollback",
        }
    }
}

/// Why a phone refused to follow an authentic (validly signed) index, batch or risk
/// configuration. Each is something a server or mirror holding the export key, or replaying
/// its old messages, could do to hide batches or freeze a phone; none is ever fixed up
/// silently (`spec/protocol.md`, "Following the chain").
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FollowError {
    /// The message is for another region than the phone follows.
    #[error("the message is for region {got}, this phone follows {expected}")]
    WrongRegion {
        /// The region the phone follows.
        expected: Region,
        /// The region the message names.
        got: Region,
    },
    /// The index was signed longer ago than the phone accepts.
    #[error("the index was signed at {}, more than {max_age} s before now ({})", generated_at.0, now.0)]
    StaleIndex {
        /// When it was signed.
        generated_at: UnixTime,
        /// The phone's time.
        now: UnixTime,
        /// The largest accepted age, seconds.
        max_age: u64,
    },
    /// The index claims to be signed further in the future than clock skew explains.
    #[error("the index claims to be signed at {}, beyond the allowed clock skew of now ({})", generated_at.0, now.0)]
    FutureIndex {
        /// When it claims to be signed.
        generated_at: UnixTime,
        /// The phone's time.
        now: UnixTime,
    },
    /// The index is older than one the phone already accepted (a replay or a frozen mirror).
    #[error("the index was signed at {}, before the newest accepted index ({})", generated_at.0, newest_accepted.0)]
    IndexRollback {
        /// When it was signed.
        generated_at: UnixTime,
        /// When the newest accepted index was signed.
        newest_accepted: UnixTime,
    },
    /// The index lists nothing at or after the phone's last verified batch.
    #[error("the index ends at batch {newest_listed:?}, before the last verified batch {head}")]
    ChainRollback {
        /// The phone's last verified batch.
        head: u64,
        /// The newest batch the index lists, if any.
        newest_listed: Option<u64>,
    },
    /// Batches between what the phone has and what the index offers are missing. Following
    /// on would leave them unverified: only an explicit resync does that.
    #[error("chain gap: the phone has batch {have}, the index continues at batch {offered}")]
    ChainGap {
        /// The last batch the phone has (or could fetch).
        have: u64,
        /// The next batch the index offers.
        offered: u64,
    },
    /// Two different batches claim the same place in the chain.
    #[error("chain fork at batch {sequence}: the server shows a different batch than the phone verified")]
    ChainFork {
        /// The sequence number that has two versions.
        sequence: u64,
    },
    /// The chain reached sequence 2^64 - 1 and cannot continue.
    #[error("the chain reached the largest sequence number and cannot continue")]
    SequenceOverflow,
    /// An authentic batch, but not the one the phone asked for.
    #[error("expected batch {expected}, got batch {got}")]
    UnexpectedBatch {
        /// The sequence asked for.
        expected: u64,
        /// The sequence received.
        got: u64,
    },
    /// The bytes are not the batch the signed index announced (hash or size differ).
    #[error("batch {sequence} does not have the hash and size the index announced")]
    BatchHashMismatch {
        /// The sequence asked for.
        sequence: u64,
    },
    /// The batch's window ends further in the future than clock skew explains.
    #[error("batch {sequence}'s window ends at {}, beyond the allowed clock skew of now ({})", window_end.0, now.0)]
    FutureBatch {
        /// The batch.
        sequence: u64,
        /// Its window end.
        window_end: UnixTime,
        /// The phone's time.
        now: UnixTime,
    },
    /// The risk configuration was issued longer ago than the phone accepts.
    #[error("the risk configuration was issued at {}, more than {max_age} s before now ({})", issued_at.0, now.0)]
    StaleConfig {
        /// When it was issued.
        issued_at: UnixTime,
        /// The phone's time.
        now: UnixTime,
        /// The largest accepted age, seconds.
        max_age: u64,
    },
    /// The risk configuration claims to be issued further in the future than clock skew explains.
    #[error("the risk configuration claims to be issued at {}, beyond the allowed clock skew of now ({})", issued_at.0, now.0)]
    FutureConfig {
        /// When it claims to be issued.
        issued_at: UnixTime,
        /// The phone's time.
        now: UnixTime,
    },
    /// The risk configuration is older than one the phone already accepted.
    #[error("the risk configuration was issued at {}, before the newest accepted one ({})", issued_at.0, newest_accepted.0)]
    ConfigRollback {
        /// When it was issued.
        issued_at: UnixTime,
        /// When the newest accepted configuration was issued.
        newest_accepted: UnixTime,
    },
}

/// Why bytes were rejected by a strict decoder.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the field was complete.
    #[error("truncated input while reading {0}")]
    Truncated(&'static str),
    /// Bytes remain after a complete message.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// The first four bytes are not the format's magic.
    #[error("wrong magic: this is not a {0}")]
    BadMagic(&'static str),
    /// The version byte names a version this implementation does not speak.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// A field holds a value outside its documented range.
    #[error("field {0} is out of range")]
    OutOfRange(&'static str),
    /// A count exceeds the format's bound.
    #[error("too many {what}: {count} exceeds the limit of {max}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The count found.
        count: u64,
        /// The bound.
        max: u64,
    },
    /// The value is valid but not in its one canonical form (order, duplicates, unused entries).
    #[error("non-canonical encoding: {0}")]
    NonCanonical(&'static str),
    /// Base64 or hex text could not be decoded.
    #[error("invalid {0} encoding")]
    BadText(&'static str),
    /// A curve point is not the canonical encoding of a point of the prime-order subgroup.
    #[error("{0} is not a valid point of the prime-order subgroup")]
    InvalidPoint(&'static str),
    /// A curve point is the identity, which no valid key or ciphertext contains.
    #[error("{0} is the identity point")]
    IdentityPoint(&'static str),
}

/// Why an authentic-looking message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signature does not verify under the signer's key and this format's context.
    #[error("signature does not verify")]
    BadSignature,
    /// The authority that claims to have signed is not registered.
    #[error("unknown health authority")]
    UnknownAuthority,
    /// The authority is registered but revoked.
    #[error("health authority has been revoked")]
    RevokedAuthority,
    /// The authority may not report for this region.
    #[error("health authority is not allowed to report for this region")]
    WrongRegion,
    /// No trusted export key has the key id the message names.
    #[error("signed by an unknown export key")]
    UnknownExportKey,
    /// The certificate has expired (or its validity window is empty).
    #[error("verification certificate has expired")]
    Expired,
    /// The message claims to be issued in the future.
    #[error("issued in the future")]
    NotYetValid,
    /// The certificate was issued for another server.
    #[error("verification certificate is for another audience")]
    WrongAudience,
    /// The keys do not match the certificate's tekmac.
    #[error("keys do not match the certificate's HMAC")]
    TekmacMismatch,
    /// A batch does not follow its predecessor in the hash chain.
    #[error("batch does not continue the hash chain: {0}")]
    BrokenChain(&'static str),
    /// A sealed authority share does not open: sealed to another key, for another venue, or
    /// altered.
    #[error("the sealed authority share does not open for this venue")]
    SealedShare,
    /// A venue key fails the pairing check `e(sk, g2) = e(H1(id), mpk)`: it is for another
    /// venue or another hour.
    #[error("the key is not the venue's key for this hour")]
    VenueKeyMismatch,
    /// A trace key does not decrypt a check-in record (the usual outcome for a candidate
    /// that was at another venue).
    #[error("the trace key does not decrypt the check-in record")]
    DecryptionFailed,
    /// The record decrypted, but re-encrypting the plaintext does not give the ciphertext.
    #[error("the decrypted record fails the re-encryption check")]
    ReencryptionCheck,
    /// The record's visit does not overlap the traced hour.
    #[error("the visit does not overlap the traced hour")]
    NoOverlap,
    /// A revision token's MAC does not verify for these keys: forged, issued by another
    /// server, or for another key set.
    #[error("the revision token does not match these keys")]
    RevisionTokenMismatch,
    /// The revision token has expired.
    #[error("the revision token has expired")]
    RevisionTokenExpired,
}

/// Why the keys of an authentic upload break the protocol's rules.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// No keys at all.
    #[error("an upload must contain at least one key")]
    NoKeys,
    /// More keys than allowed in one upload.
    #[error("an upload may contain at most {max} keys, got {count}")]
    TooManyKeys {
        /// Keys in the upload.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A key starts after the current interval.
    #[error("a key starts in the future")]
    KeyInFuture,
    /// A key ended longer ago than the retention allows.
    #[error("a key is older than the maximum key age")]
    KeyTooOld,
    /// Two keys cover overlapping intervals (other than sharing a start, as GAEN allows).
    #[error("keys cover overlapping intervals")]
    OverlappingKeys,
    /// The same key appears twice.
    #[error("the same key appears twice")]
    DuplicateKey,
    /// A case report's issue time is too far in the past.
    #[error("the report was issued too long ago")]
    ReportTooOld,
    /// A certificate is valid for longer than the server accepts.
    #[error("the certificate is valid for longer than {max_seconds} seconds")]
    CertificateLifetimeTooLong {
        /// The server's cap.
        max_seconds: u64,
    },
    /// A traced hour is in the future or older than the check-in retention.
    #[error("a traced hour is in the future or older than the retention period")]
    TraceHourOutOfRange,
    /// A revision's certificate is not of type `confirmed` or `revoked`.
    #[error("a revision may only set keys to confirmed or revoked")]
    RevisionTypeNotAllowed,
}
