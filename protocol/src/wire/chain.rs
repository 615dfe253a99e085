//! Hash-chained batch formats, as a chain follower sees them.
//!
//! Key batches (`ENBA`, listed by an `ENIX` index) are one chain; venue trace batches (`ENTB`,
//! listed by an `ENTX` index) are another.
//! Each chain has its own batch magic and signature context and its own index magic and
//! context (so an index of one chain never verifies as another's), but every batch carries
//! the same [`BatchHeader`] and every index the same entries. [`ChainFormat`] is what
//! [`crate::phone::ChainFollower`] needs to follow any of them.

use super::batch::BatchHeader;
use crate::error::Error;
use crate::verify::ExportKeys;

/// How the index of one chain is framed: its magic and its signature context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexFormat {
    /// What the index is called in errors ("index", "trace index", …).
    pub name: &'static str,
    /// The 4-byte magic the index opens with.
    pub magic: [u8; 4],
    /// The signature context (spec/wire-format.md §8).
    pub context: &'static [u8],
}

impl IndexFormat {
    /// An index format; `context` must differ from every other signature context.
    pub const fn new(name: &'static str, magic: [u8; 4], context: &'static [u8]) -> Self {
        IndexFormat {
            name,
            magic,
            context,
        }
    }
}

/// One kind of hash-chained, export-signed batch.
pub trait ChainFormat {
    /// The index that lists this chain's batches.
    const INDEX: IndexFormat;
    /// A batch of this chain whose signature verified (a type only verification yields).
    type Verified;
    /// Strictly decodes `bytes` as a batch of this chain and verifies its signature with the
    /// trusted export key it names.
    fn decode_verify(bytes: &[u8], trusted: &ExportKeys) -> Result<Self::Verified, Error>;
    /// The header every chain's batches share (sequence, window, hashes, region, signer).
    fn header(batch: &Self::Verified) -> &BatchHeader;
}
