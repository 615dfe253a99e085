//! Files people pass around: a phone's keys, signing keys and public keys.
//!
//! - `KEYS.json`: a JSON array of [`JsonKey`] (what `en-sim phone keys` writes and
//!   `/v1/publish` carries).
//! - A **secret key file** holds an ed25519 seed, labelled so it cannot be mistaken for a
//!   public key:
//!   ```text
//!   # en signing key: SECRET, never share or register this file
//!   secret-key: <64 hex characters>
//!   ```
//!   It is created with mode 0600 and never overwritten; reading refuses a file that group or
//!   others may read (as ssh does). Files holding only the 64 hex characters (written by
//!   earlier versions) are still read as secret keys.
//! - A **public key file** is `public-key: <64 hex characters>` (comments allowed). Where a
//!   public key is expected, a secret key file and a file of bare hex (which could be a secret
//!   key) are refused; bare hex is accepted on the command line.
//!
//! Errors never contain key material: only paths and what is wrong.

use std::path::{Path, PathBuf};

use en_protocol::keys::{PublicKey, SigningKey};
use en_protocol::wire::key::UploadKey;
use zeroize::Zeroizing;

use crate::json::{JsonKey, KeyError};

const SECRET_LABEL: &str = "secret-key:";
const PUBLIC_LABEL: &str = "public-key:";
/// Key files are small; anything larger is not one.
pub(crate) const MAX_KEY_FILE: u64 = 4096;
/// `KEYS.json` files are small too (30 keys are about 3 KiB).
const MAX_KEYS_FILE: u64 = 1 << 20;

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// "read", "create", …
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not in the expected format.
    #[error("{} is not {expected}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What it should have been.
        expected: &'static str,
    },
    /// A secret key file that group or others may read.
    #[error("{} may be read by other users (mode {mode:o}); run `chmod 600 {}`", path.display(), path.display())]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A secret key where a public key was expected.
    #[error("{} is a secret key file: register the public key instead (the 64 hex characters `en-sim authority keygen` printed, or the .pub file it wrote)", path.display())]
    SecretWherePublicExpected {
        /// The file.
        path: PathBuf,
    },
    /// A file of bare hex where a public key file was expected: it could be a secret key.
    #[error("{} holds bare hex, which could be a secret key: pass the public key's 64 hex characters on the command line, or a public key file (`public-key: <hex>`)", path.display())]
    AmbiguousHex {
        /// The file.
        path: PathBuf,
    },
    /// Not a public key, neither as 64 hex characters nor as a readable file.
    #[error("the public key is neither 64 hex characters nor a readable public key file")]
    NotAPublicKey,
    /// A venue sealing secret key where its public key was expected.
    #[error("{} is a secret sealing key file: give venue owners the public key instead (the 64 hex characters `en-sim authority sealing-keygen` printed, or the .pub file it wrote)", path.display())]
    SecretSealingKey {
        /// The file.
        path: PathBuf,
    },
    /// A key in a `KEYS.json` file is invalid.
    #[error("{}: {source}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: KeyError,
    },
}

pub(crate) fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> KeyFileError + 'a {
    move |source| KeyFileError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn read_small(path: &Path, max: u64) -> Result<Zeroizing<String>, KeyFileError> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(io("read", path))?;
    let mut s = Zeroizing::new(String::new());
    f.take(max + 1)
        .read_to_string(&mut s)
        .map_err(io("read", path))?;
    if s.len() as u64 > max {
        return Err(KeyFileError::Format {
            path: path.to_path_buf(),
            expected: "a key file (it is too large)",
        });
    }
    Ok(s)
}

/// The value after `label` on a non-comment line, if there is such a line.
pub(crate) fn labelled<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
}

pub(crate) fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Refuses a secret file that group or others may read.
pub(crate) fn check_private(path: &Path) -> Result<(), KeyFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(io("read", path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Exposed {
                path: path.to_path_buf(),
                mode: mode & 0o777,
            });
        }
    }
    Ok(())
}

/// Reads a secret key file (labelled, or the bare hex of earlier versions).
pub fn read_signing_key(path: &Path) -> Result<SigningKey, KeyFileError> {
    let text = read_small(path, MAX_KEY_FILE)?;
    let hex = match labelled(&text, SECRET_LABEL) {
        Some(h) => h,
        None if labelled(&text, PUBLIC_LABEL).is_some() => {
            return Err(KeyFileError::Format {
                path: path.to_path_buf(),
                expected: "a secret key file (it is a public key file)",
            })
        }
        None => text.trim(),
    };
    check_private(path)?;
    let seed = Zeroizing::new(en_protocol::hex::decode_array::<32>(hex).ok_or_else(|| {
        KeyFileError::Format {
            path: path.to_path_buf(),
            expected: "a secret key file (`secret-key: <64 hex characters>`)",
        }
    })?);
    Ok(SigningKey::from_seed(&seed))
}

/// Creates `path` with `contents`, mode 0600 if `private`; never overwrites; fsyncs.
pub fn write_new(path: &Path, contents: &[u8], private: bool) -> Result<(), KeyFileError> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts
        .open(path)
        .map_err(io("create (existing files are never overwritten)", path))?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .map_err(io("write", path))
}

/// Writes a new secret key file (mode 0600; never overwrites).
pub fn write_signing_key(path: &Path, key: &SigningKey) -> Result<(), KeyFileError> {
    let text = Zeroizing::new(format!(
        "# en signing key: SECRET, never share or register this file\n{SECRET_LABEL} {}\n",
        en_protocol::hex::encode(key.to_seed().as_ref())
    ));
    write_new(path, text.as_bytes(), true)
}

/// Writes a public key file.
pub fn write_public_key(path: &Path, key: &PublicKey) -> Result<(), KeyFileError> {
    let text = format!(
        "# en public key (key id {}): safe to share and register\n{PUBLIC_LABEL} {}\n",
        key.key_id(),
        key.to_hex()
    );
    write_new(path, text.as_bytes(), false)
}

/// A public key given as 64 hex characters, or as the path of a public key file.
pub fn parse_public_key(arg: &str) -> Result<PublicKey, KeyFileError> {
    let arg = arg.trim();
    if is_hex64(arg) {
        return PublicKey::from_hex(arg).map_err(|_| KeyFileError::NotAPublicKey);
    }
    let path = Path::new(arg);
    let text = read_small(path, MAX_KEY_FILE).map_err(|_| KeyFileError::NotAPublicKey)?;
    if labelled(&text, SECRET_LABEL).is_some() {
        return Err(KeyFileError::SecretWherePublicExpected {
            path: path.to_path_buf(),
        });
    }
    match labelled(&text, PUBLIC_LABEL) {
        Some(h) => PublicKey::from_hex(h).map_err(|_| KeyFileError::Format {
            path: path.to_path_buf(),
            expected: "a public key file (`public-key: <64 hex characters>`)",
        }),
        None if is_hex64(text.trim()) => Err(KeyFileError::AmbiguousHex {
            path: path.to_path_buf(),
        }),
        None => Err(KeyFileError::Format {
            path: path.to_path_buf(),
            expected: "a public key file (`public-key: <64 hex characters>`)",
        }),
    }
}

/// Reads a `KEYS.json` file, checking every key.
pub fn read_keys(path: &Path) -> Result<Vec<UploadKey>, KeyFileError> {
    let text = read_small(path, MAX_KEYS_FILE)?;
    let keys: Vec<JsonKey> = serde_json::from_str(&text).map_err(|_| KeyFileError::Format {
        path: path.to_path_buf(),
        expected: "a JSON array of keys ({\"key\", \"rolling_start\", \"rolling_period\", \"transmission_risk\"})",
    })?;
    keys.iter()
        .map(|k| {
            k.to_upload_key().map_err(|source| KeyFileError::Key {
                path: path.to_path_buf(),
                source,
            })
        })
        .collect()
}

/// Writes a new `KEYS.json` (mode 0600: unpublished keys are secret).
pub fn write_keys(path: &Path, keys: &[UploadKey]) -> Result<(), KeyFileError> {
    let json: Vec<JsonKey> = keys.iter().map(JsonKey::from_upload_key).collect();
    let text = Zeroizing::new(serde_json::to_string_pretty(&json).expect("keys serialize"));
    write_new(path, text.as_bytes(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_seed(&[7; 32])
    }

    #[test]
    fn secret_files_round_trip_and_are_private() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.key");
        write_signing_key(&p, &key()).unwrap();
        assert_eq!(
            read_signing_key(&p).unwrap().public_key(),
            key().public_key()
        );
        assert!(write_signing_key(&p, &key()).is_err(), "never overwrites");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = read_signing_key(&p).unwrap_err();
            assert!(matches!(e, KeyFileError::Exposed { .. }), "{e}");
        }
    }

    #[test]
    fn a_secret_key_is_never_taken_for_a_public_one() {
        let d = tempfile::tempdir().unwrap();
        let seed_hex = en_protocol::hex::encode(key().to_seed().as_ref());
        let secret = d.path().join("a.key");
        write_signing_key(&secret, &key()).unwrap();
        let legacy = d.path().join("legacy.key");
        std::fs::write(&legacy, format!("{seed_hex}\n")).unwrap();
        let public = d.path().join("a.pub");
        write_public_key(&public, &key().public_key()).unwrap();
        for (arg, want) in [
            (secret.to_str().unwrap(), "secret key file"),
            (legacy.to_str().unwrap(), "bare hex"),
            ("no/such/file", "neither 64 hex"),
        ] {
            let e = parse_public_key(arg).unwrap_err().to_string();
            assert!(e.contains(want), "{arg}: {e}");
            assert!(!e.contains(&seed_hex[..16]), "key material in {e}");
        }
        assert_eq!(
            parse_public_key(public.to_str().unwrap()).unwrap(),
            key().public_key()
        );
        assert_eq!(
            parse_public_key(&key().public_key().to_hex()).unwrap(),
            key().public_key()
        );
        let e = read_signing_key(&public).unwrap_err().to_string();
        assert!(e.contains("public key file"), "{e}");
    }

    #[test]
    fn legacy_bare_hex_secret_files_still_read() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("old.key");
        let seed_hex = en_protocol::hex::encode(key().to_seed().as_ref());
        write_new(&p, format!("{seed_hex}\n").as_bytes(), true).unwrap();
        assert_eq!(
            read_signing_key(&p).unwrap().public_key(),
            key().public_key()
        );
    }
}
