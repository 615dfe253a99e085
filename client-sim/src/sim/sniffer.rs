//! A Bluetooth sniffer adversary: receivers at the K busiest public places (transit
//! stations and venues) record every RPI they hear, with the time and the place, and keep it.
//!
//! The model. An app user at a sniffed place is heard in every 10-minute RPI interval they
//! spend there (only app users broadcast). RPIs are AES outputs under a daily key and the
//! Bluetooth address rotates with them, so by themselves two RPIs are unlinkable. The
//! adversary links:
//! - across a rotation when it heard the phone continuously through it at one place (an
//!   upper bound: we assume it always succeeds; `link_across_rotation = false` assumes it
//!   never does, and then an unpublished phone is never linked beyond one RPI interval);
//! - all RPIs of a published key (a GAEN case's keys, uploaded for 14 days: each day's RPIs
//!   become one track, but days stay apart: every day has an independent key);
//! - in a Bluezone-like design, all of a case's IDs on every day (the uploaded base ID
//!   derives every daily key, past and future).
//!
//! What is reported, per K: for cases and non-cases, the part of a person's day (and of
//! their 14 days) that the adversary holds as one linked track, as a fraction of the time
//! the person spent at public places (in RPI intervals). Home, work and school are not
//! sniffed; a person's public time is what the adversary could see at most.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::SimError;
use super::places::{busiest_first, Visit};
use super::population::{Population, PopulationParams};
use super::track::{fractions, link, Linkage, Piece, Track};

/// The adversary (`[sim.sniffer]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SnifferParams {
    /// Numbers of sniffed places to report on (K), busiest places first.
    pub places: Vec<u32>,
    /// Whether the adversary links a phone across an RPI rotation it heard continuously.
    pub link_across_rotation: bool,
}

impl Default for SnifferParams {
    fn default() -> Self {
        SnifferParams {
            places: vec![1, 3, 10, 30, 100, 300],
            link_across_rotation: true,
        }
    }
}

impl SnifferParams {
    /// Rejects values the model cannot use.
    pub(super) fn check(&self) -> Result<(), SimError> {
        if self.places.len() > 16 {
            return Err(SimError::Config(
                "sniffer.places: at most 16 values of K".into(),
            ));
        }
        Ok(())
    }
}

/// The adversary's reach at one K.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct SnifferRow {
    /// Places sniffed (K, at most the number of places).
    pub sniffers: u32,
    /// Cases (app users who uploaded) and non-cases (app users who did not) measured.
    pub cases: u64,
    /// App users who did not upload.
    pub non_cases: u64,
    /// A case's day: the fraction of its public time in its largest linked track (GAEN and
    /// Bluezone alike: a day's RPIs are linked either way).
    pub case_day: f64,
    /// A case's 14 days, GAEN: one day at most is linked.
    pub gaen_case_fortnight: f64,
    /// A case's 14 days, Bluezone-like: every day is linked.
    pub bluezone_case_fortnight: f64,
    /// A non-case's day (either design): one continuous stay at most.
    pub non_case_day: f64,
    /// A non-case's 14 days.
    pub non_case_fortnight: f64,
    /// What the sniffers heard of a case at all (linked or not): the bound for any design.
    pub case_heard: f64,
    /// The longest track of any non-case, in RPI intervals.
    pub non_case_longest_track: u32,
}

/// The sniffer results of a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[non_exhaustive]
pub struct SnifferReport {
    /// Public places (stations + venues).
    pub places: u32,
    /// Transit stations among them.
    pub stations: u32,
    /// Rows by K.
    pub rows: Vec<SnifferRow>,
}

/// Sums of fractions for one K.
#[derive(Default, Clone)]
struct Acc {
    cases: u64,
    non_cases: u64,
    case_days: (f64, u64),
    gaen: (f64, u64),
    bluezone: (f64, u64),
    heard: (f64, u64),
    non_days: (f64, u64),
    non: (f64, u64),
    longest: u32,
}

fn mean(s: (f64, u64)) -> f64 {
    if s.1 == 0 {
        0.0
    } else {
        s.0 / s.1 as f64
    }
}

/// What the sniffers recorded: each app user's public visits of the last 14 days, as runs
/// of RPI intervals at ranked places.
pub(super) struct Sniffer {
    ks: Vec<u32>,
    places: u32,
    stations: u32,
    continuity: bool,
    /// Place id → rank (0: busiest).
    rank: Vec<u32>,
    /// By day: (person, piece), sorted by person.
    days: BTreeMap<u32, Vec<(u32, Piece)>>,
    uploaded: Vec<bool>,
    due: Vec<u32>,
    acc: Vec<Acc>,
}

impl Sniffer {
    /// Sniffers at the busiest places of `pop`.
    pub fn new(params: &SnifferParams, pop: &Population, pp: &PopulationParams) -> Self {
        let order = busiest_first(pop, pp);
        let mut rank = vec![0; order.len()];
        for (r, &id) in order.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        let places = order.len() as u32;
        let mut ks: Vec<u32> = params.places.iter().map(|&k| k.min(places)).collect();
        ks.sort_unstable();
        ks.dedup();
        Sniffer {
            acc: vec![Acc::default(); ks.len()],
            ks,
            places,
            stations: pop.stations,
            continuity: params.link_across_rotation,
            rank,
            days: BTreeMap::new(),
            uploaded: vec![false; pop.people.len()],
            due: Vec::new(),
        }
    }

    /// Person `p` uploaded on `day`: their 14 days are measured once the day is over.
    pub fn uploaded(&mut self, p: u32, _day: i32) {
        if !self.uploaded[p as usize] {
            self.uploaded[p as usize] = true;
            self.due.push(p);
        }
    }

    /// Records the day's public visits of app users; measures the cases uploaded today.
    pub fn record_day(&mut self, day: u32, visits: impl Iterator<Item = Visit>) {
        let base = day * 86_400;
        let mut list: Vec<(u32, Piece)> = visits
            .map(|v| {
                let first = ((v.start - base) / 600).min(143) as u8;
                let last = ((v.end.max(v.start + 1) - 1 - base) / 600).min(143) as u8;
                let piece = Piece {
                    day,
                    rank: self.rank[v.place as usize],
                    first,
                    last,
                };
                (v.person, piece)
            })
            .collect();
        list.sort_unstable_by_key(|(p, piece)| (*p, piece.day, piece.first, piece.rank));
        self.days.insert(day, list);
        while self.days.len() > 14 {
            self.days.pop_first();
        }
        let mut acc = std::mem::take(&mut self.acc);
        for p in std::mem::take(&mut self.due) {
            self.measure(p, true, &mut acc);
        }
        self.acc = acc;
    }

    /// Person `p`'s pieces over the days kept.
    fn pieces(&self, p: u32) -> Vec<Piece> {
        let mut out = Vec::new();
        for list in self.days.values() {
            let i = list.partition_point(|(q, _)| *q < p);
            out.extend(
                list[i..]
                    .iter()
                    .take_while(|(q, _)| *q == p)
                    .map(|(_, piece)| *piece),
            );
        }
        out
    }

    /// The tracks the adversary holds on person `p` with `k` sniffers over the days kept,
    /// when `linkage` says what was published about them.
    pub fn tracks(&self, p: u32, k: u32, linkage: Linkage) -> Vec<Track> {
        link(&self.pieces(p), k, linkage, self.continuity)
    }

    fn measure(&self, p: u32, case: bool, accs: &mut [Acc]) {
        let pieces = self.pieces(p);
        if pieces.is_empty() {
            return;
        }
        for (&k, acc) in self.ks.iter().zip(accs) {
            let add = |s: &mut (f64, u64), v: (f64, u64)| {
                s.0 += v.0;
                s.1 += v.1;
            };
            if case {
                acc.cases += 1;
                let g = fractions(&pieces, &link(&pieces, k, Linkage::ByDay, self.continuity));
                let b = fractions(&pieces, &link(&pieces, k, Linkage::All, self.continuity));
                add(&mut acc.case_days, g.day_sum);
                add(&mut acc.gaen, (g.fortnight, 1));
                add(&mut acc.bluezone, (b.fortnight, 1));
                add(&mut acc.heard, (g.heard, 1));
            } else {
                acc.non_cases += 1;
                let tracks = link(&pieces, k, Linkage::Continuity, self.continuity);
                let n = fractions(&pieces, &tracks);
                add(&mut acc.non_days, n.day_sum);
                add(&mut acc.non, (n.fortnight, 1));
                acc.longest = acc
                    .longest
                    .max(tracks.iter().map(Track::intervals).max().unwrap_or(0));
            }
        }
    }

    /// The report: cases as measured at their upload, non-cases (app users who never
    /// uploaded, `app`) over the last 14 days.
    pub fn report(&self, app: &[bool]) -> SnifferReport {
        let mut acc = self.acc.clone();
        for (p, &a) in app.iter().enumerate() {
            if a && !self.uploaded[p] {
                self.measure(p as u32, false, &mut acc);
            }
        }
        let rows = self
            .ks
            .iter()
            .zip(&acc)
            .map(|(&k, a)| SnifferRow {
                sniffers: k,
                cases: a.cases,
                non_cases: a.non_cases,
                case_day: mean(a.case_days),
                gaen_case_fortnight: mean(a.gaen),
                bluezone_case_fortnight: mean(a.bluezone),
                non_case_day: mean(a.non_days),
                non_case_fortnight: mean(a.non),
                case_heard: mean(a.heard),
                non_case_longest_track: a.longest,
            })
            .collect();
        SnifferReport {
            places: self.places,
            stations: self.stations,
            rows,
        }
    }
}
