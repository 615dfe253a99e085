//! Files of venue check-in that people pass around, labelled like [`crate::keyfile`]'s so
//! that no secret is ever taken for a public value:
//!
//! - the health authority's **sealing key** (X25519), secret, mode 0600:
//!   ```text
//!   # en venue sealing key: SECRET, opens venues' sealed shares; never share this file
//!   sealing-secret-key: <64 hex characters>
//!   ```
//!   and its public key, which venue owners seal to (`sealing-public-key: <64 hex>`);
//! - a venue owner's **tracing secret** (spec/venue.md §8.2), secret, mode 0600:
//!   ```text
//!   # en venue tracing secret ("<description>"): SECRET, keep it offline; …
//!   tracing-secret: <hex of the ENVO encoding>
//!   ```
//!
//! Secret files are never overwritten and are refused when group or others may read them.
//! Errors name paths and what is wrong, never key material.

use std::path::Path;

use en_protocol::venue::{SealingPublicKey, SealingSecretKey, TracingSecret};
use zeroize::Zeroizing;

use crate::keyfile::{
    check_private, is_hex64, labelled, read_small, write_new, KeyFileError, MAX_KEY_FILE,
};

const SEALING_SECRET_LABEL: &str = "sealing-secret-key:";
const SEALING_PUBLIC_LABEL: &str = "sealing-public-key:";
const TRACING_SECRET_LABEL: &str = "tracing-secret:";

fn format(path: &Path, expected: &'static str) -> KeyFileError {
    KeyFileError::Format {
        path: path.to_path_buf(),
        expected,
    }
}

/// Writes a new sealing secret key file (mode 0600; never overwrites).
pub fn write_sealing_key(path: &Path, key: &SealingSecretKey) -> Result<(), KeyFileError> {
    let text = Zeroizing::new(format!(
        "# en venue sealing key: SECRET, opens venues' sealed shares; never share this file\n\
         {SEALING_SECRET_LABEL} {}\n",
        en_protocol::hex::encode(key.to_bytes().as_ref())
    ));
    write_new(path, text.as_bytes(), true)
}

/// Writes a sealing public key file.
pub fn write_sealing_public_key(path: &Path, key: &SealingPublicKey) -> Result<(), KeyFileError> {
    let text = format!(
        "# en venue sealing public key (key id {}): give it to venue owners \
         (`en-sim venue create --authority-key`)\n{SEALING_PUBLIC_LABEL} {}\n",
        en_protocol::hex::encode(&key.key_id()),
        en_protocol::hex::encode(&key.to_bytes())
    );
    write_new(path, text.as_bytes(), false)
}

/// Reads a sealing secret key file.
pub fn read_sealing_key(path: &Path) -> Result<SealingSecretKey, KeyFileError> {
    let text = read_small(path, MAX_KEY_FILE)?;
    let hex = labelled(&text, SEALING_SECRET_LABEL).ok_or_else(|| {
        format(
            path,
            "a sealing key file (`sealing-secret-key: <64 hex characters>`)",
        )
    })?;
    check_private(path)?;
    let bytes = Zeroizing::new(en_protocol::hex::decode_array::<32>(hex).ok_or_else(|| {
        format(
            path,
            "a sealing key file (`sealing-secret-key: <64 hex characters>`)",
        )
    })?);
    Ok(SealingSecretKey::from_bytes(*bytes))
}

/// A sealing public key given as 64 hex characters, or as the path of a sealing public key
/// file. A sealing secret key file is refused, and so is a file of bare hex (it could be a
/// secret key).
pub fn parse_sealing_public_key(arg: &str) -> Result<SealingPublicKey, KeyFileError> {
    let arg = arg.trim();
    if is_hex64(arg) {
        let b = en_protocol::hex::decode_array::<32>(arg).ok_or(KeyFileError::NotAPublicKey)?;
        return Ok(SealingPublicKey::from_bytes(b));
    }
    let path = Path::new(arg);
    let text = read_small(path, MAX_KEY_FILE).map_err(|_| KeyFileError::NotAPublicKey)?;
    if labelled(&text, SEALING_SECRET_LABEL).is_some() {
        return Err(KeyFileError::SecretSealingKey {
            path: path.to_path_buf(),
        });
    }
    match labelled(&text, SEALING_PUBLIC_LABEL) {
        Some(h) => en_protocol::hex::decode_array::<32>(h)
            .map(SealingPublicKey::from_bytes)
            .ok_or_else(|| {
                format(
                    path,
                    "a sealing public key file (`sealing-public-key: <64 hex characters>`)",
                )
            }),
        None if is_hex64(text.trim()) => Err(KeyFileError::AmbiguousHex {
            path: path.to_path_buf(),
        }),
        None => Err(format(
            path,
            "a sealing public key file (`sealing-public-key: <64 hex characters>`)",
        )),
    }
}

/// Writes a new tracing secret file (mode 0600; never overwrites).
pub fn write_tracing_secret(path: &Path, secret: &TracingSecret) -> Result<(), KeyFileError> {
    let text = Zeroizing::new(format!(
        "# en venue tracing secret (\"{}\"): SECRET, keep it offline. Only with it and the health\n\
         # authority's help can this venue's visitors be warned; it reveals no visitor.\n\
         {TRACING_SECRET_LABEL} {}\n",
        secret.payload().description(),
        en_protocol::hex::encode(&secret.encode())
    ));
    write_new(path, text.as_bytes(), true)
}

/// Reads a tracing secret file (strictly decoded).
pub fn read_tracing_secret(path: &Path) -> Result<TracingSecret, KeyFileError> {
    let text = read_small(path, MAX_KEY_FILE)?;
    let expected = "a tracing secret file (`tracing-secret: <hex>`, from `en-sim venue create`)";
    let hex = labelled(&text, TRACING_SECRET_LABEL).ok_or_else(|| format(path, expected))?;
    check_private(path)?;
    let bytes =
        Zeroizing::new(en_protocol::hex::decode(hex).ok_or_else(|| format(path, expected))?);
    TracingSecret::decode(&bytes).map_err(|_| format(path, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> en_protocol::venue::bench::FixtureRng {
        en_protocol::venue::bench::FixtureRng::new(1)
    }

    #[test]
    fn sealing_keys_round_trip_and_never_mix() {
        let d = tempfile::tempdir().unwrap();
        let sk = SealingSecretKey::generate(&mut rng());
        let (secret, public) = (d.path().join("s.key"), d.path().join("s.key.pub"));
        write_sealing_key(&secret, &sk).unwrap();
        write_sealing_public_key(&public, &sk.public_key()).unwrap();
        assert_eq!(
            read_sealing_key(&secret).unwrap().public_key(),
            sk.public_key()
        );
        assert!(write_sealing_key(&secret, &sk).is_err(), "never overwrites");
        assert_eq!(
            parse_sealing_public_key(public.to_str().unwrap()).unwrap(),
            sk.public_key()
        );
        let hex = en_protocol::hex::encode(&sk.public_key().to_bytes());
        assert_eq!(parse_sealing_public_key(&hex).unwrap(), sk.public_key());
        let secret_hex = en_protocol::hex::encode(sk.to_bytes().as_ref());
        let e = parse_sealing_public_key(secret.to_str().unwrap()).unwrap_err();
        assert!(matches!(e, KeyFileError::SecretSealingKey { .. }), "{e}");
        assert!(!e.to_string().contains(&secret_hex[..16]));
        assert!(
            read_sealing_key(&public).is_err(),
            "a public key is no secret key"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o640)).unwrap();
            let e = read_sealing_key(&secret).unwrap_err();
            assert!(matches!(e, KeyFileError::Exposed { .. }), "{e}");
        }
    }

    #[test]
    fn tracing_secrets_round_trip_privately() {
        let d = tempfile::tempdir().unwrap();
        let mut r = rng();
        let ha = SealingSecretKey::generate(&mut r);
        let (_, secret) = en_protocol::venue::setup(&mut r, "Café", "", &ha.public_key()).unwrap();
        let p = d.path().join("tracing.secret");
        write_tracing_secret(&p, &secret).unwrap();
        assert_eq!(
            read_tracing_secret(&p).unwrap().encode(),
            secret.encode(),
            "round trip"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = d.path().join("other");
        std::fs::write(&other, "tracing-secret: 00\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert!(matches!(
            read_tracing_secret(&other),
            Err(KeyFileError::Format { .. })
        ));
    }
}
