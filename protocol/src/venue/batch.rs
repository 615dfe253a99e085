//! Trace batch (`ENTB`): the server-signed, hash-chained unit of trace entries phones
//! download, with the key batch's header (a [`BatchHeader`], so one chain follower serves
//! both) and its own signature context.
//!
//! Entries are sorted by (hour, identity), one per venue-hour. Padding entries from
//! [`fake_trace`] look like real ones to anyone who was not at the venue.

use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

use super::report::{TraceEntry, ENTRY_LEN, MESSAGE_LEN};
use super::{context, curve, Hour};
use crate::error::{DecodeError, Error, VerifyError};
use crate::keys::{KeyId, SigningKey};
use crate::time::UnixTime;
use crate::verify::ExportKeys;
use crate::wire::batch::{BatchHash, BatchHeader};
use crate::wire::chain::{ChainFormat, IndexFormat};
use crate::wire::{put_header, split_signature, Reader, Region};

/// Magic of a trace batch.
pub const MAGIC: &[u8; 4] = b"ENTB";
/// Most entries one trace batch may hold (369 MB; a day of 10,000 traced venue-hours is 3.7 MB).
pub const MAX_ENTRIES: u32 = 1_000_000;

/// The content of a trace batch before signing.
#[derive(Debug, Clone)]
pub struct TraceBatch {
    /// Region the traces are for.
    pub region: Region,
    /// 1 for the first batch of the chain, then +1 per batch.
    pub sequence: u64,
    /// Start of the window of publication (inclusive, Unix seconds).
    pub window_start: UnixTime,
    /// End of the window (exclusive); the next batch starts here.
    pub window_end: UnixTime,
    /// SHA-256 of the previous trace batch's bytes (`GENESIS_HASH` for sequence 1).
    pub prev_hash: BatchHash,
    /// Entries from verified trace reports and [`fake_trace`], in any order.
    pub entries: Vec<TraceEntry>,
}

impl TraceBatch {
    /// Sorts, encodes and signs (context `en/v1/trace-batch`). Fails on an empty window or
    /// on two entries for the same (hour, identity): the server keeps one of them.
    pub fn sign(mut self, key: &SigningKey) -> Result<Vec<u8>, Error> {
        if self.window_end <= self.window_start {
            return Err(Error::Usage("a batch window must not be empty"));
        }
        if self.sequence == 0 {
            return Err(Error::Usage("batch sequence numbers start at 1"));
        }
        if self.entries.len() > MAX_ENTRIES as usize {
            return Err(Error::Usage("too many entries for one trace batch"));
        }
        self.entries.sort_unstable_by_key(TraceEntry::sort_key);
        if self
            .entries
            .windows(2)
            .any(|w| w[0].sort_key() == w[1].sort_key())
        {
            return Err(Error::Usage(
                "a trace batch holds one entry per (hour, identity)",
            ));
        }
        let mut out = Vec::with_capacity(128 + self.entries.len() * ENTRY_LEN);
        put_header(&mut out, MAGIC);
        out.extend_from_slice(&key.public_key().key_id().0);
        self.region.write(&mut out);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.window_start.0.to_be_bytes());
        out.extend_from_slice(&self.window_end.0.to_be_bytes());
        out.extend_from_slice(&self.prev_hash);
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for e in &self.entries {
            e.write(&mut out);
        }
        let sig = key.sign(context::TRACE_BATCH, &out);
        out.extend_from_slice(&sig);
        Ok(out)
    }
}

/// A padding entry for `hour`: a random identity, a random point of G1 as the key (a
/// random multiple of the generator, distributed exactly as a real key is to anyone
/// without the venue's master secret), a random tag and a random message of the bucket
/// length. Only the server's own bookkeeping tells it apart from a real entry.
pub fn fake_trace(rng: &mut impl CryptoRngCore, hour: Hour) -> TraceEntry {
    let mut id = [0u8; 32];
    rng.fill_bytes(&mut id);
    let mut message = [0u8; MESSAGE_LEN];
    rng.fill_bytes(&mut message);
    TraceEntry {
        hour,
        id,
        key: curve::random_g1(rng).to_compressed(),
        tag: (rng.next_u32() & 15) as u8,
        message,
    }
}

/// A decoded trace batch whose signature has not been checked.
#[derive(Debug, Clone)]
pub struct SignedTraceBatch {
    header: BatchHeader,
    entries: Vec<TraceEntry>,
    bytes: Vec<u8>,
}

impl SignedTraceBatch {
    /// Strictly decodes a trace batch: the entry count is checked against the input length
    /// before allocating; entries must be strictly increasing by (hour, identity); tags are
    /// 4 bits; keys are checked for form (the identity and x ≥ p are refused), while curve
    /// and subgroup membership is checked per entry when a phone tries it
    /// ([`TraceEntry::key`]) or for all entries by [`VerifiedTraceBatch::check_keys`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (body, _) = split_signature(bytes, "trace batch")?;
        let mut r = Reader::new(body);
        r.header(MAGIC, "trace batch")?;
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
        let count = r.u32("entry count")?;
        if count > MAX_ENTRIES {
            return Err(DecodeError::TooMany {
                what: "trace entries",
                count: count.into(),
                max: MAX_ENTRIES.into(),
            });
        }
        super::exact_len(&r, count as usize * ENTRY_LEN, "trace entries")?;
        let mut entries: Vec<TraceEntry> = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let e = TraceEntry::read(&mut r, false)?;
            if entries.last().is_some_and(|p| p.sort_key() >= e.sort_key()) {
                return Err(DecodeError::NonCanonical(
                    "entries must be strictly increasing by (hour, identity)",
                ));
            }
            entries.push(e);
        }
        r.finish()?;
        let header = BatchHeader {
            region,
            sequence,
            window_start,
            window_end,
            prev_hash,
            key_id,
            key_count: count,
            hash: Sha256::digest(bytes).into(),
            size: bytes.len() as u64,
        };
        Ok(SignedTraceBatch {
            header,
            entries,
            bytes: bytes.to_vec(),
        })
    }

    /// The header (unauthenticated until verified); `key_count` counts entries.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The bytes as decoded.
    pub fn encode(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks the signature with the trusted export key the batch names.
    pub fn verify(self, trusted: &ExportKeys) -> Result<VerifiedTraceBatch, Error> {
        crate::verify::verify_export(
            trusted,
            &self.header.key_id,
            context::TRACE_BATCH,
            &self.bytes,
        )?;
        Ok(VerifiedTraceBatch {
            header: self.header,
            entries: self.entries,
        })
    }
}

/// A trace batch whose signature verified under a trusted export key.
#[derive(Debug, Clone)]
pub struct VerifiedTraceBatch {
    header: BatchHeader,
    entries: Vec<TraceEntry>,
}

impl VerifiedTraceBatch {
    /// The header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }
    /// The entries, sorted by (hour, identity).
    pub fn entries(&self) -> &[TraceEntry] {
        &self.entries
    }
    /// Checks every key for curve and subgroup membership (about 90 µs each): for servers,
    /// mirrors and auditors. Phones need not: matching checks each key it tries.
    pub fn check_keys(&self) -> Result<(), DecodeError> {
        self.entries.iter().try_for_each(|e| e.key().map(|_| ()))
    }
    /// Checks that this batch directly follows `prev` in its hash chain (the rule of key
    /// batches: same region, next sequence, `prev_hash`, contiguous windows).
    pub fn check_follows(&self, prev: &BatchHeader) -> Result<(), VerifyError> {
        let h = &self.header;
        if h.region != prev.region {
            return Err(VerifyError::BrokenChain("region changed"));
        }
        if h.sequence != prev.sequence + 1 {
            return Err(VerifyError::BrokenChain("sequence does not follow"));
        }
        if h.prev_hash != prev.hash {
            return Err(VerifyError::BrokenChain("previous hash does not match"));
        }
        if h.window_start != prev.window_end {
            return Err(VerifyError::BrokenChain("windows are not contiguous"));
        }
        Ok(())
    }
}

/// The chain of trace batches: `ENTB` batches listed by an `ENTX` index, followed by a
/// [`crate::phone::ChainFollower<TraceBatches>`] exactly as key batches are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TraceBatches;

impl ChainFormat for TraceBatches {
    const INDEX: IndexFormat = crate::wire::index::TRACE_INDEX;
    type Verified = VerifiedTraceBatch;
    fn decode_verify(bytes: &[u8], trusted: &ExportKeys) -> Result<VerifiedTraceBatch, Error> {
        SignedTraceBatch::decode(bytes)?.verify(trusted)
    }
    fn header(batch: &VerifiedTraceBatch) -> &BatchHeader {
        batch.header()
    }
}
