//! RPIK derivation with HKDF-SHA256 written out as its six SHA-256 compressions, so that the
//! matcher can interleave them with other work and skip the zero salt's two pad compressions.

use aes::cipher::KeyInit;
use aes::Aes128Enc;

use crate::keys::TemporaryExposureKey;

/// RPIK derivation with HKDF-SHA256 written out as its six SHA-256 compressions, the two
/// for the all-zero salt's HMAC pads precomputed once: the same function as
/// [`crate::derive::rpik`] (a test checks it on 256 keys), without per-call buffering.
#[derive(Clone)]
pub struct RpikDeriver {
    zero_ipad: [u32; 8],
    zero_opad: [u32; 8],
}

const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

fn compress(state: &[u32; 8], block: &[u8; 64]) -> [u32; 8] {
    let mut s = *state;
    compress_in(&mut s, block);
    s
}

fn compress_in(state: &mut [u32; 8], block: &[u8; 64]) {
    sha2::compress256(state, &[(*block).into()]);
}

fn digest_bytes(s: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(s) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// The final block of a message of `prefix_len` (the HMAC pad block) + `data.len()` bytes.
fn last_block(data: &[u8], prefix_len: usize) -> [u8; 64] {
    let mut b = [0u8; 64];
    b[..data.len()].copy_from_slice(data);
    b[data.len()] = 0x80;
    b[56..].copy_from_slice(&(((prefix_len + data.len()) * 8) as u64).to_be_bytes());
    b
}

fn hmac_pad(key: &[u8; 32], x: u8) -> [u8; 64] {
    let mut b = [x; 64];
    for (b, k) in b.iter_mut().zip(key) {
        *b ^= k;
    }
    b
}

impl Default for RpikDeriver {
    fn default() -> Self {
        RpikDeriver {
            zero_ipad: compress(&SHA256_IV, &[0x36; 64]),
            zero_opad: compress(&SHA256_IV, &[0x5c; 64]),
        }
    }
}

/// The state of an RPIK derivation between its compressions (see [`RpikDeriver::step`]).
#[derive(Clone, Default)]
pub(super) struct RpikSteps {
    a: [u32; 8],
    b: [u32; 8],
    prk: [u8; 32],
}

impl RpikSteps {
    /// The RPIK, after all six steps.
    pub(super) fn okm(&self) -> [u8; 16] {
        digest_bytes(&self.b)[..16].try_into().expect("16 bytes")
    }
}

impl RpikDeriver {
    /// Steps of an RPIK derivation: `step` 0 to 5 in order, one SHA-256 compression each.
    /// Split so that [`super::ScanStore::match_keys`] can interleave them with other work.
    #[inline(always)]
    pub(super) fn step(&self, st: &mut RpikSteps, step: usize, tek: &[u8; 16]) {
        match step {
            // Extract: PRK = HMAC(0^32, TEK) = H(opad0 || H(ipad0 || TEK)).
            0 => {
                st.a = self.zero_ipad;
                compress_in(&mut st.a, &last_block(tek, 64));
            }
            1 => {
                st.b = self.zero_opad;
                compress_in(&mut st.b, &last_block(&digest_bytes(&st.a), 64));
            }
            // Expand: OKM = HMAC(PRK, "EN-RPIK" || 0x01).
            2 => {
                st.prk = digest_bytes(&st.b);
                st.a = SHA256_IV;
                compress_in(&mut st.a, &hmac_pad(&st.prk, 0x36));
            }
            3 => {
                st.b = SHA256_IV;
                compress_in(&mut st.b, &hmac_pad(&st.prk, 0x5c));
            }
            4 => compress_in(&mut st.a, &last_block(b"EN-RPIK\x01", 64)),
            _ => compress_in(&mut st.b, &last_block(&digest_bytes(&st.a), 64)),
        }
    }

    /// RPIK = HKDF-SHA256(TEK, salt = none, info = "EN-RPIK", 16).
    pub fn rpik(&self, tek: &TemporaryExposureKey) -> [u8; 16] {
        let mut st = RpikSteps::default();
        for step in 0..6 {
            self.step(&mut st, step, tek.as_bytes());
        }
        st.okm()
    }

    /// The AES cipher keyed with RPIK (encryption only: RPIs are AES encryptions).
    pub fn rpi_cipher(&self, tek: &TemporaryExposureKey) -> Aes128Enc {
        Aes128Enc::new(&self.rpik(tek).into())
    }
}
