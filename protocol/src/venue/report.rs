//! Trace entries and the trace report (`ENTR`): the health authority's signed publication of
//! a venue's identity keys for the traced hours, each with a message only visitors can read.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce, Tag};
use blstrs::G1Affine;
use hkdf::Hkdf;
use rand_core::CryptoRngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::context;
use super::curve::{self, G1_LEN};
use super::ids::{self, VenueSecrets};
use super::trace::{CheckedTrace, MAX_TRACE_HOURS};
use super::{labels, Hour};
use crate::error::{DecodeError, Error};
use crate::keys::SigningKey;
use crate::time::UnixTime;
use crate::verify::{verify_authority, AuthorityRegistry};
use crate::wire::{put_header, split_signature, AuthorityId, Reader, Region};

/// Magic of a trace report.
pub const MAGIC: &[u8; 4] = b"ENTR";
/// Plaintext bytes of every message: u16 length ‖ UTF-8 ‖ zero padding. One bucket for all
/// messages, so a message's length does not tell one venue's trace from another's.
pub const MESSAGE_BUCKET: usize = 256;
/// Longest message text in UTF-8 bytes.
pub const MAX_MESSAGE: usize = MESSAGE_BUCKET - 2;
/// Bytes of an encrypted message: nonce (12) ‖ ciphertext (256) ‖ tag (16).
pub const MESSAGE_LEN: usize = 12 + MESSAGE_BUCKET + 16;
/// Bytes of one trace entry: hour (4) ‖ id (32) ‖ key (48) ‖ tag (1) ‖ message (284).
pub const ENTRY_LEN: usize = 4 + 32 + G1_LEN + 1 + MESSAGE_LEN;

/// One published venue-hour: the identity, its key, the 4-bit day tag and the message.
///
/// Built by the authority from a [`CheckedTrace`], by [`super::batch::fake_trace`], or by a
/// decoder. Decoders check the key's form but not its curve membership (see
/// [`TraceEntry::key`]): a phone pays that check only for the entries it tries.
#[derive(Clone, PartialEq, Eq)]
pub struct TraceEntry {
    pub(crate) hour: Hour,
    pub(crate) id: [u8; 32],
    pub(crate) key: [u8; G1_LEN],
    pub(crate) tag: u8,
    pub(crate) message: [u8; MESSAGE_LEN],
}

impl std::fmt::Debug for TraceEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TraceEntry(hour={}, id={}…, tag={})",
            self.hour.0,
            crate::hex::encode(&self.id[..6]),
            self.tag
        )
    }
}

impl TraceEntry {
    /// The traced hour.
    pub fn hour(&self) -> Hour {
        self.hour
    }
    /// The hour's identity.
    pub fn id(&self) -> &[u8; 32] {
        &self.id
    }
    /// The identity key as published (compressed G1).
    pub fn key_bytes(&self) -> &[u8; G1_LEN] {
        &self.key
    }
    /// The identity key, fully checked: canonical, on the curve, in the subgroup, not the
    /// identity. Matching calls this before any pairing.
    pub fn key(&self) -> Result<G1Affine, DecodeError> {
        curve::g1_decode(&self.key, "trace key")
    }
    /// The 4-bit tag of (venue, day).
    pub fn tag(&self) -> u8 {
        self.tag
    }
    /// The encrypted message.
    pub fn message(&self) -> &[u8; MESSAGE_LEN] {
        &self.message
    }

    /// Encodes one entry (as inside reports and batches).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENTRY_LEN);
        self.write(&mut out);
        out
    }
    /// Decodes one entry as a trace batch does: the key's form is checked, its curve and
    /// subgroup membership only by [`Self::key`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let e = Self::read(&mut r, false)?;
        r.finish()?;
        Ok(e)
    }

    /// The canonical order of entries: by hour, then identity.
    pub(crate) fn sort_key(&self) -> (Hour, [u8; 32]) {
        (self.hour, self.id)
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hour.0.to_be_bytes());
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.key);
        out.push(self.tag);
        out.extend_from_slice(&self.message);
    }

    /// Reads an entry. `full_check` decides whether the key is checked for curve and
    /// subgroup membership here (reports: the server pays once per upload) or only its form
    /// (batches: phones check lazily, see [`TraceEntry::key`]).
    pub(crate) fn read(r: &mut Reader<'_>, full_check: bool) -> Result<Self, DecodeError> {
        let hour = Hour(r.u32("hour")?);
        let id = r.array("identity")?;
        let key = r.array::<G1_LEN>("trace key")?;
        if full_check {
            curve::g1_decode(&key, "trace key")?;
        } else {
            curve::g1_check_form(&key, "trace key")?;
        }
        let tag = r.u8("tag")?;
        if tag > 15 {
            return Err(DecodeError::OutOfRange("tag"));
        }
        Ok(TraceEntry {
            hour,
            id,
            key,
            tag,
            message: r.array("message")?,
        })
    }
}

fn message_cipher(notification_key: &[u8; 32], hour: Hour) -> Aes256Gcm {
    let mut k = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&[]), notification_key)
        .expand_multi_info(&[labels::MESSAGE, &hour.0.to_be_bytes()], k.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 length");
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(k.as_ref()))
}

/// Encrypts `text` for the visitors of one venue-hour.
fn seal_message(
    notification_key: &[u8; 32],
    hour: Hour,
    id: &[u8; 32],
    text: &str,
    rng: &mut impl CryptoRngCore,
) -> [u8; MESSAGE_LEN] {
    let mut out = [0u8; MESSAGE_LEN];
    rng.fill_bytes(&mut out[..12]);
    let (nonce, rest) = out.split_at_mut(12);
    let (body, tag_out) = rest.split_at_mut(MESSAGE_BUCKET);
    body[..2].copy_from_slice(&(text.len() as u16).to_be_bytes());
    body[2..2 + text.len()].copy_from_slice(text.as_bytes());
    let tag = message_cipher(notification_key, hour)
        .encrypt_in_place_detached(Nonce::from_slice(nonce), id, body)
        .expect("AES-GCM encrypts 256 bytes");
    tag_out.copy_from_slice(&tag);
    out
}

/// Decrypts a message; `None` if it does not open or is not a padded UTF-8 text.
pub(crate) fn open_message(notification_key: &[u8; 32], entry: &TraceEntry) -> Option<String> {
    let m = &entry.message;
    let mut body = Zeroizing::new([0u8; MESSAGE_BUCKET]);
    body.copy_from_slice(&m[12..12 + MESSAGE_BUCKET]);
    message_cipher(notification_key, entry.hour)
        .decrypt_in_place_detached(
            Nonce::from_slice(&m[..12]),
            &entry.id,
            body.as_mut(),
            Tag::from_slice(&m[12 + MESSAGE_BUCKET..]),
        )
        .ok()?;
    let n = usize::from(u16::from_be_bytes([body[0], body[1]]));
    if n > MAX_MESSAGE || body[2 + n..].iter().any(|&b| b != 0) {
        return None;
    }
    String::from_utf8(body[2..2 + n].to_vec()).ok()
}

/// The content of a trace report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceReport {
    /// Who signs.
    pub authority: AuthorityId,
    /// Region the trace is for.
    pub region: Region,
    /// When the authority signed.
    pub issued_at: UnixTime,
    /// Random; lets the server refuse a replayed report.
    pub nonce: [u8; 16],
    entries: Vec<TraceEntry>,
}

impl TraceReport {
    /// Builds the report for a checked trace: one entry per hour, each with `message` (what
    /// to do, whom to call; at most [`MAX_MESSAGE`] UTF-8 bytes) encrypted under a key only
    /// holders of the venue's payload (its visitors) can derive.
    pub fn new(
        trace: &CheckedTrace,
        message: &str,
        authority: AuthorityId,
        region: Region,
        issued_at: UnixTime,
        nonce: [u8; 16],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, Error> {
        if message.len() > MAX_MESSAGE {
            return Err(Error::Usage("a trace message holds at most 254 bytes"));
        }
        let p = trace.payload().encode();
        let secrets = VenueSecrets::derive(p);
        let entries = trace
            .keys()
            .iter()
            .map(|k| TraceEntry {
                hour: k.hour,
                id: k.id,
                key: k.key.to_compressed(),
                tag: ids::tag(p, k.hour.day()),
                message: seal_message(secrets.notification_key(), k.hour, &k.id, message, rng),
            })
            .collect();
        Ok(TraceReport {
            authority,
            region,
            issued_at,
            nonce,
            entries,
        })
    }

    /// The entries, by increasing hour.
    pub fn entries(&self) -> &[TraceEntry] {
        &self.entries
    }

    /// Signs the report with the authority's key (context `en/v1/venue-trace`) and returns
    /// its wire encoding.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, Error> {
        if self.entries.is_empty() || self.entries.len() > MAX_TRACE_HOURS {
            return Err(Error::Usage("a trace report holds 1 to 336 entries"));
        }
        let mut out = Vec::with_capacity(64 + 80 + self.entries.len() * ENTRY_LEN);
        put_header(&mut out, MAGIC);
        self.authority.write(&mut out);
        self.region.write(&mut out);
        out.extend_from_slice(&self.issued_at.0.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&(self.entries.len() as u16).to_be_bytes());
        for e in &self.entries {
            e.write(&mut out);
        }
        let sig = key.sign(context::VENUE_TRACE, &out);
        out.extend_from_slice(&sig);
        Ok(out)
    }
}

/// A decoded trace report whose signature has not been checked yet.
#[derive(Debug, Clone)]
pub struct SignedTraceReport {
    report: TraceReport,
    bytes: Vec<u8>,
}

impl SignedTraceReport {
    /// Strictly decodes a trace report; every key is fully checked (the server pays this once
    /// per upload, so batches carry only keys that passed it). The content is not
    /// trustworthy until [`Self::verify`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (body, _sig) = split_signature(bytes, "trace report")?;
        let mut r = Reader::new(body);
        r.header(MAGIC, "trace report")?;
        let authority = AuthorityId::read(&mut r)?;
        let region = Region::read(&mut r)?;
        let issued_at = UnixTime(r.u64("issued at")?);
        let nonce = r.array("nonce")?;
        let n = usize::from(r.u16("entry count")?);
        if n == 0 || n > MAX_TRACE_HOURS {
            return Err(DecodeError::OutOfRange("entry count"));
        }
        super::exact_len(&r, n * ENTRY_LEN, "trace entries")?;
        let mut entries: Vec<TraceEntry> = Vec::with_capacity(n);
        for _ in 0..n {
            let e = TraceEntry::read(&mut r, true)?;
            if entries.last().is_some_and(|p| p.sort_key() >= e.sort_key()) {
                return Err(DecodeError::NonCanonical(
                    "entries must be strictly increasing by (hour, identity)",
                ));
            }
            entries.push(e);
        }
        r.finish()?;
        Ok(SignedTraceReport {
            report: TraceReport {
                authority,
                region,
                issued_at,
                nonce,
                entries,
            },
            bytes: bytes.to_vec(),
        })
    }

    /// The authority the report claims to come from (unauthenticated until verified).
    pub fn claimed_authority(&self) -> &AuthorityId {
        &self.report.authority
    }

    /// The wire bytes, exactly as decoded.
    pub fn encode(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks the signature against the registry; the only way to reach the report's content.
    pub fn verify(self, registry: &impl AuthorityRegistry) -> Result<VerifiedTraceReport, Error> {
        let (body, sig) = split_signature(&self.bytes, "trace report")?;
        verify_authority(
            registry,
            &self.report.authority,
            Some(&self.report.region),
            context::VENUE_TRACE,
            body,
            &sig,
        )?;
        Ok(VerifiedTraceReport(self.report))
    }
}

/// A trace report whose signature verified under a registered, unrevoked authority.
#[derive(Debug, Clone)]
pub struct VerifiedTraceReport(TraceReport);

impl VerifiedTraceReport {
    /// The verified content.
    pub fn report(&self) -> &TraceReport {
        &self.0
    }
}
