//! Index: the server-signed list of batches currently available, oldest first.
//!
//! Every hash chain has an index of the same layout; only the magic and the signature
//! context differ ([`IndexFormat`]). [`SignedIndex::decode`] and [`Index::sign`] speak the
//! key chain's `ENIX`; [`SignedIndex::decode_as`] and [`Index::sign_as`] any chain's.

use super::batch::BatchHash;
use super::chain::IndexFormat;
use super::{split_signature, Reader, Region, VERSION};
use crate::error::{DecodeError, Error};
use crate::keys::{context, KeyId, SigningKey};
use crate::time::UnixTime;
use crate::verify::{verify_export, ExportKeys};

/// Magic of the key chain's index.
pub const MAGIC: &[u8; 4] = b"ENIX";
/// The key chain's index: magic `ENIX`, context `en/v1/index`.
pub const KEY_INDEX: IndexFormat = IndexFormat::new("index", *MAGIC, context::INDEX);
/// Magic of the venue trace chain's index.
pub const TRACE_MAGIC: &[u8; 4] = b"ENTX";
/// The venue trace chain's index (trace batches, `ENTB`): magic `ENTX`, context
/// `en/v1/trace-index`.
pub const TRACE_INDEX: IndexFormat = IndexFormat::new(
    "trace index",
    *TRACE_MAGIC,
    crate::venue::context::TRACE_INDEX,
);
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
    /// Signs and encodes the index of the key chain ([`KEY_INDEX`]).
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, Error> {
        self.sign_as(&KEY_INDEX, key)
    }

    /// Signs and encodes the index of the chain whose index is framed as `format`.
    pub fn sign_as(&self, format: &IndexFormat, key: &SigningKey) -> Result<Vec<u8>, Error> {
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
        out.extend_from_slice(&format.magic);
        out.push(VERSION);
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
        let sig = key.sign(format.context, &out);
        out.extend_from_slice(&sig);
        Ok(out)
    }
}

/// A decoded, unverified index.
#[derive(Debug, Clone)]
pub struct SignedIndex {
    format: IndexFormat,
    key_id: KeyId,
    index: Index,
    bytes: Vec<u8>,
}

impl SignedIndex {
    /// Strictly decodes an index of the key chain ([`KEY_INDEX`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_as(bytes, &KEY_INDEX)
    }

    /// Strictly decodes an index framed as `format` (its magic; [`Self::verify`] checks the
    /// signature under its context).
    pub fn decode_as(bytes: &[u8], format: &IndexFormat) -> Result<Self, DecodeError> {
        let (body, _) = split_signature(bytes, format.name)?;
        let mut r = Reader::new(body);
        r.header(&format.magic, format.name)?;
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
            format: *format,
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

    /// The format it was decoded as.
    pub fn format(&self) -> &IndexFormat {
        &self.format
    }

    /// Checks the signature under the context of the format it was decoded as.
    pub fn verify(self, trusted: &ExportKeys) -> Result<VerifiedIndex, Error> {
        verify_export(trusted, &self.key_id, self.format.context, &self.bytes)?;
        Ok(VerifiedIndex {
            format: self.format,
            index: self.index,
        })
    }
}

/// An index whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedIndex {
    format: IndexFormat,
    index: Index,
}

impl VerifiedIndex {
    /// The verified content.
    pub fn index(&self) -> &Index {
        &self.index
    }
    /// Which chain's index it is (the context its signature verified under).
    pub fn format(&self) -> &IndexFormat {
        &self.format
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    const OTHER: IndexFormat = IndexFormat::new("test index", *b"ENXX", b"en/v1/test-index");

    #[test]
    fn each_chain_index_verifies_only_as_itself() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let sk = SigningKey::generate(&mut rng);
        let trusted = ExportKeys::from(sk.public_key());
        let idx = Index {
            region: Region::new("VN").unwrap(),
            generated_at: UnixTime(1_700_000_000),
            entries: vec![],
        };
        let keys = idx.sign(&sk).unwrap();
        let other = idx.sign_as(&OTHER, &sk).unwrap();
        assert_eq!(&keys[..4], MAGIC);
        assert_eq!(&other[..4], b"ENXX");
        let v = SignedIndex::decode_as(&other, &OTHER).unwrap();
        assert_eq!(v.encode(), &other[..]);
        assert_eq!(v.verify(&trusted).unwrap().format(), &OTHER);
        let bad = |e: Error| e.code();
        assert_eq!(
            bad(SignedIndex::decode(&other).unwrap_err().into()),
            "bad_magic"
        );
        assert_eq!(
            bad(SignedIndex::decode_as(&keys, &OTHER).unwrap_err().into()),
            "bad_magic"
        );
        // The other chain's magic on a key index signature: the context differs.
        let mut forged = keys.clone();
        forged[..4].copy_from_slice(b"ENXX");
        let s = SignedIndex::decode_as(&forged, &OTHER).unwrap();
        assert_eq!(bad(s.verify(&trusted).unwrap_err()), "bad_signature");
    }
}
