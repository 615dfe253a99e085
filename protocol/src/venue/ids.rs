//! From an entry payload to per-hour identities and per-day tags (CrowdNotifier v3's
//! preId / timeKey / id structure, with our labels; spec/venue.md §4).
//!
//! Anyone holding the payload can compute these; the payload's random 32-byte seed is what
//! keeps them unpredictable to everyone else.

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{labels, Hour, HOUR_SECONDS};

/// The secrets a payload expands into. Zeroized on drop; never printed.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct VenueSecrets {
    pre_id: [u8; 32],
    nonce_time_key: [u8; 32],
    notification_key: [u8; 32],
}

impl VenueSecrets {
    /// `noncePreId ‖ nonceTimeKey ‖ notificationKey = HKDF-SHA256(salt = "", IKM = payload,
    /// info = "en/v1/venue/nonces", 96)`, `preId = SHA-256("en/v1/venue/pre-id" ‖ 0 ‖
    /// payload ‖ noncePreId)`.
    pub(crate) fn derive(payload: &[u8]) -> Self {
        let mut okm = Zeroizing::new([0u8; 96]);
        Hkdf::<Sha256>::new(Some(&[]), payload)
            .expand(labels::NONCES, okm.as_mut())
            .expect("96 bytes is a valid HKDF-SHA256 length");
        let mut s = VenueSecrets {
            pre_id: [0; 32],
            nonce_time_key: [0; 32],
            notification_key: [0; 32],
        };
        s.pre_id = labels::sha256(labels::PRE_ID, &[payload, &okm[..32]]);
        s.nonce_time_key.copy_from_slice(&okm[32..64]);
        s.notification_key.copy_from_slice(&okm[64..]);
        s
    }

    /// The identity of `hour`: `timeKey = SHA-256("en/v1/venue/time-key" ‖ 0 ‖ u32(3600) ‖
    /// u64(start) ‖ nonceTimeKey)`, `id = SHA-256("en/v1/venue/id" ‖ 0 ‖ preId ‖ u32(3600) ‖
    /// u64(start) ‖ timeKey)`, with `start` the hour's first Unix second.
    pub(crate) fn id(&self, hour: Hour) -> [u8; 32] {
        let len = (HOUR_SECONDS as u32).to_be_bytes();
        let start = hour.start().0.to_be_bytes();
        let time_key = Zeroizing::new(labels::sha256(
            labels::TIME_KEY,
            &[&len, &start, &self.nonce_time_key],
        ));
        labels::sha256(labels::ID, &[&self.pre_id, &len, &start, time_key.as_ref()])
    }

    /// The key the authority's message to visitors derives from.
    pub(crate) fn notification_key(&self) -> &[u8; 32] {
        &self.notification_key
    }
}

/// The 4-bit tag of (payload, UTC day): the high nibble of
/// `SHA-256("en/v1/venue/tag" ‖ 0 ‖ payload ‖ u32(day))`.
pub(crate) fn tag(payload: &[u8], day: u32) -> u8 {
    labels::sha256(labels::TAG, &[payload, &day.to_be_bytes()])[0] >> 4
}
