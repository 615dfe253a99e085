//! The bound on failed short-code attempts: per clock hour, per authority and for the whole
//! server (spec/verification.md §3).
//!
//! A limit per code would not help: a guesser tries each code once. A limit per client would
//! need client addresses, which the server never keeps. So failures are counted globally, and
//! once a window's budget is spent **every** short code (right or wrong) is refused until the
//! hour ends: otherwise a guesser would still learn which guesses are right.
//!
//! An attempt reserves a slot before the code is looked up and gives it back if the code was
//! right, so concurrent attempts cannot overshoot the budget. The store keeps the counts
//! (durably, before a failure is answered), so a restart does not refill the budget.

use std::collections::HashMap;
use std::sync::Mutex;

use en_protocol::UnixTime;

/// Counts of one clock hour.
#[derive(Debug, Default)]
struct Window {
    hour: u64,
    total: u64,
    by_authority: HashMap<String, u64>,
}

/// The failure budget.
#[derive(Debug)]
pub struct Limiter {
    per_hour: u64,
    per_authority_per_hour: u64,
    window: Mutex<Window>,
}

/// A reserved failure slot: [`Limiter::release`] it if the code was right, keep it otherwise.
#[derive(Debug)]
#[must_use]
pub struct Slot {
    hour: u64,
    authority: String,
}

impl Slot {
    /// The clock hour the slot counts in.
    pub fn hour(&self) -> u64 {
        self.hour
    }
}

/// The budget is spent: seconds until the next hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted {
    /// Seconds until the window ends (`Retry-After`).
    pub retry_after: u64,
}

impl Limiter {
    /// A limiter allowing `per_hour` failures an hour, `per_authority_per_hour` per authority,
    /// starting from the counts already stored for `now`'s hour.
    pub fn new(
        per_hour: u64,
        per_authority_per_hour: u64,
        now: UnixTime,
        stored: Vec<(String, u64)>,
    ) -> Self {
        let w = Window {
            hour: now.0 / 3600,
            total: stored.iter().map(|(_, n)| n).sum(),
            by_authority: stored.into_iter().collect(),
        };
        Limiter {
            per_hour,
            per_authority_per_hour,
            window: Mutex::new(w),
        }
    }

    fn window(&self, now: UnixTime) -> std::sync::MutexGuard<'_, Window> {
        let mut w = self.window.lock().expect("limiter lock");
        let hour = now.0 / 3600;
        if w.hour != hour {
            *w = Window {
                hour,
                ..Window::default()
            };
        }
        w
    }

    fn exhausted(&self, w: &Window, authority: &str, now: UnixTime) -> Result<(), Exhausted> {
        let mine = w.by_authority.get(authority).copied().unwrap_or(0);
        if w.total >= self.per_hour || mine >= self.per_authority_per_hour {
            return Err(Exhausted {
                retry_after: 3600 - now.0 % 3600,
            });
        }
        Ok(())
    }

    /// Takes in the failures stored for `now`'s hour (by every replica of a shared database):
    /// the counts become at least those, so that N replicas do not allow N budgets. Slots
    /// this replica has reserved but not yet decided may be counted once less than they
    /// should while another replica's failures are taken in, so concurrent attempts can
    /// overshoot the budget by at most the attempts in flight.
    pub fn observe(&self, now: UnixTime, stored: Vec<(String, u64)>) {
        let mut w = self.window(now);
        w.total = w.total.max(stored.iter().map(|(_, n)| n).sum());
        for (authority, n) in stored {
            let mine = w.by_authority.entry(authority).or_default();
            *mine = (*mine).max(n);
        }
    }

    /// Whether a short code of `authority` may be tried now (without reserving: fake requests).
    pub fn check(&self, authority: &str, now: UnixTime) -> Result<(), Exhausted> {
        let w = self.window(now);
        self.exhausted(&w, authority, now)
    }

    /// Reserves a failure slot for an attempt at a short code of `authority`.
    pub fn reserve(&self, authority: &str, now: UnixTime) -> Result<Slot, Exhausted> {
        let mut w = self.window(now);
        self.exhausted(&w, authority, now)?;
        w.total += 1;
        *w.by_authority.entry(authority.to_string()).or_default() += 1;
        Ok(Slot {
            hour: w.hour,
            authority: authority.to_string(),
        })
    }

    /// Gives a slot back (the code was right, or the store failed before deciding).
    pub fn release(&self, slot: Slot) {
        let mut w = self.window.lock().expect("limiter lock");
        if w.hour == slot.hour {
            w.total = w.total.saturating_sub(1);
            if let Some(n) = w.by_authority.get_mut(&slot.authority) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_per_authority_and_overall() {
        let t = UnixTime(1_800_000_000 + 100); // 100 s into a clock hour
        let l = Limiter::new(3, 2, t, vec![("a".into(), 1)]);
        let s = l.reserve("a", t).unwrap();
        assert_eq!(l.reserve("a", t).unwrap_err().retry_after, 3500);
        l.release(s);
        let _kept = l.reserve("a", t).unwrap();
        let _b = l.reserve("b", t).unwrap();
        assert!(l.check("b", t).is_err(), "the server-wide budget is spent");
        assert!(l.reserve("c", t).is_err());
        assert!(l.reserve("c", t.plus(3600)).is_ok(), "a new hour");
    }

    #[test]
    fn failures_other_replicas_stored_count() {
        let t = UnixTime(1_800_000_000 + 100);
        let l = Limiter::new(5, 3, t, vec![]);
        let _s = l.reserve("a", t).unwrap();
        // Another replica stored three failures of "a" and one of "b" this hour.
        l.observe(t, vec![("a".into(), 3), ("b".into(), 1)]);
        assert!(
            l.check("a", t).is_err(),
            "a's budget is spent across replicas"
        );
        let _b = l.reserve("b", t).unwrap();
        assert!(l.check("c", t).is_err(), "the server-wide budget is spent");
        // Counts of another hour are not this hour's.
        l.observe(t.plus(3600), vec![("a".into(), 1)]);
        assert!(l.reserve("a", t.plus(3600)).is_ok());
    }
}
