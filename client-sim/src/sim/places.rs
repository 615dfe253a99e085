//! Public places: venues (shops, markets, cafés, with a few very popular ones) and transit
//! stations that commuters pass through twice on weekdays. Visits there are where people
//! meet strangers, and where a Bluetooth sniffer can be put (`sniffer`).
//!
//! Place ids: stations are `0..stations`, venues `stations..stations + venues`. Sniffers go
//! to the busiest places first ([`busiest_first`]).

use rand::Rng;
use rand_chacha::ChaCha20Rng;

use super::contacts::DayPlan;
use super::population::{Population, PopulationParams, NONE};

/// A person at a public place from `start` to `end` (seconds since the simulation epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visit {
    /// Who.
    pub person: u32,
    /// Where (a place id).
    pub place: u32,
    /// Arrival.
    pub start: u32,
    /// Departure.
    pub end: u32,
}

/// Visitors of one place in one slot meet up to two of those who came after them, during
/// the time both are there.
fn meet(
    group: &[Visit],
    r: &mut ChaCha20Rng,
    out: &mut DayPlan,
    day: u32,
    minutes: (u32, u32),
    metres: (f64, f64),
) {
    for (k, a) in group.iter().enumerate() {
        let others = group.len() - k - 1;
        for _ in 0..others.min(2) {
            let b = group[k + 1 + r.gen_range(0..others)];
            let (lag, want, m) = (
                r.gen_range(0..300),
                r.gen_range(minutes.0..=minutes.1) * 60,
                r.gen_range(metres.0..metres.1),
            );
            let start = a.start.max(b.start) + lag;
            let end = a.end.min(b.end);
            if a.person != b.person && end > start {
                out.push(
                    a.person,
                    b.person,
                    day,
                    start - day * 86_400,
                    want.min(end - start),
                    m,
                );
            }
        }
    }
}

/// Groups `visits[from..]` by (place, slot of `slot_seconds`) and lets each group meet.
fn meet_by_slot(
    out: &mut DayPlan,
    from: usize,
    slot_seconds: u32,
    r: &mut ChaCha20Rng,
    day: u32,
    minutes: (u32, u32),
    metres: (f64, f64),
) {
    let mut today: Vec<Visit> = out.visits[from..].to_vec();
    today.sort_unstable_by_key(|v| (v.place, v.start / slot_seconds, v.start, v.person));
    let mut i = 0;
    while i < today.len() {
        let key = (today[i].place, today[i].start / slot_seconds);
        let mut j = i;
        while j < today.len() && (today[j].place, today[j].start / slot_seconds) == key {
            j += 1;
        }
        meet(&today[i..j], r, out, day, minutes, metres);
        i = j;
    }
}

/// Venue visits: each person visits a venue with `venue_visit_probability`, arriving in an
/// hour between 8:00 and 21:00 and staying 20–60 minutes; venue popularity falls with the
/// index (venue v is chosen with density ∝ 1/√v). Those in the same venue and hour meet
/// (5–40 minutes at 1–10 m).
pub(super) fn venues(
    pop: &Population,
    params: &PopulationParams,
    day: u32,
    r: &mut ChaCha20Rng,
    out: &mut DayPlan,
) {
    let from = out.visits.len();
    let base = day * 86_400;
    for p in 0..pop.people.len() as u32 {
        let (go, u, hour, arrive, stay) = (
            r.gen_bool(params.venue_visit_probability),
            r.gen::<f64>(),
            r.gen_range(8..21u32),
            r.gen_range(0..1800u32),
            r.gen_range(20..=60u32) * 60,
        );
        if go {
            let venue = ((u * u * f64::from(pop.venues)) as u32).min(pop.venues - 1);
            let start = base + hour * 3600 + arrive;
            out.visits.push(Visit {
                person: p,
                place: pop.stations + venue,
                start,
                end: start + stay,
            });
        }
    }
    meet_by_slot(out, from, 3600, r, day, (5, 40), (1.0, 10.0));
}

/// Weekday commutes through each commuter's station: in the morning between 6:30 and 8:00
/// and in the afternoon between 16:30 and 18:30, 5–20 minutes each; those at the same
/// station in the same 10 minutes meet (2–10 minutes at 0.5–3 m).
pub(super) fn transit(pop: &Population, day: u32, r: &mut ChaCha20Rng, out: &mut DayPlan) {
    let from = out.visits.len();
    let base = day * 86_400;
    for (p, person) in pop.people.iter().enumerate() {
        if person.station == NONE {
            continue;
        }
        for (earliest, spread) in [(6 * 3600 + 1800, 5400), (16 * 3600 + 1800, 7200)] {
            let start = base + earliest + r.gen_range(0..spread);
            out.visits.push(Visit {
                person: p as u32,
                place: person.station,
                start,
                end: start + r.gen_range(5..=20) * 60,
            });
        }
    }
    meet_by_slot(out, from, 600, r, day, (2, 10), (0.5, 3.0));
}

/// Place ids, busiest first by expected visits per day (a station: twice its commuters on
/// weekdays; a venue: its share of the day's venue visits), ties by id.
pub(super) fn busiest_first(pop: &Population, params: &PopulationParams) -> Vec<u32> {
    let mut expected = vec![0f64; (pop.stations + pop.venues) as usize];
    for person in &pop.people {
        if person.station != NONE {
            expected[person.station as usize] += 2.0 * 5.0 / 7.0;
        }
    }
    let visits = pop.people.len() as f64 * params.venue_visit_probability;
    let v = f64::from(pop.venues);
    for i in 0..pop.venues {
        // P(⌊u²·V⌋ = i) = √((i+1)/V) − √(i/V).
        let share = (f64::from(i + 1) / v).sqrt() - (f64::from(i) / v).sqrt();
        expected[(pop.stations + i) as usize] = visits * share;
    }
    let mut ids: Vec<u32> = (0..expected.len() as u32).collect();
    ids.sort_by(|a, b| {
        expected[*b as usize]
            .total_cmp(&expected[*a as usize])
            .then(a.cmp(b))
    });
    ids
}
