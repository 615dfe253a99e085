//! App users' fake uploads on a real phone's schedule ([`ChaffSchedule`]): every app user
//! plans each day, a phone's real upload replaces its day's fake, and the day's fakes are
//! sent in time order, a few dozen at a time, the server's clock at each group's first.
//!
//! Fakes store nothing, so they cannot change precision or recall; they are counted apart
//! (`fake_uploads`). Their randomness is a stream of its own derived from the seed, so the
//! rest of the world draws the same numbers with or without them.

use en_protocol::phone::ChaffSchedule;
use en_protocol::UnixTime;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use tokio::task::JoinSet;

use super::error::SimError;
use super::population::Person;
use super::server::SimServer;
use super::streams::{rng, Stream};
use super::EPOCH;

/// Fake uploads in flight at once: enough for the server to group its durable writes.
const IN_FLIGHT: usize = 32;

/// Every app user's chaff schedule and the day's fakes still to send.
pub(super) struct Chaff {
    seed: u64,
    /// Per person; `None` for people without the app.
    schedules: Vec<Option<ChaffSchedule>>,
    /// The day's planned fakes, (time, person), in time order; `queue[next..]` not yet due.
    queue: Vec<(UnixTime, u32)>,
    next: usize,
    /// The day's stream: plans, then each sent fake's own generator.
    rng: ChaCha20Rng,
}

/// What sending fakes did.
#[derive(Default)]
pub(super) struct Sent {
    /// Fakes the server answered as it answers uploads.
    pub answered: u64,
    /// Fakes it refused (a bug: a fake must pass where a real upload passes).
    pub refused: u64,
}

impl Chaff {
    /// A schedule at `per_day` for each app user.
    pub fn new(per_day: f64, people: &[Person], seed: u64) -> Result<Self, SimError> {
        let schedule = ChaffSchedule::new(per_day).map_err(|_| {
            SimError::Config(format!(
                "the chaff rate must be between 0 and 1 per day, got {per_day}"
            ))
        })?;
        Ok(Chaff {
            seed,
            schedules: people
                .iter()
                .map(|p| p.app.then(|| schedule.clone()))
                .collect(),
            queue: Vec::new(),
            next: 0,
            rng: ChaCha20Rng::seed_from_u64(0),
        })
    }

    /// Every app user wakes at the start of `day` and plans it.
    pub fn plan_day(&mut self, day: u32) {
        self.rng = rng(self.seed, Stream::Chaff, u64::from(day), 0);
        let start = UnixTime(EPOCH + u64::from(day) * 86_400);
        self.queue.clear();
        self.next = 0;
        for (p, s) in self.schedules.iter_mut().enumerate() {
            if let Some(s) = s {
                s.handle_timeout(start, &mut self.rng);
                if let Some(t) = s.planned() {
                    self.queue.push((t, p as u32));
                }
            }
        }
        self.queue.sort_unstable();
    }

    /// Person `p`'s phone uploads its keys at `now`: that replaces its day's fake if still
    /// to come.
    pub fn real_upload(&mut self, p: u32, now: UnixTime) {
        if let Some(s) = &mut self.schedules[p as usize] {
            s.handle_real_upload(now);
        }
    }

    /// Sends every planned fake due before `until`, in time order, [`IN_FLIGHT`] at a time;
    /// each carries its own scheduled time, and the server's clock is moved (never back) to
    /// the first of each group.
    pub async fn send_until(
        &mut self,
        server: &mut SimServer,
        until: UnixTime,
    ) -> Result<Sent, SimError> {
        let mut sent = Sent::default();
        while self.next < self.queue.len() && self.queue[self.next].0 < until {
            let mut group = Vec::with_capacity(IN_FLIGHT);
            while group.len() < IN_FLIGHT
                && self.next < self.queue.len()
                && self.queue[self.next].0 < until
            {
                let (t, p) = self.queue[self.next];
                self.next += 1;
                let due = self.schedules[p as usize]
                    .as_mut()
                    .is_some_and(|s| s.poll_fake(t));
                if due {
                    group.push((t, ChaCha20Rng::from_seed(self.rng.gen())));
                }
            }
            let Some(&(first, _)) = group.first() else {
                continue;
            };
            server.set_time(first.max(server.now()))?;
            let mut tasks = JoinSet::new();
            for (t, mut rng) in group {
                let client = server.client.clone();
                tasks.spawn(async move { en_client::phone::chaff(&client, t, &mut rng).await });
            }
            while let Some(r) = tasks.join_next().await {
                if let Err(e) = r.expect("a fake upload's task panicked") {
                    if sent.refused == 0 {
                        eprintln!("warning: fake upload refused: {e}");
                    }
                    sent.refused += 1;
                } else {
                    sent.answered += 1;
                }
            }
        }
        Ok(sent)
    }
}
