//! Entry QR payload (`ENVQ`): what a venue prints at its door. Public by design; what it
//! protects is that nobody *without* it can compute the venue's identities or tags.

use base64::Engine;
use blstrs::G2Affine;

use super::curve::{self, G2_LEN};
use crate::error::{DecodeError, Error};
use crate::wire::{put_header, Reader};

/// Magic of an entry payload.
pub const MAGIC: &[u8; 4] = b"ENVQ";
/// Longest description or address, in UTF-8 bytes.
pub const MAX_TEXT: usize = 100;
/// The path and fragment marker of the URL form: `https://<host>/v#<base64url payload>`.
pub const URL_PATH: &str = "/v#";
/// Longest host in the URL form.
pub const MAX_HOST: usize = 253;

/// The entry QR code's content.
///
/// Only [`super::setup()`] and [`EntryPayload::decode`] construct one, so the master public
/// key is always a checked subgroup point and the texts are within their bounds.
#[derive(Clone)]
pub struct EntryPayload {
    description: String,
    address: String,
    mpk: G2Affine,
    seed: [u8; 32],
    bytes: Vec<u8>,
}

impl PartialEq for EntryPayload {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}
impl Eq for EntryPayload {}

impl std::fmt::Debug for EntryPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The payload is public, but it is also what a phone must not keep after a visit:
        // a log line would defeat that, so Debug shows only the description's length.
        write!(
            f,
            "EntryPayload(<{} bytes, description {} bytes>)",
            self.bytes.len(),
            self.description.len()
        )
    }
}

fn check_text(s: &str, what: &'static str, min: usize) -> Result<(), DecodeError> {
    if s.len() < min || s.len() > MAX_TEXT || s.chars().any(char::is_control) {
        return Err(DecodeError::OutOfRange(what));
    }
    Ok(())
}

fn read_text(r: &mut Reader<'_>, what: &'static str, min: usize) -> Result<String, DecodeError> {
    let n = usize::from(r.u8(what)?);
    if n > MAX_TEXT {
        return Err(DecodeError::OutOfRange(what));
    }
    let s = std::str::from_utf8(r.take(n, what)?).map_err(|_| DecodeError::OutOfRange(what))?;
    check_text(s, what, min)?;
    Ok(s.to_owned())
}

fn check_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= MAX_HOST
        && host.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'-' | b':')
        })
}

impl EntryPayload {
    /// Builds a payload (setup does this); texts: description 1–100 bytes, address 0–100,
    /// UTF-8 without control characters.
    pub(crate) fn new(
        description: &str,
        address: &str,
        mpk: G2Affine,
        seed: [u8; 32],
    ) -> Result<Self, Error> {
        check_text(description, "description", 1)?;
        check_text(address, "address", 0)?;
        let mut bytes = Vec::with_capacity(5 + 2 + description.len() + address.len() + 128);
        put_header(&mut bytes, MAGIC);
        bytes.push(description.len() as u8);
        bytes.extend_from_slice(description.as_bytes());
        bytes.push(address.len() as u8);
        bytes.extend_from_slice(address.as_bytes());
        bytes.extend_from_slice(&mpk.to_compressed());
        bytes.extend_from_slice(&seed);
        Ok(EntryPayload {
            description: description.to_owned(),
            address: address.to_owned(),
            mpk,
            seed,
            bytes,
        })
    }

    /// Reads a payload embedded in another format (it is self-delimiting).
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.header(MAGIC, "entry payload")?;
        let description = read_text(r, "description", 1)?;
        let address = read_text(r, "address", 0)?;
        let mpk = curve::g2_decode(
            &r.array::<G2_LEN>("master public key")?,
            "master public key",
        )?;
        let seed = r.array("seed")?;
        Ok(EntryPayload::new(&description, &address, mpk, seed).expect("fields checked above"))
    }

    /// Strictly decodes a payload.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let p = Self::read(&mut r)?;
        r.finish()?;
        Ok(p)
    }

    /// The canonical bytes (also the input of every per-venue derivation).
    pub fn encode(&self) -> &[u8] {
        &self.bytes
    }

    /// `https://<host>/v#<base64url(payload), unpadded>`. The payload rides in the fragment,
    /// which browsers do not send to the web server.
    pub fn to_url(&self, host: &str) -> Result<String, Error> {
        if !check_host(host) {
            return Err(Error::Usage("a venue URL host is 1-253 of a-z 0-9 . - :"));
        }
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.bytes);
        Ok(format!("https://{host}{URL_PATH}{b64}"))
    }

    /// Parses the URL form for `host` (the app's own host; any other host is refused).
    /// Strict: unpadded base64url, no trailing bits, then [`Self::decode`].
    pub fn from_url(url: &str, host: &str) -> Result<Self, DecodeError> {
        let b64 = url
            .strip_prefix("https://")
            .and_then(|u| u.strip_prefix(host))
            .and_then(|u| u.strip_prefix(URL_PATH))
            .filter(|_| check_host(host))
            .ok_or(DecodeError::BadText("venue URL"))?;
        // The longest payload is 5 + 1 + 100 + 1 + 100 + 96 + 32 = 335 bytes.
        if b64.len() > 448 {
            return Err(DecodeError::BadText("venue URL"));
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| DecodeError::BadText("base64url"))?;
        Self::decode(&bytes)
    }

    /// The venue's description (shown to the visitor at check-in, never stored after it).
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The venue's address.
    pub fn address(&self) -> &str {
        &self.address
    }
    /// The master public key, compressed G2.
    pub fn master_public_key(&self) -> [u8; G2_LEN] {
        self.mpk.to_compressed()
    }
    /// The random seed that makes the venue's identities unpredictable without the payload.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }
    /// The venue's identity for `hour` (spec/venue.md §4). Anyone holding the payload can
    /// compute it; the authority does, rather than trusting the owner's.
    pub fn identity(&self, hour: super::Hour) -> [u8; 32] {
        super::ids::VenueSecrets::derive(&self.bytes).id(hour)
    }
    /// The venue's 4-bit tag for UTC day `day` (spec/venue.md §4).
    pub fn tag(&self, day: u32) -> u8 {
        super::ids::tag(&self.bytes, day)
    }
    pub(crate) fn mpk(&self) -> &G2Affine {
        &self.mpk
    }
}
