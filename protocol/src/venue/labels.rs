//! Every domain-separation label of the venue scheme, in one place (spec/venue.md §3 lists
//! them). A hash input is `label ‖ 0x00 ‖ fields`, so no label is a prefix of another's input.

/// HKDF-SHA256 `info` that expands an entry payload into its three per-venue secrets.
pub const NONCES: &[u8] = b"en/v1/venue/nonces";
/// SHA-256 label of the per-venue `preId`.
pub const PRE_ID: &[u8] = b"en/v1/venue/pre-id";
/// SHA-256 label of the per-hour `timeKey`.
pub const TIME_KEY: &[u8] = b"en/v1/venue/time-key";
/// SHA-256 label of the per-hour identity `id`.
pub const ID: &[u8] = b"en/v1/venue/id";
/// SHA-256 label of the 4-bit tag per (venue, UTC day).
pub const TAG: &[u8] = b"en/v1/venue/tag";
/// RFC 9380 domain-separation tag of H1 (identity → G1).
pub const H1_DST: &[u8] = b"EN-V1-VENUE-H1_BLS12381G1_XMD:SHA-256_SSWU_RO_";
/// RFC 9380 `expand_message_xmd` tag of H3 ((x, id, m) → scalar).
pub const H3_DST: &[u8] = b"EN-V1-VENUE-H3_BLS12381FR_XMD:SHA-256";
/// RFC 9380 `expand_message_xmd` tag that turns random bytes into a scalar.
pub const SCALAR_DST: &[u8] = b"EN-V1-VENUE-RANDOM_BLS12381FR_XMD:SHA-256";
/// SHA-256 label of H_T (pairing value → 32-byte pad).
pub const HT: &[u8] = b"en/v1/venue/ht";
/// SHA-256 label of H4 (x → AEAD key of the IBE ciphertext).
pub const H4: &[u8] = b"en/v1/venue/h4";
/// HKDF-SHA256 `info` of the key that encrypts the authority's message to visitors.
pub const MESSAGE: &[u8] = b"en/v1/venue/message";
/// HKDF-SHA256 `info` and AEAD associated-data label of the sealed authority share.
pub const SEALED_SHARE: &[u8] = b"en/v1/venue/sealed-share";
/// SHA-256 label of a sealing key's 8-byte id.
pub const SEALING_KEY_ID: &[u8] = b"en/v1/venue/sealing-key-id";

/// SHA-256(`label ‖ 0x00 ‖ parts…`).
pub(crate) fn sha256(label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(label);
    h.update([0u8]);
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}
