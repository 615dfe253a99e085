//! A day's would-be contacts: sessions at home, at work and school, and random encounters
//! (venues and transit are in `places`), drawn from the day's contact stream as if nobody
//! isolated. Isolation later removes sessions (`day`), so the draws themselves never depend
//! on who was notified: that is what keeps a counterfactual's world the same.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha20Rng;

use super::places::{self, Visit};
use super::population::{Population, PopulationParams};
use super::streams::{rng, Stream};

/// Two people near each other for a while, at a roughly constant distance.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    /// One person.
    pub a: u32,
    /// The other.
    pub b: u32,
    /// Start, seconds since the simulation epoch.
    pub start: u32,
    /// Seconds.
    pub duration: u32,
    /// Distance in centimetres.
    pub distance_cm: u16,
    /// At home: takes place even when someone isolates.
    pub at_home: bool,
}

/// Everything that would happen on a day if nobody isolated.
#[derive(Default)]
pub(super) struct DayPlan {
    /// Would-be sessions; their index is the key of their transmission coins.
    pub sessions: Vec<Session>,
    /// Would-be visits to public places (venues, transit stations).
    pub visits: Vec<Visit>,
}

impl DayPlan {
    /// Adds a session on `day` starting `start_s` seconds into it, cut at midnight.
    pub fn push(&mut self, a: u32, b: u32, day: u32, start_s: u32, seconds: u32, metres: f64) {
        let start_s = start_s.min(86_399);
        self.sessions.push(Session {
            a,
            b,
            start: day * 86_400 + start_s,
            duration: seconds.min(86_400 - start_s).max(1),
            distance_cm: (metres * 100.0) as u16,
            at_home: false,
        });
    }
}

/// Stream tags of the day's parts (each part draws from a generator of its own).
#[derive(Clone, Copy)]
pub(super) enum Part {
    Households = 1,
    Groups = 2,
    Venues = 3,
    Transit = 4,
    Random = 5,
}

/// The generator of one part of `day`.
pub(super) fn part_rng(seed: u64, day: u32, part: Part) -> ChaCha20Rng {
    rng(seed, Stream::Contacts, u64::from(day), part as u64)
}

/// The would-be sessions and visits of `day`.
pub(super) fn plan_day(
    pop: &Population,
    params: &PopulationParams,
    day: u32,
    seed: u64,
) -> DayPlan {
    let mut out = DayPlan {
        sessions: Vec::with_capacity(pop.people.len() * 12),
        visits: Vec::new(),
    };
    households(
        pop,
        day,
        &mut part_rng(seed, day, Part::Households),
        &mut out,
    );
    let weekday = day % 7 < 5;
    if weekday {
        groups(pop, day, &mut part_rng(seed, day, Part::Groups), &mut out);
        places::transit(pop, day, &mut part_rng(seed, day, Part::Transit), &mut out);
    }
    places::venues(
        pop,
        params,
        day,
        &mut part_rng(seed, day, Part::Venues),
        &mut out,
    );
    random(pop, day, &mut part_rng(seed, day, Part::Random), &mut out);
    out
}

/// Evenings at home: every pair of a household, 2–5 hours at 1–3 m.
fn households(pop: &Population, day: u32, r: &mut ChaCha20Rng, out: &mut DayPlan) {
    for h in &pop.households {
        for (i, &a) in h.iter().enumerate() {
            for &b in &h[i + 1..] {
                let start = 18 * 3600 + r.gen_range(0..7200);
                out.push(
                    a,
                    b,
                    day,
                    start,
                    r.gen_range(120..=300) * 60,
                    r.gen_range(1.0..3.0),
                );
                out.sessions.last_mut().expect("just pushed").at_home = true;
            }
        }
    }
}

/// Weekdays at work or school: each member meets two colleagues closely (30–180 minutes
/// at 0.8–2.5 m) and three at a distance (10–60 minutes at 3–8 m).
fn groups(pop: &Population, day: u32, r: &mut ChaCha20Rng, out: &mut DayPlan) {
    for g in &pop.groups {
        for &a in g {
            for _ in 0..2 {
                let b = *g.choose(r).expect("groups are not empty");
                let (start, minutes, metres) = (
                    9 * 3600 + r.gen_range(0..7200),
                    r.gen_range(30..=180),
                    r.gen_range(0.8..2.5),
                );
                if b != a {
                    out.push(a, b, day, start, minutes * 60, metres);
                }
            }
            for _ in 0..3 {
                let b = *g.choose(r).expect("groups are not empty");
                let (start, minutes, metres) = (
                    9 * 3600 + r.gen_range(0..21_600),
                    r.gen_range(10..=60),
                    r.gen_range(3.0..8.0),
                );
                if b != a {
                    out.push(a, b, day, start, minutes * 60, metres);
                }
            }
        }
    }
}

/// Random encounters: 0–3 a day per person, 1–20 minutes at 0.5–5 m, between 7:00 and 21:00.
fn random(pop: &Population, day: u32, r: &mut ChaCha20Rng, out: &mut DayPlan) {
    let n = pop.people.len() as u32;
    for a in 0..n {
        for _ in 0..r.gen_range(0..=3) {
            let b = r.gen_range(0..n);
            let (start, minutes, metres) = (
                r.gen_range(7 * 3600..21 * 3600),
                r.gen_range(1..=20),
                r.gen_range(0.5..5.0),
            );
            if b != a {
                out.push(a, b, day, start, minutes * 60, metres);
            }
        }
    }
}
