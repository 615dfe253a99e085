//! The GAEN v1.2 key schedule: TEK → RPIK/AEMK → RPI/AEM, byte-exact with the published vectors.
//!
//! RPIK = HKDF-SHA256(TEK, salt = none, info = "EN-RPIK", 16)
//! RPI_j = AES-128(RPIK, "EN-RPI" || 0x00 * 6 || ENIN_j as u32 little-endian)
//! AEMK = HKDF-SHA256(TEK, salt = none, info = "EN-AEMK", 16)
//! AEM_j = AES-128-CTR(AEMK, IV = RPI_j, metadata)

use aes::cipher::{BlockEncrypt, KeyInit, KeyIvInit, StreamCipher};
use aes::Aes128;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::keys::TemporaryExposureKey;
use crate::time::IntervalNumber;

/// A rolling proximity identifier: the 16 bytes a phone broadcasts for one interval.
pub type Rpi = [u8; 16];

type Aes128Ctr = ctr::Ctr128BE<Aes128>;

/// HKDF-SHA256 with no salt, 16 bytes of output.
fn hkdf16(tek: &TemporaryExposureKey, info: &[u8]) -> Zeroizing<[u8; 16]> {
    let mut out = Zeroizing::new([0u8; 16]);
    Hkdf::<Sha256>::new(None, tek.as_bytes())
        .expand(info, out.as_mut())
        .expect("16 bytes is a valid HKDF-SHA256 output length");
    out
}

/// The Rolling Proximity Identifier Key of `tek` (secret).
pub fn rpik(tek: &TemporaryExposureKey) -> Zeroizing<[u8; 16]> {
    hkdf16(tek, b"EN-RPIK")
}

/// The Associated Encrypted Metadata Key of `tek` (secret).
pub fn aemk(tek: &TemporaryExposureKey) -> Zeroizing<[u8; 16]> {
    hkdf16(tek, b"EN-AEMK")
}

/// The 16-byte block that AES encrypts into the RPI of interval `enin`.
pub fn padded_data(enin: IntervalNumber) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[..6].copy_from_slice(b"EN-RPI");
    p[12..].copy_from_slice(&enin.0.to_le_bytes());
    p
}

/// Everything derived from one TEK, ready to compute RPIs and decrypt metadata quickly.
///
/// The AES key schedule is expanded once, so computing all 144 RPIs of a key costs one HKDF
/// and 144 block encryptions.
pub struct KeySchedule {
    rpi_cipher: Aes128,
    aemk: Zeroizing<[u8; 16]>,
}

impl KeySchedule {
    /// Derives RPIK and AEMK from `tek`.
    pub fn new(tek: &TemporaryExposureKey) -> Self {
        let rpik = rpik(tek);
        KeySchedule {
            rpi_cipher: Aes128::new(rpik.as_ref().into()),
            aemk: aemk(tek),
        }
    }

    /// Derives only the RPI cipher (matching needs AEMK only on a hit).
    pub fn rpi_only(tek: &TemporaryExposureKey) -> Aes128 {
        Aes128::new(rpik(tek).as_ref().into())
    }

    /// The RPI broadcast during interval `enin`.
    pub fn rpi(&self, enin: IntervalNumber) -> Rpi {
        let mut block = padded_data(enin).into();
        self.rpi_cipher.encrypt_block(&mut block);
        block.into()
    }

    /// Fills `out` with the RPIs of `count` consecutive intervals from `start`.
    pub fn rpis(&self, start: IntervalNumber, count: u32) -> Vec<Rpi> {
        rpis_with(&self.rpi_cipher, start, count)
    }

    /// Encrypts (or, CTR being symmetric, decrypts) `metadata` under AEMK with IV = `rpi`.
    pub fn aem(&self, rpi: &Rpi, metadata: &[u8]) -> Vec<u8> {
        let mut out = metadata.to_vec();
        let mut c = Aes128Ctr::new(self.aemk.as_ref().into(), rpi.into());
        c.apply_keystream(&mut out);
        out
    }
}

/// RPIs of `count` consecutive intervals from `start` under an expanded RPIK cipher,
/// encrypted several blocks at a time.
pub fn rpis_with<C>(cipher: &C, start: IntervalNumber, count: u32) -> Vec<Rpi>
where
    C: BlockEncrypt + aes::cipher::BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
{
    let mut blocks: Vec<aes::Block> = (0..count)
        .map(|j| padded_data(IntervalNumber(start.0.wrapping_add(j))).into())
        .collect();
    cipher.encrypt_blocks(&mut blocks);
    blocks.into_iter().map(Into::into).collect()
}

/// Bluetooth metadata carried in the AEM (GAEN Bluetooth spec v1.2 layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    /// Version byte (0x40: major 1, minor 0).
    pub version: u8,
    /// Transmit power in dBm.
    pub tx_power: i8,
}

impl Metadata {
    /// The 4-byte metadata block: version, tx power, two reserved zero bytes.
    pub fn to_bytes(self) -> [u8; 4] {
        [self.version, self.tx_power as u8, 0, 0]
    }
    /// Reads a decrypted metadata block.
    pub fn from_bytes(b: [u8; 4]) -> Self {
        Metadata {
            version: b[0],
            tx_power: b[1] as i8,
        }
    }
}
