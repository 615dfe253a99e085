//! Argument parsers shared by the subcommands: each fails with a one-line message.

use en_protocol::hex;

/// A hex argument of the wrong length or with non-hex characters.
#[derive(Debug, thiserror::Error)]
pub enum HexArgError {
    /// Wrong length.
    #[error("expected {want} hex characters, got {got}")]
    Length {
        /// Expected characters.
        want: usize,
        /// Characters given.
        got: usize,
    },
    /// A character that is not hex.
    #[error("not valid hex")]
    NotHex,
}

/// Parses exactly `N` bytes of hex.
pub fn hex_array<const N: usize>(s: &str) -> Result<[u8; N], HexArgError> {
    let s = s.trim();
    if s.len() != 2 * N {
        return Err(HexArgError::Length {
            want: 2 * N,
            got: s.len(),
        });
    }
    hex::decode_array(s).ok_or(HexArgError::NotHex)
}

/// Parses a 16-byte TEK in hex.
pub fn tek(s: &str) -> Result<[u8; 16], HexArgError> {
    hex_array::<16>(s)
}

/// Parses 4 bytes of metadata in hex.
pub fn metadata(s: &str) -> Result<[u8; 4], HexArgError> {
    hex_array::<4>(s)
}
