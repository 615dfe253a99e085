//! The server's batches and the phones' fetches. At each batch boundary the server closes
//! the window on the virtual clock; the reference phone and the independent fetchers follow
//! the chain over HTTPS (and must agree); each new batch is derived once and handed to the
//! phones that will fetch it, each at its own next scheduled fetch, where it matches.

use std::collections::BTreeSet;

use en_protocol::matching::DerivedKeys;
use en_protocol::wire::batch::VerifiedBatch;

use super::day::unix;
use super::error::SimError;
use super::events::Kind;
use super::keys::day_of;
use super::matching::Published;
use super::outcome::DayStats;
use super::server::SimServer;
use super::timing::DAY;
use super::world::World;

impl World {
    /// The batch window ending at `t − 60` closes at `t`; phones download it.
    pub(super) async fn publish(
        &mut self,
        server: &mut SimServer,
        t: i64,
        st: &mut DayStats,
    ) -> Result<(), SimError> {
        self.send_fakes(server, t, st).await?;
        let started = std::time::Instant::now();
        let app = self.app.as_mut().expect("batches exist with the app");
        server.set_time(unix(t))?;
        server.close_window(unix(t - 60)).await?;
        let synced = app.reference.sync(&server.client, unix(t)).await?;
        app.fetch_requests += synced.requests;
        let hashes = |b: &[VerifiedBatch]| b.iter().map(|b| b.header().hash).collect::<Vec<_>>();
        for f in &mut app.fetchers {
            let other = f.sync(&server.client, unix(t)).await?;
            app.fetch_requests += other.requests;
            if hashes(&other.batches) != hashes(&synced.batches) {
                return Err(SimError::Disagreement(format!(
                    "at {t} s: {} and {} new batches",
                    synced.batches.len(),
                    other.batches.len()
                )));
            }
        }
        st.bytes_per_phone += synced.bytes;
        for batch in &synced.batches {
            st.batches += 1;
            st.keys_published += batch.keys().len() as u64;
            self.hand_out(batch, t);
        }
        self.phases.add(started, |p| &mut p.batches);
        self.publish_traces(server, t).await?;
        Ok(())
    }

    /// Hands a batch published at `t` to the phones that will match it: in pruned mode the
    /// app users who met an owner of one of its real keys on a day that key covers (or the
    /// day before, for clock skew near midnight); in exhaustive mode every app user.
    fn hand_out(&mut self, batch: &VerifiedBatch, t: i64) {
        let app = self.app.as_mut().expect("batches exist with the app");
        let keys = batch.keys().to_vec();
        let mut owners = BTreeSet::new();
        let mut met: BTreeSet<u32> = BTreeSet::new();
        for k in &keys {
            let Some(&o) = app.tek_owner.get(k.key.as_bytes()) else {
                continue;
            };
            owners.insert(o);
            if let Some(c) = app.case_times.get_mut(&o) {
                c.published.get_or_insert(t);
            }
            let kd = day_of(k.meta.rolling_start.start().0);
            for d in kd - 1..=kd + 1 {
                let Some(ds) = u32::try_from(d).ok().and_then(|d| self.sessions.get(&d)) else {
                    continue;
                };
                for s in ds.of(o) {
                    let other = if s.a == o { s.b } else { s.a };
                    if self.pop.people[other as usize].app {
                        met.insert(other);
                    }
                }
            }
        }
        let phones: Vec<u32> = if self.cfg.exhaustive_matching {
            (0..self.pop.people.len() as u32)
                .filter(|&p| self.pop.people[p as usize].app)
                .collect()
        } else if owners.is_empty() {
            return;
        } else {
            met.into_iter().collect()
        };
        let id = app.next_batch;
        app.next_batch += 1;
        for &p in &phones {
            let list = app.pending.entry(p).or_default();
            if list.is_empty() {
                // Its next fetch at or after t sees the batch (a batch sorts before a
                // fetch at the same time).
                let at = self.cfg.timing.next_fetch(self.cfg.seed, p, t - 1);
                self.agenda.push(at, Kind::Fetch, p);
            }
            list.push(id);
        }
        if !phones.is_empty() {
            app.published.insert(
                id,
                Published {
                    derived: DerivedKeys::new(&keys),
                    keys,
                    owners,
                    waiting: phones.len(),
                },
            );
        }
    }

    /// Phone `p` fetches at `t`: it matches the batches handed to it since its last fetch
    /// and may notify its user.
    pub(super) fn fetch(&mut self, p: u32, t: i64, st: &mut DayStats) {
        let Some(app) = self.app.as_mut() else {
            return;
        };
        let ids = app.pending.remove(&p).unwrap_or_default();
        let today = t.div_euclid(DAY) as u32;
        let cases = {
            let app = self.app.as_ref().expect("checked");
            let batches: Vec<&Published> = ids.iter().map(|i| &app.published[i]).collect();
            self.phone_assessment(p, today, &batches)
        };
        st.phone_fetches += 1;
        let app = self.app.as_mut().expect("checked");
        for i in &ids {
            let b = app.published.get_mut(i).expect("pending batches are kept");
            b.waiting -= 1;
            if b.waiting == 0 {
                app.published.remove(i);
            }
        }
        if !cases.is_empty() {
            self.notified(p, t, &cases, st);
        }
    }
}
