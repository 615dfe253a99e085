//! The sniffer adversary's linking rules ([`link`]) and what its tracks cover
//! ([`fractions`]), on one person's stays at public places, in RPI intervals.

use std::collections::BTreeMap;

/// A continuous stay of one person at one public place, in RPI intervals of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Simulation day.
    pub day: u32,
    /// The place's rank (0: busiest; a sniffer sits there when the rank is below K).
    pub rank: u32,
    /// First RPI interval of the day (0..144).
    pub first: u8,
    /// Last RPI interval of the day (inclusive).
    pub last: u8,
}

/// What the adversary holds as one (pseudonymous) person: pieces it linked together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// The pieces, by day and time.
    pub pieces: Vec<Piece>,
}

/// Which of a person's RPIs the adversary can link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    /// Nothing published: only a stay heard continuously across rotations (a non-case).
    Continuity,
    /// Every day's key published (a GAEN case): all RPIs of a day, days apart.
    ByDay,
    /// A base ID published (a Bluezone-like case): everything.
    All,
}

/// 144 intervals of one day.
#[derive(Clone, Copy, Default)]
struct Mask([u64; 3]);

impl Mask {
    fn add(&mut self, p: &Piece) {
        for i in p.first..=p.last {
            self.0[usize::from(i) / 64] |= 1 << (i % 64);
        }
    }
    fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

fn by_day<'a>(pieces: impl Iterator<Item = &'a Piece>) -> BTreeMap<u32, Mask> {
    let mut m: BTreeMap<u32, Mask> = BTreeMap::new();
    for p in pieces {
        m.entry(p.day).or_default().add(p);
    }
    m
}

impl Track {
    /// RPI intervals the track covers.
    pub fn intervals(&self) -> u32 {
        by_day(self.pieces.iter()).values().map(Mask::count).sum()
    }

    /// True if every piece is one stay at one place heard without a gap (what linking
    /// across a rotation needs).
    pub fn is_one_stay(&self) -> bool {
        self.pieces.len() == 1
    }
}

/// The tracks the adversary holds with sniffers at the `k` busiest places. Only pieces at
/// sniffed places are heard; with `continuity` a stay is one piece (the adversary links
/// across the rotations it heard), without it every interval is a piece of its own.
pub fn link(pieces: &[Piece], k: u32, linkage: Linkage, continuity: bool) -> Vec<Track> {
    let mut heard: Vec<Piece> = Vec::new();
    for p in pieces.iter().filter(|p| p.rank < k) {
        if continuity {
            heard.push(*p);
        } else {
            heard.extend((p.first..=p.last).map(|i| Piece {
                first: i,
                last: i,
                ..*p
            }));
        }
    }
    match linkage {
        Linkage::Continuity => heard
            .into_iter()
            .map(|p| Track { pieces: vec![p] })
            .collect(),
        Linkage::ByDay => {
            let mut days: BTreeMap<u32, Vec<Piece>> = BTreeMap::new();
            for p in heard {
                days.entry(p.day).or_default().push(p);
            }
            days.into_values().map(|pieces| Track { pieces }).collect()
        }
        Linkage::All if heard.is_empty() => Vec::new(),
        Linkage::All => vec![Track { pieces: heard }],
    }
}

/// What a person's tracks cover, as fractions of their public time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fractions {
    /// Σ over days with public time of (best track's intervals that day / public intervals
    /// that day), and the number of those days.
    pub day_sum: (f64, u64),
    /// The best track's intervals over all days / public intervals over all days.
    pub fortnight: f64,
    /// Intervals heard at all / public intervals.
    pub heard: f64,
}

/// The fractions of `pieces` (all of a person's stays) that `tracks` cover.
pub fn fractions(pieces: &[Piece], tracks: &[Track]) -> Fractions {
    let public = by_day(pieces.iter());
    let total: u32 = public.values().map(Mask::count).sum();
    if total == 0 {
        return Fractions {
            day_sum: (0.0, 0),
            fortnight: 0.0,
            heard: 0.0,
        };
    }
    let covered: Vec<BTreeMap<u32, Mask>> =
        tracks.iter().map(|t| by_day(t.pieces.iter())).collect();
    let mut day_sum = (0.0, 0);
    for (day, mask) in &public {
        let best = covered
            .iter()
            .filter_map(|c| c.get(day).map(Mask::count))
            .max()
            .unwrap_or(0);
        day_sum.0 += f64::from(best) / f64::from(mask.count());
        day_sum.1 += 1;
    }
    let best = tracks.iter().map(Track::intervals).max().unwrap_or(0);
    let heard: u32 = by_day(tracks.iter().flat_map(|t| t.pieces.iter()))
        .values()
        .map(Mask::count)
        .sum();
    Fractions {
        day_sum,
        fortnight: f64::from(best) / f64::from(total),
        heard: f64::from(heard) / f64::from(total),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(day: u32, rank: u32, first: u8, last: u8) -> Piece {
        Piece {
            day,
            rank,
            first,
            last,
        }
    }

    #[test]
    fn linking_rules() {
        // Day 0: a 3-interval stay at the busiest place and one at an unsniffed place;
        // day 1: two stays at sniffed places.
        let pieces = [
            piece(0, 0, 60, 62),
            piece(0, 50, 70, 71),
            piece(1, 1, 40, 40),
            piece(1, 2, 100, 103),
        ];
        let k = 10;
        let non_case = link(&pieces, k, Linkage::Continuity, true);
        assert_eq!(non_case.len(), 3);
        assert!(non_case.iter().all(Track::is_one_stay));
        let strict = link(&pieces, k, Linkage::Continuity, false);
        assert_eq!(strict.len(), 3 + 1 + 4);
        assert!(strict.iter().all(|t| t.intervals() == 1));
        let gaen = link(&pieces, k, Linkage::ByDay, true);
        assert_eq!(
            gaen.iter().map(Track::intervals).collect::<Vec<_>>(),
            [3, 5]
        );
        let bz = link(&pieces, k, Linkage::All, true);
        assert_eq!(bz.len(), 1);
        assert_eq!(bz[0].intervals(), 8);
        // Public time: 5 intervals on day 0, 5 on day 1.
        let f = fractions(&pieces, &gaen);
        assert_eq!(f.day_sum, (3.0 / 5.0 + 5.0 / 5.0, 2));
        assert!((f.fortnight - 0.5).abs() < 1e-12);
        assert!((f.heard - 0.8).abs() < 1e-12);
        let f = fractions(&pieces, &bz);
        assert!((f.fortnight - 0.8).abs() < 1e-12);
        let f = fractions(&pieces, &non_case);
        assert_eq!(f.day_sum, (3.0 / 5.0 + 4.0 / 5.0, 2));
        assert!((f.fortnight - 0.4).abs() < 1e-12);
        assert!(link(&pieces, 0, Linkage::All, true).is_empty());
    }
}
