//! Console sessions and login throttling, in memory (a restart signs everyone out).
//!
//! A session id is 256 random bits in a `__Host-` cookie (`Secure; HttpOnly;
//! SameSite=Strict; Path=/`); the table is keyed by its keyed hash, so the ids themselves are
//! nowhere but in the browsers. Each session has its own CSRF token, required in every form.
//! A session ends after `session_idle_seconds` idle, `session_max_seconds` in all, at logout,
//! or when its account's password is reset or the account removed.
//!
//! Logins are throttled without client addresses (never kept): an account is locked for
//! `login_lockout_seconds` after `login_failures_before_lockout` failures, and after
//! `login_failures_per_minute` failures on the whole console every login waits for the next
//! minute.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use rand::Rng;
use zeroize::Zeroizing;

use super::users::Role;
use crate::config::ConsoleSettings;
use crate::store::codes::Hash;
use crate::verification::codes::Hasher;

/// The session cookie.
pub const SESSION_COOKIE: &str = "__Host-en_session";
/// The login form's CSRF cookie (double submit: before a session exists).
pub const LOGIN_COOKIE: &str = "__Host-en_login";

/// A signed-in account.
#[derive(Debug, Clone)]
pub struct Session {
    /// The account.
    pub user: String,
    /// Its authority.
    pub authority: String,
    /// Its role.
    pub role: Role,
    /// The account's `password_set_at` at login (a reset ends the session).
    pub password_set_at: u64,
    /// The CSRF token of this session's forms (hex).
    pub csrf: String,
    created: u64,
    last: u64,
}

/// Random bytes as unpadded base64url.
pub fn random_token() -> Zeroizing<String> {
    let b: [u8; 32] = rand::rngs::OsRng.gen();
    Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

fn decode_id(cookie: &str) -> Option<[u8; 32]> {
    crate::verification::codes::parse_token(cookie)
}

/// The sessions.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<Hash, Session>>,
}

impl Sessions {
    /// Starts a session; returns the cookie value (shown only to the browser).
    pub fn start(&self, hasher: &Hasher, user: &super::users::User, now: u64) -> Zeroizing<String> {
        let id = random_token();
        let key = hasher.session(&decode_id(&id).expect("a fresh id decodes"));
        let csrf = en_protocol::hex::encode(&rand::rngs::OsRng.gen::<[u8; 32]>());
        let s = Session {
            user: user.name.clone(),
            authority: user.authority.clone(),
            role: user.role,
            password_set_at: user.password_set_at,
            csrf,
            created: now,
            last: now,
        };
        self.map.lock().expect("sessions lock").insert(key, s);
        id
    }

    /// The live session of cookie value `id` at `now` (refreshing its idle time).
    pub fn get(
        &self,
        hasher: &Hasher,
        settings: &ConsoleSettings,
        id: &str,
        now: u64,
    ) -> Option<Session> {
        let key = hasher.session(&decode_id(id)?);
        let mut map = self.map.lock().expect("sessions lock");
        let s = map.get_mut(&key)?;
        if now >= s.last + settings.session_idle_seconds
            || now >= s.created + settings.session_max_seconds
        {
            map.remove(&key);
            return None;
        }
        s.last = now;
        Some(s.clone())
    }

    /// Ends the session of cookie value `id`.
    pub fn end(&self, hasher: &Hasher, id: &str) {
        if let Some(raw) = decode_id(id) {
            self.map
                .lock()
                .expect("sessions lock")
                .remove(&hasher.session(&raw));
        }
    }

    /// Drops expired sessions.
    pub fn purge(&self, settings: &ConsoleSettings, now: u64) {
        self.map.lock().expect("sessions lock").retain(|_, s| {
            now < s.last + settings.session_idle_seconds
                && now < s.created + settings.session_max_seconds
        });
    }
}

/// Why a login may not be tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    /// This account is locked.
    Account,
    /// Too many failures on the whole console this minute.
    Console,
}

#[derive(Default)]
struct ThrottleState {
    /// Failures, locked until, last failure.
    accounts: HashMap<String, (u32, u64, u64)>,
    minute: u64,
    minute_failures: u32,
}

/// Login throttling.
#[derive(Default)]
pub struct LoginThrottle {
    state: Mutex<ThrottleState>,
}

impl LoginThrottle {
    /// Whether `name` may try to log in at `now`.
    pub fn check(&self, s: &ConsoleSettings, name: &str, now: u64) -> Result<(), Throttled> {
        let st = self.state.lock().expect("throttle lock");
        if st.minute == now / 60 && st.minute_failures >= s.login_failures_per_minute {
            return Err(Throttled::Console);
        }
        match st.accounts.get(name) {
            Some((_, until, _)) if *until > now => Err(Throttled::Account),
            _ => Ok(()),
        }
    }

    /// Records a failed login of `name`.
    pub fn failed(&self, s: &ConsoleSettings, name: &str, now: u64) {
        let mut st = self.state.lock().expect("throttle lock");
        if st.minute != now / 60 {
            st.minute = now / 60;
            st.minute_failures = 0;
        }
        st.minute_failures += 1;
        let e = st.accounts.entry(name.to_string()).or_insert((0, 0, now));
        e.0 += 1;
        e.2 = now;
        if e.0 >= s.login_failures_before_lockout {
            *e = (0, now + s.login_lockout_seconds, now);
        }
    }

    /// Forgets the failures of `name` (a successful login).
    pub fn succeeded(&self, name: &str) {
        self.state
            .lock()
            .expect("throttle lock")
            .accounts
            .remove(name);
    }

    /// Forgets accounts that are not locked and have not failed for `login_lockout_seconds`.
    pub fn purge(&self, s: &ConsoleSettings, now: u64) {
        self.state
            .lock()
            .expect("throttle lock")
            .accounts
            .retain(|_, (_, until, last)| *until > now || *last + s.login_lockout_seconds > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_locks_after_the_allowed_failures_and_unlocks_later() {
        let s = ConsoleSettings::default();
        let t = LoginThrottle::default();
        for _ in 0..s.login_failures_before_lockout {
            assert_eq!(t.check(&s, "alice", 1000), Ok(()));
            t.failed(&s, "alice", 1000);
        }
        assert_eq!(t.check(&s, "alice", 1000), Err(Throttled::Account));
        assert_eq!(t.check(&s, "bob", 1000), Ok(()));
        assert_eq!(t.check(&s, "alice", 1000 + s.login_lockout_seconds), Ok(()));
    }

    #[test]
    fn guessing_across_accounts_slows_every_login() {
        let s = ConsoleSettings::default();
        let t = LoginThrottle::default();
        for i in 0..s.login_failures_per_minute {
            t.failed(&s, &format!("user{i}"), 120);
        }
        assert_eq!(t.check(&s, "carol", 150), Err(Throttled::Console));
        assert_eq!(t.check(&s, "carol", 180), Ok(()));
    }
}
