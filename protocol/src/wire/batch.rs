//! Batch: the server-signed, hash-chained unit of diagnosis keys that phones download.
//!
//! Compactness: keys of a daily batch share few distinct metadata tuples (start day, period,
//! risk, report type, days since onset), so metadata is stored once in a table; the keys
//! follow, sorted, 16 bytes each, then each key's table index, bit-packed in ⌈log₂ T⌉ bits
//! (T = table entries): about 17.1–17.4 bytes per key for a daily batch, against about 30 for
//! GAEN's protobuf export.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::chain::{ChainFormat, IndexFormat};
use super::key::{DiagnosisKey, KeyMetadata, METADATA_LEN};
use super::{put_header, split_signature, Reader, Region};
use crate::error::{DecodeError, Error, VerifyError};
use crate::keys::{context, KeyId, SigningKey, TemporaryExposureKey, TEK_LEN};
use crate::time::UnixTime;
use crate::verify::ExportKeys;

/// Magic of a batch.
pub const MAGIC: &[u8; 4] = b"ENBA";
/// Most keys one batch may hold (GAEN's phones cap a file at 1,000,000; we allow 4x).
pub const MAX_KEYS: u32 = 4_000_000;
/// Most distinct metadata tuples in one batch (the u16 index bound).
pub const MAX_TABLE: usize = 65_536;
/// SHA-256 of a batch's full bytes.
pub type BatchHash = [u8; 32];
/// The `prev_hash` of the first batch of a chain.
pub const GENESIS_HASH: BatchHash = [0u8; 32];

/// The content of a batch before signing.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Region the keys are for.
    pub region: Region,
    /// 1 for the first batch, then +1 per batch.
    pub sequence: u64,
    /// Start of the window of publication (inclusive, Unix seconds).
    pub window_start: UnixTime,
    /// End of the window (exclusive); the next batch starts here.
    pub window_end: UnixTime,
    /// SHA-256 of the previous batch's bytes ([`GENESIS_HASH`] for sequence 1).
    pub prev_hash: BatchHash,
    /// The keys, in any order (encoding sorts them).
    pub keys: Vec<DiagnosisKey>,
}

/// Everything about a batch except its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchHeader {
    /// Region.
    pub region: Region,
    /// Sequence number.
    pub sequence: u64,
    /// Window start.
    pub window_start: UnixTime,
    /// Window end.
    pub window_end: UnixTime,
    /// Hash of the previous batch.
    pub prev_hash: BatchHash,
    /// Export key that signed.
    pub key_id: KeyId,
    /// Number of records (keys, in a key batch).
    pub key_count: u32,
    /// SHA-256 of the whole encoded batch; the next batch's `prev_hash`.
    pub hash: BatchHash,
    /// Encoded size in bytes.
    pub size: u64,
}

fn meta_bytes(m: &KeyMetadata) -> [u8; METADATA_LEN] {
    let mut v = Vec::with_capacity(METADATA_LEN);
    m.write(&mut v);
    v.try_into().expect("metadata is 8 bytes")
}

/// Bits per packed table index: ⌈log₂ T⌉ (0 when there is at most one entry).
fn index_bits(table_len: usize) -> u32 {
    if table_len <= 1 {
        0
    } else {
        usize::BITS - (table_len - 1).leading_zeros()
    }
}

/// Bytes of the packed index array.
fn index_bytes(count: u64, bits: u32) -> u64 {
    (count * u64::from(bits)).div_ceil(8)
}

impl Batch {
    /// Sorts, encodes and signs the batch. Fails on duplicate keys or out-of-range metadata.
    pub fn sign(mut self, key: &SigningKey) -> Result<Vec<u8>, Error> {
        if self.window_end <= self.window_start {
            return Err(Error::Usage("a batch window must not be empty"));
        }
        if self.keys.len() > MAX_KEYS as usize {
            return Err(Error::Usage("too many keys for one batch"));
        }
        self.keys
            .sort_unstable_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
        if self.keys.windows(2).any(|w| w[0].key == w[1].key) {
            return Err(Error::Usage("a batch cannot hold the same key twice"));
        }
        let mut table: BTreeMap<[u8; METADATA_LEN], usize> = BTreeMap::new();
        for k in &self.keys {
            k.meta.check()?;
            table.insert(meta_bytes(&k.meta), 0);
        }
        if table.len() > MAX_TABLE {
            return Err(Error::Usage(
                "too many distinct key metadata tuples for one batch",
            ));
        }
        for (i, v) in table.values_mut().enumerate() {
            *v = i;
        }
        let bits = index_bits(table.len());
        let mut out = Vec::with_capacity(
            128 + table.len() * METADATA_LEN
                + self.keys.len() * TEK_LEN
                + index_bytes(self.keys.len() as u64, bits) as usize,
        );
        put_header(&mut out, MAGIC);
        out.extend_from_slice(&key.public_key().key_id().0);
        self.region.write(&mut out);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.window_start.0.to_be_bytes());
        out.extend_from_slice(&self.window_end.0.to_be_bytes());
        out.extend_from_slice(&self.prev_hash);
        out.extend_from_slice(&((table.len().saturating_sub(1)) as u16).to_be_bytes());
        out.extend_from_slice(&(self.keys.len() as u32).to_be_bytes());
        for m in table.keys() {
            out.extend_from_slice(m);
        }
        for k in &self.keys {
            out.extend_from_slice(k.key.as_bytes());
        }
        // Indices, most significant bit first; the last byte's unused bits are zero.
        let (mut acc, mut nacc) = (0u64, 0u32);
        for k in &self.keys {
            acc = acc << bits | table[&meta_bytes(&k.meta)] as u64;
            nacc += bits;
            while nacc >= 8 {
                out.push((acc >> (nacc - 8)) as u8);
                nacc -= 8;
            }
        }
        if nacc > 0 {
            out.push((acc << (8 - nacc)) as u8);
        }
        let sig = key.sign(context::BATCH, &out);
        out.extend_from_slice(&sig);
        Ok(out)
    }
}

/// A decoded batch whose signature has not been checked.
#[derive(Debug, Clone)]
pub struct SignedBatch {
    header: BatchHeader,
    keys: Vec<DiagnosisKey>,
    bytes: Vec<u8>,
}

impl SignedBatch {
    /// Strictly decodes a batch. Sizes are checked against the input length before any
    /// allocation, so a hostile count cannot make the decoder allocate.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (body, _) = split_signature(bytes, "batch")?;
        let mut r = Reader::new(body);
        r.header(MAGIC, "batch")?;
        let key_id = KeyId(r.array("key id")?);
        let region = Region::read(&mut r)?;
        let sequence = r.u64("sequence")?;
        if sequence == 0 {
            return Err(DecodeError::OutOfRange("sequence"));
        }
        let window_start = UnixTime(r.u64("window start")?);
        let window_end = UnixTime(r.u64("window end")?);
        if window_end <= window_start {
            return Err(DecodeError::OutOfRange("window end"));
        }
        let prev_hash: BatchHash = r.array("previous hash")?;
        // The field holds (entries - 1), so that 65,536 entries fit; an empty batch has none.
        let table_field = r.u16("table length")?;
        let key_count = r.u32("key count")?;
        if key_count > MAX_KEYS {
            return Err(DecodeError::TooMany {
                what: "keys",
                count: key_count.into(),
                max: MAX_KEYS.into(),
            });
        }
        let table_len = match (key_count, table_field) {
            (0, 0) => 0,
            (0, _) => {
                return Err(DecodeError::NonCanonical(
                    "an empty batch has a zero table length field",
                ))
            }
            (_, f) => usize::from(f) + 1,
        };
        let bits = index_bits(table_len);
        let packed = index_bytes(u64::from(key_count), bits);
        let need =
            table_len as u64 * METADATA_LEN as u64 + u64::from(key_count) * TEK_LEN as u64 + packed;
        if (r.remaining() as u64) < need {
            return Err(DecodeError::Truncated("batch records"));
        }
        if (r.remaining() as u64) > need {
            return Err(DecodeError::TrailingBytes(r.remaining() - need as usize));
        }
        let mut table = Vec::with_capacity(table_len);
        let mut prev: Option<[u8; METADATA_LEN]> = None;
        for _ in 0..table_len {
            let raw: [u8; METADATA_LEN] = r.array("metadata")?;
            if prev.is_some_and(|p| p >= raw) {
                return Err(DecodeError::NonCanonical(
                    "metadata table must be strictly increasing",
                ));
            }
            prev = Some(raw);
            table.push(KeyMetadata::read(&mut Reader::new(&raw))?);
        }
        let mut used = vec![false; table_len];
        let mut raw_keys: Vec<[u8; TEK_LEN]> = Vec::with_capacity(key_count as usize);
        for _ in 0..key_count {
            let k: [u8; TEK_LEN] = r.array("key")?;
            if raw_keys.last().is_some_and(|p| p >= &k) {
                return Err(DecodeError::NonCanonical(
                    "keys must be strictly increasing",
                ));
            }
            raw_keys.push(k);
        }
        let packed_bytes = r.take(packed as usize, "indices")?;
        let mut keys = Vec::with_capacity(key_count as usize);
        let (mut acc, mut nacc, mut next) = (0u64, 0u32, 0usize);
        let mask = (1u64 << bits) - 1;
        for k in raw_keys {
            while nacc < bits {
                acc = acc << 8 | u64::from(packed_bytes[next]);
                next += 1;
                nacc += 8;
            }
            let i = ((acc >> (nacc - bits)) & mask) as usize;
            nacc -= bits;
            let meta = *table
                .get(i)
                .ok_or(DecodeError::OutOfRange("metadata index"))?;
            used[i] = true;
            keys.push(DiagnosisKey {
                key: TemporaryExposureKey::from_bytes(k),
                meta,
            });
        }
        if nacc > 0 && acc & ((1u64 << nacc) - 1) != 0 {
            return Err(DecodeError::NonCanonical("unused index bits must be zero"));
        }
        if used.iter().any(|u| !u) {
            return Err(DecodeError::NonCanonical(
                "every metadata entry must be used",
            ));
        }
        r.finish()?;
        let header = BatchHeader {
            region,
            sequence,
            window_start,
            window_end,
            prev_hash,
            key_id,
            key_count,
            hash: Sha256::digest(bytes).into(),
            size: bytes.len() as u64,
        };
        Ok(SignedBatch {
            header,
            keys,
            bytes: bytes.to_vec(),
        })
    }

    /// The header (unauthenticated until verified).
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The bytes as decoded.
    pub fn encode(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks the signature with the trusted export key the batch names.
    pub fn verify(self, trusted: &ExportKeys) -> Result<VerifiedBatch, Error> {
        crate::verify::verify_export(trusted, &self.header.key_id, context::BATCH, &self.bytes)?;
        Ok(VerifiedBatch {
            header: self.header,
            keys: self.keys,
        })
    }
}

/// A batch whose signature verified under a trusted export key.
#[derive(Debug, Clone)]
pub struct VerifiedBatch {
    header: BatchHeader,
    keys: Vec<DiagnosisKey>,
}

impl VerifiedBatch {
    /// The header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }
    /// The keys, sorted by key bytes.
    pub fn keys(&self) -> &[DiagnosisKey] {
        &self.keys
    }
    /// Checks that this batch directly follows `prev` in the hash chain (see
    /// [`BatchHeader::check_follows`]).
    pub fn check_follows(&self, prev: &BatchHeader) -> Result<(), VerifyError> {
        self.header.check_follows(prev)
    }
}

impl BatchHeader {
    /// Checks that the batch with this header directly follows `prev` in the hash chain:
    /// same region, next sequence, `prev_hash` equal to `prev`'s hash, contiguous window.
    /// Nothing follows sequence `u64::MAX`.
    pub fn check_follows(&self, prev: &BatchHeader) -> Result<(), VerifyError> {
        if self.region != prev.region {
            return Err(VerifyError::BrokenChain("region changed"));
        }
        if prev.sequence.checked_add(1) != Some(self.sequence) {
            return Err(VerifyError::BrokenChain("sequence does not follow"));
        }
        if self.prev_hash != prev.hash {
            return Err(VerifyError::BrokenChain("previous hash does not match"));
        }
        if self.window_start != prev.window_end {
            return Err(VerifyError::BrokenChain("windows are not contiguous"));
        }
        Ok(())
    }
}

/// The chain of key batches: `ENBA` batches listed by an `ENIX` index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyBatches;

impl ChainFormat for KeyBatches {
    const INDEX: IndexFormat = super::index::KEY_INDEX;
    type Verified = VerifiedBatch;
    fn decode_verify(bytes: &[u8], trusted: &ExportKeys) -> Result<VerifiedBatch, Error> {
        SignedBatch::decode(bytes)?.verify(trusted)
    }
    fn header(batch: &VerifiedBatch) -> &BatchHeader {
        batch.header()
    }
}
