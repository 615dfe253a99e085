//! Venue setup (offline, on the owner's device) and the owner's private tracing secret
//! (`ENVO`).
//!
//! `msk = msk_owner + msk_ha`, `mpk = g2^msk`. The authority's share is sealed to the
//! authority's X25519 key and forgotten, so tracing needs both the owner (who keeps
//! `msk_owner` in the tracing secret) and the authority (who alone can open the seal).

use std::fmt;

use ff::Field;
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::curve::{self, SCALAR_LEN};
use super::entry::EntryPayload;
use super::seal::{self, SealedShare, SealingPublicKey, SEALED_SHARE_LEN};
use super::trace::TraceRequest;
use super::Hour;
use crate::error::{DecodeError, Error};
use crate::wire::{put_header, Reader};

/// Magic of a tracing secret.
pub const MAGIC: &[u8; 4] = b"ENVO";

/// Creates a venue: the public entry payload and the owner's tracing secret.
///
/// `description` (1–100 bytes) and `address` (0–100 bytes) are UTF-8 without control
/// characters; `authority` is the health authority's sealing key. The authority's share
/// exists only inside the sealed box when this returns (blstrs scalars are `Copy` and
/// cannot be wiped; the copies on this stack frame are overwritten by later calls).
pub fn setup(
    rng: &mut impl CryptoRngCore,
    description: &str,
    address: &str,
    authority: &SealingPublicKey,
) -> Result<(EntryPayload, TracingSecret), Error> {
    let (owner, ha) = loop {
        let (o, h) = (curve::random_scalar(rng), curve::random_scalar(rng));
        // A zero sum would make mpk the identity; that needs o = -h, a 2⁻²⁵⁵ event.
        if !bool::from((o + h).is_zero()) {
            break (o, h);
        }
    };
    let mpk = curve::g2_mul(&(owner + ha));
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let payload = EntryPayload::new(description, address, mpk, seed)?;
    let sealed = seal::seal(authority, &ha, &payload.master_public_key(), rng)?;
    let secret = TracingSecret {
        payload: payload.clone(),
        owner_share: curve::scalar_bytes(&owner),
        sealed,
    };
    Ok((payload, secret))
}

/// What the venue owner keeps (printed as a second, private QR code or stored in the
/// owner's app): the payload, the owner's key share and the sealed authority share.
///
/// No `Copy`, no `Display`, a redacted `Debug`; the share is zeroized on drop.
#[derive(Clone)]
pub struct TracingSecret {
    payload: EntryPayload,
    owner_share: Zeroizing<[u8; SCALAR_LEN]>,
    sealed: SealedShare,
}

impl fmt::Debug for TracingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TracingSecret(<redacted>, {:?})", self.sealed)
    }
}

impl TracingSecret {
    /// The venue's entry payload.
    pub fn payload(&self) -> &EntryPayload {
        &self.payload
    }

    /// The owner's side of a trace: per hour the partial key `psk = H1(id)^msk_owner`, with
    /// the payload and the sealed share, for the authority. `hours`: 1 to
    /// [`super::trace::MAX_TRACE_HOURS`], any order, no duplicates.
    pub fn trace_request(&self, hours: &[Hour]) -> Result<TraceRequest, Error> {
        let share = curve::scalar_decode(&self.owner_share, "owner share")?;
        TraceRequest::build(&self.payload, self.sealed.clone(), hours, &share)
    }

    /// Encodes: magic ‖ version ‖ payload ‖ owner share (32) ‖ sealed share (88).
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let p = self.payload.encode();
        let mut out = Zeroizing::new(Vec::with_capacity(5 + p.len() + 32 + SEALED_SHARE_LEN));
        put_header(&mut out, MAGIC);
        out.extend_from_slice(p);
        out.extend_from_slice(self.owner_share.as_ref());
        out.extend_from_slice(&self.sealed.0);
        out
    }

    /// Strictly decodes a tracing secret.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC, "tracing secret")?;
        let payload = EntryPayload::read(&mut r)?;
        let owner_share = Zeroizing::new(r.array::<SCALAR_LEN>("owner share")?);
        curve::scalar_decode(&owner_share, "owner share")?;
        let sealed = SealedShare(r.array("sealed share")?);
        r.finish()?;
        Ok(TracingSecret {
            payload,
            owner_share,
            sealed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::VerifyError;
    use crate::time::UnixTime;
    use crate::venue::{checkin::records_for_visit, ibe, seal::SealingSecretKey};
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn neither_share_alone_decrypts() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
        let ha = SealingSecretKey::generate(&mut rng);
        let (payload, secret) = setup(&mut rng, "V", "", &ha.public_key()).unwrap();
        let arrival = UnixTime(1_767_258_000);
        let rec = &records_for_visit(&payload, arrival, arrival.plus(600), &mut rng).unwrap()[0];
        let id = payload.identity(rec.hour);
        let owner = curve::scalar_decode(&secret.owner_share, "owner").unwrap();
        let authority = seal::open(&ha, &secret.sealed, &payload.master_public_key()).unwrap();
        for share in [owner, authority] {
            let k = ibe::key_share(&share, &id);
            assert!(!ibe::key_fits(&k, &id, payload.mpk()));
            assert_eq!(
                ibe::decrypt(&k, &id, &rec.ct),
                Err(VerifyError::DecryptionFailed)
            );
        }
        let k = ibe::key_share(&(owner + authority), &id);
        assert!(ibe::key_fits(&k, &id, payload.mpk()));
        assert!(ibe::decrypt(&k, &id, &rec.ct).is_ok());
    }

    #[test]
    fn secrets_do_not_print() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(12);
        let ha = SealingSecretKey::generate(&mut rng);
        let (_, secret) = setup(&mut rng, "V", "", &ha.public_key()).unwrap();
        let share = crate::hex::encode(secret.owner_share.as_ref());
        let printed = format!(
            "{secret:?} {ha:?} {:?}",
            secret.trace_request(&[Hour(1)]).unwrap()
        );
        assert!(!printed.contains(&share[..16]), "{printed}");
        assert!(printed.contains("redacted"));
    }
}
