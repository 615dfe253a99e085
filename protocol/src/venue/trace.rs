//! Trace request (`ENVR`): the owner's partial keys for the hours to trace, and the
//! authority's side: open the sealed share, recompute the identities, complete and check
//! every key.
//!
//! The request carries no identities: the authority derives them from the payload and the
//! hours itself, so nothing the owner computed is used unchecked.

use blstrs::{G1Affine, Scalar};

use super::curve::{self, G1_LEN};
use super::entry::EntryPayload;
use super::ibe;
use super::ids::VenueSecrets;
use super::seal::{self, SealedShare, SealingSecretKey};
use super::{exact_len, Hour, RETENTION_HOURS};
use crate::error::{DecodeError, Error, ValidationError, VerifyError};
use crate::time::UnixTime;
use crate::wire::{put_header, Reader};

/// Magic of a trace request.
pub const MAGIC: &[u8; 4] = b"ENVR";
/// Most hours one request (and one trace report) may cover: the 14-day retention.
pub const MAX_TRACE_HOURS: usize = RETENTION_HOURS as usize;
const HOUR_KEY_LEN: usize = 4 + G1_LEN;

/// The owner's request to trace some hours of a venue.
#[derive(Clone, PartialEq, Eq)]
pub struct TraceRequest {
    payload: EntryPayload,
    sealed: SealedShare,
    /// (hour, partial key), hours strictly increasing.
    keys: Vec<(Hour, G1Affine)>,
}

impl std::fmt::Debug for TraceRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Partial keys are half of a tracing capability: not for logs.
        write!(f, "TraceRequest(<{} hours, redacted>)", self.keys.len())
    }
}

impl TraceRequest {
    pub(crate) fn build(
        payload: &EntryPayload,
        sealed: SealedShare,
        hours: &[Hour],
        owner_share: &Scalar,
    ) -> Result<Self, Error> {
        let mut hours = hours.to_vec();
        hours.sort_unstable();
        if hours.is_empty() || hours.len() > MAX_TRACE_HOURS {
            return Err(Error::Usage("a trace request covers 1 to 336 hours"));
        }
        if hours.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::Usage("a trace request names each hour once"));
        }
        let secrets = VenueSecrets::derive(payload.encode());
        let keys = hours
            .into_iter()
            .map(|h| (h, ibe::key_share(owner_share, &secrets.id(h))))
            .collect();
        Ok(TraceRequest {
            payload: payload.clone(),
            sealed,
            keys,
        })
    }

    /// The venue.
    pub fn payload(&self) -> &EntryPayload {
        &self.payload
    }

    /// The hours asked for, increasing.
    pub fn hours(&self) -> impl Iterator<Item = Hour> + '_ {
        self.keys.iter().map(|(h, _)| *h)
    }

    /// Encodes: magic ‖ version ‖ payload ‖ sealed share (88) ‖ count u16 ‖
    /// count × (hour u32 ‖ partial key 48).
    pub fn encode(&self) -> Vec<u8> {
        let p = self.payload.encode();
        let mut out = Vec::with_capacity(5 + p.len() + 88 + 2 + self.keys.len() * HOUR_KEY_LEN);
        put_header(&mut out, MAGIC);
        out.extend_from_slice(p);
        out.extend_from_slice(&self.sealed.0);
        out.extend_from_slice(&(self.keys.len() as u16).to_be_bytes());
        for (h, k) in &self.keys {
            out.extend_from_slice(&h.0.to_be_bytes());
            out.extend_from_slice(&k.to_compressed());
        }
        out
    }

    /// Strictly decodes a request; every partial key is a checked, non-identity G1 point.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC, "trace request")?;
        let payload = EntryPayload::read(&mut r)?;
        let sealed = SealedShare(r.array("sealed share")?);
        let n = usize::from(r.u16("hour count")?);
        if n == 0 || n > MAX_TRACE_HOURS {
            return Err(DecodeError::OutOfRange("hour count"));
        }
        exact_len(&r, n * HOUR_KEY_LEN, "partial keys")?;
        let mut keys: Vec<(Hour, G1Affine)> = Vec::with_capacity(n);
        for _ in 0..n {
            let h = Hour(r.u32("hour")?);
            if keys.last().is_some_and(|(p, _)| *p >= h) {
                return Err(DecodeError::NonCanonical(
                    "hours must be strictly increasing",
                ));
            }
            keys.push((
                h,
                curve::g1_decode(&r.array("partial key")?, "partial key")?,
            ));
        }
        r.finish()?;
        Ok(TraceRequest {
            payload,
            sealed,
            keys,
        })
    }

    /// The authority's side. Opens the sealed share with `sealing`, derives each hour's
    /// identity from the payload, completes `sk = psk · H1(id)^msk_ha` and keeps a key only
    /// if `e(sk, g2) = e(H1(id), mpk)`. Hours must lie in the retention window before `now`.
    ///
    /// The authority should also show [`EntryPayload::description`] to its operator and
    /// compare it with the venue the case named, before publishing.
    pub fn open(&self, sealing: &SealingSecretKey, now: UnixTime) -> Result<CheckedTrace, Error> {
        let current = Hour::containing(now);
        let oldest = Hour(current.0.saturating_sub(RETENTION_HOURS));
        if self.keys.iter().any(|(h, _)| *h > current || *h < oldest) {
            return Err(ValidationError::TraceHourOutOfRange.into());
        }
        let mpk = self.payload.master_public_key();
        let ha = seal::open(sealing, &self.sealed, &mpk)?;
        let secrets = VenueSecrets::derive(self.payload.encode());
        let mut keys = Vec::with_capacity(self.keys.len());
        for (hour, psk) in &self.keys {
            let id = secrets.id(*hour);
            let sk =
                blstrs::G1Affine::from(blstrs::G1Projective::from(psk) + ibe::key_share(&ha, &id));
            if !ibe::key_fits(&sk, &id, self.payload.mpk()) {
                return Err(VerifyError::VenueKeyMismatch.into());
            }
            keys.push(HourKey {
                hour: *hour,
                id,
                key: sk,
            });
        }
        Ok(CheckedTrace {
            payload: self.payload.clone(),
            keys,
        })
    }
}

/// One hour's complete identity key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HourKey {
    pub(crate) hour: Hour,
    pub(crate) id: [u8; 32],
    pub(crate) key: G1Affine,
}

/// Identity keys that passed the authority's pairing check; the only input from which a
/// trace report can be built.
#[derive(Debug, Clone)]
pub struct CheckedTrace {
    payload: EntryPayload,
    keys: Vec<HourKey>,
}

impl CheckedTrace {
    /// The venue.
    pub fn payload(&self) -> &EntryPayload {
        &self.payload
    }
    /// The hours whose keys were checked, increasing.
    pub fn hours(&self) -> impl Iterator<Item = Hour> + '_ {
        self.keys.iter().map(|k| k.hour)
    }
    /// (hour, identity, completed identity key, compressed) per checked hour: what the
    /// trace report publishes.
    pub fn identity_keys(&self) -> impl Iterator<Item = (Hour, [u8; 32], [u8; G1_LEN])> + '_ {
        self.keys
            .iter()
            .map(|k| (k.hour, k.id, k.key.to_compressed()))
    }
    pub(crate) fn keys(&self) -> &[HourKey] {
        &self.keys
    }
}
