//! Daily contact sessions: households, workplaces and schools, venues, random encounters.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha20Rng;

use super::population::Population;

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
}

fn session(a: u32, b: u32, day: u32, start_s: u32, minutes: u32, metres: f64) -> Session {
    Session {
        a,
        b,
        start: day * 86_400 + start_s.min(86_399),
        duration: (minutes * 60).min(86_400 - start_s.min(86_399)),
        distance_cm: (metres * 100.0) as u16,
    }
}

/// The sessions of `day`. People who isolate only meet their household.
pub fn day_sessions(
    pop: &Population,
    day: u32,
    isolating: &[bool],
    rng: &mut ChaCha20Rng,
) -> Vec<Session> {
    let n = pop.people.len() as u32;
    let mut out = Vec::with_capacity(pop.people.len() * 12);
    for h in &pop.households {
        for (i, &a) in h.iter().enumerate() {
            for &b in &h[i + 1..] {
                let start = 18 * 3600 + rng.gen_range(0..7200);
                out.push(session(
                    a,
                    b,
                    day,
                    start,
                    rng.gen_range(120..=300),
                    rng.gen_range(1.0..3.0),
                ));
            }
        }
    }
    let weekday = day % 7 < 5;
    if weekday {
        for g in &pop.groups {
            for &a in g {
                if isolating[a as usize] {
                    continue;
                }
                for _ in 0..2 {
                    let b = *g.choose(rng).expect("groups are not empty");
                    if b != a && !isolating[b as usize] {
                        let start = 9 * 3600 + rng.gen_range(0..7200);
                        out.push(session(
                            a,
                            b,
                            day,
                            start,
                            rng.gen_range(30..=180),
                            rng.gen_range(0.8..2.5),
                        ));
                    }
                }
                for _ in 0..3 {
                    let b = *g.choose(rng).expect("groups are not empty");
                    if b != a && !isolating[b as usize] {
                        let start = 9 * 3600 + rng.gen_range(0..21_600);
                        out.push(session(
                            a,
                            b,
                            day,
                            start,
                            rng.gen_range(10..=60),
                            rng.gen_range(3.0..8.0),
                        ));
                    }
                }
            }
        }
    }
    // Venues: visitors of the same venue in the same hour meet a few of each other.
    let venues = (n / 250).max(1);
    let mut visits: Vec<(u32, u32, u32)> = Vec::new(); // (venue, hour, person)
    for p in 0..n {
        if !isolating[p as usize] && rng.gen_bool(0.5) {
            visits.push((rng.gen_range(0..venues), rng.gen_range(8..21), p));
        }
    }
    visits.sort_unstable();
    let mut i = 0;
    while i < visits.len() {
        let mut j = i;
        while j < visits.len() && visits[j].0 == visits[i].0 && visits[j].1 == visits[i].1 {
            j += 1;
        }
        let group = &visits[i..j];
        for (k, &(_, hour, a)) in group.iter().enumerate() {
            let others = group.len() - k - 1;
            for _ in 0..others.min(2) {
                let b = group[k + 1 + rng.gen_range(0..others)].2;
                let start = hour * 3600 + rng.gen_range(0..3000);
                out.push(session(
                    a,
                    b,
                    day,
                    start,
                    rng.gen_range(5..=40),
                    rng.gen_range(1.0..10.0),
                ));
            }
        }
        i = j;
    }
    for a in 0..n {
        if isolating[a as usize] {
            continue;
        }
        for _ in 0..rng.gen_range(0..=3) {
            let b = rng.gen_range(0..n);
            if b != a && !isolating[b as usize] {
                let start = rng.gen_range(7 * 3600..21 * 3600);
                out.push(session(
                    a,
                    b,
                    day,
                    start,
                    rng.gen_range(1..=20),
                    rng.gen_range(0.5..5.0),
                ));
            }
        }
    }
    out
}
