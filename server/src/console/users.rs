//! Console accounts and back-office API keys: `console-users.json` in the data directory
//! (0600), edited by `en-server console user …` and by admins in the console, even while the
//! server runs ([`crate::jsonfile`]); the server re-reads it when it changes.
//!
//! Passwords are stored as Argon2id hashes (PHC strings, default parameters: 19 MiB, 2 passes),
//! API keys as HMAC-SHA256 under `codes.key` (they are 256-bit random: a keyed hash suffices).
//! Neither is ever printed again after creation. A password reset or a removal ends the
//! account's sessions (they hold `password_set_at`).

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::jsonfile::{self, stamp, FileStamp};

/// File name inside the data directory.
pub const USERS_FILE: &str = "console-users.json";
const LOCK_FILE: &str = "console-users.lock";

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything staff may, and manage the authority's accounts and API keys, read the audit log.
    Admin,
    /// Issue codes, read statistics and the authority's keys.
    Staff,
}

impl Role {
    /// Parses `admin` or `staff`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }
    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
        }
    }
}

/// One console account.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Login name (`a-z 0-9 . _ -`, 1-64), unique on the server.
    pub name: String,
    /// The authority it acts for.
    pub authority: String,
    /// Its role.
    pub role: Role,
    /// Argon2id PHC string.
    password: String,
    /// When the password was set (Unix seconds); sessions from before a reset end.
    pub password_set_at: u64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "User({}, {}, {:?})",
            self.name, self.authority, self.role
        )
    }
}

/// One back-office API key (its hash).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Public id (8 hex), the part of the key shown in lists and the audit log.
    pub id: String,
    /// The authority it issues codes for.
    pub authority: String,
    /// What it is for.
    pub label: String,
    /// HMAC-SHA256 of the whole key under `codes.key`, hex.
    hash: String,
    /// When it was created (Unix seconds).
    pub created_at: u64,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}, {})", self.id, self.authority)
    }
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    users: Vec<User>,
    api_keys: Vec<ApiKey>,
}

/// A secret shown once: a new password or API key. No `Debug`, no `Display`; zeroized on drop.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// The secret, to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn invalid(path: &Path) -> impl FnOnce(String) -> Error + '_ {
    // Only where: a JSON error can quote the value it choked on (a password hash).
    move |e| {
        let at = e.rfind(" at line ").map_or("", |i| &e[i..]);
        Error::Console(format!("{}: not a valid accounts file{at}", path.display()))
    }
}

fn edit<R>(path: &Path, f: impl FnOnce(&mut UsersFile) -> Result<R, Error>) -> Result<R, Error> {
    jsonfile::edit(path, LOCK_FILE, invalid(path), f)
}

/// A random password: 20 characters of an unambiguous alphabet (~100 bits).
fn new_password() -> Secret {
    const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rngs::OsRng;
    let s: String = (0..20)
        .map(|_| ALPHABET[rand::Rng::gen_range(&mut rng, 0..ALPHABET.len())] as char)
        .collect();
    Secret(Zeroizing::new(s))
}

/// The Argon2id hash (PHC string) of `password`.
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(
            password.as_bytes(),
            &SaltString::generate(&mut rand_core::OsRng),
        )
        .expect("Argon2 with default parameters hashes any password")
        .to_string()
}

/// Checks `password` against a PHC string (in constant time in the password).
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c));
    if ok {
        Ok(())
    } else {
        Err(Error::Console(format!(
            "account name {name:?} must be 1-64 of a-z 0-9 . _ -"
        )))
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Adds an account for `authority` with a random password, returned to show once.
pub fn add_user(path: &Path, name: &str, authority: &str, role: Role) -> Result<Secret, Error> {
    check_name(name)?;
    en_protocol::wire::AuthorityId::new(authority)
        .map_err(|_| Error::Console("the authority id must be 1-64 of a-z 0-9 . _ -".into()))?;
    let password = new_password();
    let hash = hash_password(password.expose());
    edit(path, |f| {
        if f.users.iter().any(|u| u.name == name) {
            return Err(Error::Console(format!("account {name} already exists")));
        }
        f.users.push(User {
            name: name.into(),
            authority: authority.into(),
            role,
            password: hash,
            password_set_at: now(),
        });
        Ok(())
    })?;
    Ok(password)
}

/// Gives an account a new random password (ending its sessions); returns it to show once.
/// With `authority`, only an account of that authority.
pub fn reset_password(path: &Path, name: &str, authority: Option<&str>) -> Result<Secret, Error> {
    let password = new_password();
    let hash = hash_password(password.expose());
    edit(path, |f| {
        let u = f
            .users
            .iter_mut()
            .find(|u| u.name == name && authority.is_none_or(|a| a == u.authority))
            .ok_or_else(|| Error::Console(format!("no account {name}")))?;
        u.password = hash;
        // Strictly later, so that sessions of the old password end even within one second.
        u.password_set_at = now().max(u.password_set_at + 1);
        Ok(())
    })?;
    Ok(password)
}

/// Removes an account (ending its sessions). With `authority`, only an account of that
/// authority.
pub fn remove_user(path: &Path, name: &str, authority: Option<&str>) -> Result<(), Error> {
    edit(path, |f| {
        let before = f.users.len();
        f.users
            .retain(|u| !(u.name == name && authority.is_none_or(|a| a == u.authority)));
        if f.users.len() == before {
            return Err(Error::Console(format!("no account {name}")));
        }
        Ok(())
    })
}

/// Every account (no password hashes leave this module).
pub fn list(path: &Path) -> Result<Vec<User>, Error> {
    Ok(jsonfile::read::<UsersFile>(path, invalid(path))?.users)
}

/// Creates an API key for `authority`: `enk_<id>_<secret>`; stores `hash(key)` and returns the
/// key to show once.
pub fn add_api_key(
    path: &Path,
    authority: &str,
    label: &str,
    hash: impl Fn(&str) -> String,
) -> Result<(String, Secret), Error> {
    let mut rng = rand::rngs::OsRng;
    let id: [u8; 4] = rand::Rng::gen(&mut rng);
    let secret: [u8; 32] = rand::Rng::gen(&mut rng);
    let id = en_protocol::hex::encode(&id);
    let key = Secret(Zeroizing::new(format!(
        "enk_{id}_{}",
        en_protocol::hex::encode(&secret)
    )));
    let label: String = label.chars().filter(|c| !c.is_control()).take(64).collect();
    let record = ApiKey {
        id: id.clone(),
        authority: authority.into(),
        label,
        hash: hash(key.expose()),
        created_at: now(),
    };
    edit(path, |f| {
        f.api_keys.push(record);
        Ok(())
    })?;
    Ok((id, key))
}

/// Revokes (deletes) the API key `id` of `authority`.
pub fn revoke_api_key(path: &Path, authority: &str, id: &str) -> Result<(), Error> {
    edit(path, |f| {
        let before = f.api_keys.len();
        f.api_keys
            .retain(|k| !(k.id == id && k.authority == authority));
        if f.api_keys.len() == before {
            return Err(Error::Console(format!("no API key {id}")));
        }
        Ok(())
    })
}

/// The server's view of the accounts file, re-read when it changes.
pub struct Accounts {
    path: PathBuf,
    state: RwLock<(FileStamp, Option<std::sync::Arc<UsersFile>>)>,
}

impl Accounts {
    /// The accounts at `path` (read on first use).
    pub fn new(path: PathBuf) -> Self {
        Accounts {
            path,
            state: RwLock::new((None, None)),
        }
    }

    /// The path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn current(&self) -> Option<std::sync::Arc<UsersFile>> {
        let st = stamp(&self.path);
        {
            let s = self.state.read().expect("accounts lock");
            if s.0 == st && s.1.is_some() {
                return s.1.clone();
            }
        }
        let loaded = jsonfile::read::<UsersFile>(&self.path, invalid(&self.path));
        let mut s = self.state.write().expect("accounts lock");
        match loaded {
            Ok(f) => {
                *s = (st, Some(std::sync::Arc::new(f)));
                s.1.clone()
            }
            Err(e) => {
                // Fail closed: nobody can log in until the file is fixed.
                tracing::error!(error = %e, "the console accounts file is unreadable or invalid");
                *s = (st, None);
                None
            }
        }
    }

    /// The account `name`, if it exists.
    pub fn user(&self, name: &str) -> Option<User> {
        self.current()?
            .users
            .iter()
            .find(|u| u.name == name)
            .cloned()
    }

    /// Checks a login: the account if `password` is its password. Always runs one Argon2
    /// verification, so the time does not tell whether the account exists.
    pub fn check_login(&self, name: &str, password: &str) -> Option<User> {
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let user = self.user(name);
        let phc = match &user {
            Some(u) => u.password.as_str(),
            None => DUMMY.get_or_init(|| hash_password("not a password of anyone")),
        };
        (verify_password(phc, password) && user.is_some()).then_some(user?)
    }

    /// The accounts of `authority`.
    pub fn users_of(&self, authority: &str) -> Vec<User> {
        self.current().map_or_else(Vec::new, |f| {
            f.users
                .iter()
                .filter(|u| u.authority == authority)
                .cloned()
                .collect()
        })
    }

    /// The API keys of `authority`.
    pub fn keys_of(&self, authority: &str) -> Vec<ApiKey> {
        self.current().map_or_else(Vec::new, |f| {
            f.api_keys
                .iter()
                .filter(|k| k.authority == authority)
                .cloned()
                .collect()
        })
    }

    /// The API key whose hash is `hash` (compared in constant time).
    pub fn api_key(&self, hash: &str) -> Option<ApiKey> {
        use subtle::ConstantTimeEq;
        let f = self.current()?;
        f.api_keys
            .iter()
            .find(|k| bool::from(k.hash.as_bytes().ct_eq(hash.as_bytes())))
            .cloned()
    }
}
