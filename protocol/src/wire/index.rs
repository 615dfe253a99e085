//! Index: the server-signed list of batches currently available, oldest first.

use super::batch::BatchHash;
use super::{put_header, split_signature, Reader, Region};
use crate::error::{DecodeError, Error};
use crate::keys::{context, KeyId, SigningKey};
use crate::time::UnixTime;
use crate::verify::{verify_export, ExportKeys};

/// Magic of an index.
pub const MAGIC: &[u8; 4] = b"ENIX";
/// Most entries one index may list.
pub const MAX_ENTRIES: u32 = 100_000;
const ENTRY_LEN: usize = 8 + 8 + 8 + 32 + 8;

/// One available batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Batch sequence number.
    pub sequence: u64,
    /// Window start.
    pub window_start: UnixTime,
    /// Window end.
    pub window_end: UnixTime,
    /// SHA-256 of the batch bytes.
    pub hash: BatchHash,
    /// Size of the batch in bytes.
    pub size: u64,
}

/// The content of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// Region.
    pub region: Region,
    /// When the index was generated.
    pub generated_at: UnixTime,
    /// Batches, by strictly increasing sequence.
    pub entries: Vec<IndexEntry>,
}

impl Index {
    /// Signs and encodes the index.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, Error> {
        if self.entries.len() > MAX_ENTRIES as usize {
            return Err(Error::Usage("too many index entries"));
        }
        if self
            .entries
            .windows(2)
            .any(|w| w[0].sequence >= w[1].sequence)
        {
            return Err(Error::Usage(
                "index entries must have increasing sequence numbers",
            ));
        }
        let mut out = Vec::with_capacity(64 + self.entries.len() * ENTRY_LEN);
        put_header(&mut out, MAGIC);
        out.extend_from_slice(&key.public_key().key_id().0);
        self.region.write(&mut out);
        out.extend_from_slice(&self.generated_at.0.to_be_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for e in &self.entries {
            out.extend_from_slice(&e.sequence.to_be_bytes());
            out.extend_from_slice(&e.window_start.0.to_be_bytes());
            out.extend_from_slice(&e.window_end.0.to_be_bytes());
            out.extend_from_slice(&e.hash);
            out.extend_from_slice(&e.size.to_be_bytes());
        }
        let sig = key.sign(context::INDEX, &out);
        out.extend_from_slice(&sig);
        Ok(out)
    }
}

/// A decoded, unverified index.
#[derive(Debug, Clone)]
pub struct SignedIndex {
    key_id: KeyId,
    index: Index,
    bytes: Vec<u8>,
}

impl SignedIndex {
    /// Strictly decodes an index.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (body, _) = split_signature(bytes, "index")?;
        let mut r = Reader::new(body);
        r.header(MAGIC, "index")?;
        let key_id = KeyId(r.array("key id")?);
        let region = Region::read(&mut r)?;
        let generated_at = UnixTime(r.u64("generated at")?);
        let n = r.u32("entry count")?;
        if n > MAX_ENTRIES {
            return Err(DecodeError::TooMany {
                what: "index entries",
                count: n.into(),
                max: MAX_ENTRIES.into(),
            });
        }
        let need = n as usize * ENTRY_LEN;
        if r.remaining() < need {
            return Err(DecodeError::Truncated("index entries"));
        }
        let mut entries: Vec<IndexEntry> = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let e = IndexEntry {
                sequence: r.u64("sequence")?,
                window_start: UnixTime(r.u64("window start")?),
                window_end: UnixTime(r.u64("window end")?),
                hash: r.array("hash")?,
                size: r.u64("size")?,
            };
            if e.sequence == 0 || e.window_end <= e.window_start {
                return Err(DecodeError::OutOfRange("index entry"));
            }
            if entries.last().is_some_and(|p| p.sequence >= e.sequence) {
                return Err(DecodeError::NonCanonical(
                    "index entries must have increasing sequence numbers",
                ));
            }
            entries.push(e);
        }
        r.finish()?;
        Ok(SignedIndex {
            key_id,
            index: Index {
                region,
                generated_at,
                entries,
            },
            bytes: bytes.to_vec(),
        })
    }

    /// The bytes as decoded.
    pub fn encode(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks the signature.
    pub fn verify(self, trusted: &ExportKeys) -> Result<VerifiedIndex, Error> {
        verify_export(trusted, &self.key_id, context::INDEX, &self.bytes)?;
        Ok(VerifiedIndex(self.index))
    }
}

/// An index whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedIndex(Index);

impl VerifiedIndex {
    /// The verified content.
    pub fn index(&self) -> &Index {
        &self.0
    }
}
