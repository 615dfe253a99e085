//! The world's agenda: timed events (test results, uploads, batch publications, phone
//! fetches) processed in time order. Ties are broken by kind, then person, so the order
//! never depends on when an event was scheduled.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What happens. The order of the variants breaks ties at equal times: a batch published
/// at t is seen by a phone fetching at t.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    /// The server closes the batch window ending 60 s before.
    Batch,
    /// A test result arrives (the sample was taken at `test`).
    Result {
        /// When the sample was taken.
        test: i64,
    },
    /// A confirmed app user uploads their keys (the confirming sample was taken at `test`,
    /// its result arrived at `result`).
    Upload {
        /// When the sample was taken.
        test: i64,
        /// When the result arrived.
        result: i64,
    },
    /// A phone fetches the batches published since its last fetch.
    Fetch,
    /// The health authority interviews a confirmed case and traces the venues it recalls
    /// (`venues`).
    Interview,
    /// A phone fetches the venue trace batches published since its last fetch (`venues`).
    VenueFetch,
}

/// One event: at `time` (seconds since the simulation epoch), `kind`, about `person`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Event {
    pub time: i64,
    pub kind: Kind,
    pub person: u32,
}

/// Events in time order.
#[derive(Default)]
pub(super) struct Agenda {
    heap: BinaryHeap<Reverse<Event>>,
}

impl Agenda {
    /// Schedules `kind` for `person` at `time`.
    pub fn push(&mut self, time: i64, kind: Kind, person: u32) {
        self.heap.push(Reverse(Event { time, kind, person }));
    }

    /// The next event before `until`, removed from the agenda.
    pub fn pop_before(&mut self, until: i64) -> Option<Event> {
        match self.heap.peek() {
            Some(Reverse(e)) if e.time < until => self.heap.pop().map(|r| r.0),
            _ => None,
        }
    }
}
