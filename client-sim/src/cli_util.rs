//! Argument parsers shared by the subcommands: each fails with a one-line message.

use en_protocol::hex;

/// Parses exactly `N` bytes of hex.
pub fn hex_array<const N: usize>(s: &str) -> Result<[u8; N], String> {
    let s = s.trim();
    if s.len() != 2 * N {
        return Err(format!(
            "expected {} hex characters, got {}",
            2 * N,
            s.len()
        ));
    }
    hex::decode_array(s).ok_or_else(|| "not valid hex".to_string())
}

/// Parses a 16-byte TEK in hex.
pub fn tek(s: &str) -> Result<[u8; 16], String> {
    hex_array::<16>(s)
}

/// Parses 4 bytes of metadata in hex.
pub fn metadata(s: &str) -> Result<[u8; 4], String> {
    hex_array::<4>(s)
}
