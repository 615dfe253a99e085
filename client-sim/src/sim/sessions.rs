//! [`DaySessions`]: one day's contact sessions with a per-person index, kept 15 days for
//! ground truth and for regenerating the phones' scans.

use super::contacts::Session;

/// A day's sessions with a per-person index (CSR: `offsets[p]..offsets[p + 1]` of `index`
/// are the sessions of person `p`).
pub(super) struct DaySessions {
    list: Vec<Session>,
    offsets: Vec<u32>,
    index: Vec<u32>,
}

impl DaySessions {
    /// Indexes `list` for `n` people.
    pub fn new(list: Vec<Session>, n: usize) -> Self {
        let mut counts = vec![0u32; n + 1];
        for s in &list {
            counts[s.a as usize + 1] += 1;
            counts[s.b as usize + 1] += 1;
        }
        for i in 1..=n {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut index = vec![0u32; list.len() * 2];
        for (i, s) in list.iter().enumerate() {
            for p in [s.a, s.b] {
                index[fill[p as usize] as usize] = i as u32;
                fill[p as usize] += 1;
            }
        }
        DaySessions {
            list,
            offsets: counts,
            index,
        }
    }

    /// The sessions person `p` took part in, in the day's order.
    pub fn of(&self, p: u32) -> impl Iterator<Item = &Session> {
        self.index[self.offsets[p as usize] as usize..self.offsets[p as usize + 1] as usize]
            .iter()
            .map(|&i| &self.list[i as usize])
    }
}
