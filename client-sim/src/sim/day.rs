//! [`World::step_day`]: one simulated day, in the order of its virtual clock: sessions and
//! infection; fakes due in the morning; test results and real uploads at 14:00; the
//! afternoon's and evening's fakes; at midnight the server's batch, then the phones
//! fetching, matching and being notified.

use en_protocol::wire::key::DiagnosisKey;
use en_protocol::UnixTime;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::ble::mix;
use super::contacts;
use super::epidemic;
use super::error::SimError;
use super::outcome::DayStats;
use super::server::SimServer;
use super::sessions::DaySessions;
use super::world::World;
use super::EPOCH;

/// Days of sessions kept: the 14 days a phone's scans cover, and today.
const SESSION_DAYS: usize = 15;
/// When test results arrive and confirmed cases upload.
const RESULTS_HOUR: u64 = 14;

/// Unix time of `hour`:00 on simulation day `day`.
fn at(day: u32, hour: u64) -> UnixTime {
    UnixTime(EPOCH + u64::from(day) * 86_400 + hour * 3600)
}

impl World {
    /// Simulates the next day against `server` and returns its numbers.
    ///
    /// A server that refuses a real upload is counted and reported; a phone that refuses
    /// what the server publishes (stale index, broken chain) stops the run with
    /// [`SimError::Chain`].
    pub async fn step_day(&mut self, server: &mut SimServer) -> Result<&DayStats, SimError> {
        let day = self.day();
        let mut st = DayStats {
            day,
            ..Default::default()
        };
        let mut drng = ChaCha20Rng::seed_from_u64(mix(self.cfg.seed ^ mix(u64::from(day) + 1)));
        for d in [i64::from(day) - 1, i64::from(day), i64::from(day) + 1] {
            self.ciphers.ensure(d, self.cfg.seed, &self.pop.people);
        }
        self.chaff.plan_day(day);
        self.meet_and_infect(day, &mut drng, &mut st);
        self.send_fakes(server, at(day, RESULTS_HOUR), &mut st)
            .await?;
        self.test_and_upload(server, day, &mut drng, &mut st)
            .await?;
        self.send_fakes(server, at(day + 1, 0), &mut st).await?;
        self.night(server, day, &mut drng, &mut st).await?;
        let d = day as i32;
        st.infectious = self
            .health
            .iter()
            .filter(|h| h.infectiousness(d) > 0.0)
            .count() as u64;
        st.isolating = self.health.iter().filter(|h| h.isolating(d)).count() as u64;
        self.daily.push(st);
        Ok(self.daily.last().expect("just pushed"))
    }

    /// The day's sessions (isolating people meet only their household) and the infections
    /// they transmit.
    fn meet_and_infect(&mut self, day: u32, drng: &mut ChaCha20Rng, st: &mut DayStats) {
        let d = day as i32;
        let isolating: Vec<bool> = self.health.iter().map(|h| h.isolating(d)).collect();
        let list = contacts::day_sessions(&self.pop, day, &isolating, drng);
        st.sessions = list.len() as u64;
        for (i, s) in list.iter().enumerate() {
            for (src, dst) in [(s.a, s.b), (s.b, s.a)] {
                let inf = self.health[src as usize].infectiousness(d);
                if inf > 0.0 && self.health[dst as usize].susceptible() {
                    let p = epidemic::transmission_probability(
                        self.cfg.epidemic.beta,
                        f64::from(s.duration) / 60.0,
                        f64::from(s.distance_cm) / 100.0,
                        inf,
                    );
                    let h = mix(self.cfg.seed
                        ^ mix((u64::from(day) << 32) ^ i as u64 ^ (u64::from(src) << 40)));
                    if (h >> 11) as f64 / (1u64 << 53) as f64 <= p {
                        self.health[dst as usize].infect(d, &self.cfg.epidemic, drng);
                        st.new_infections += 1;
                    }
                }
            }
        }
        self.sessions
            .insert(day, DaySessions::new(list, self.pop.people.len()));
        while self.sessions.len() > SESSION_DAYS {
            self.sessions.pop_first();
        }
    }

    /// The fakes due before `until`.
    async fn send_fakes(
        &mut self,
        server: &mut SimServer,
        until: UnixTime,
        st: &mut DayStats,
    ) -> Result<(), SimError> {
        let sent = self.chaff.send_until(server, until).await?;
        st.fake_uploads += sent.answered;
        st.fake_upload_refusals += sent.refused;
        Ok(())
    }

    /// Results of yesterday's tests arrive at 14:00; confirmed app users upload.
    async fn test_and_upload(
        &mut self,
        server: &mut SimServer,
        day: u32,
        drng: &mut ChaCha20Rng,
        st: &mut DayStats,
    ) -> Result<(), SimError> {
        let d = day as i32;
        let now = at(day, RESULTS_HOUR);
        server.set_time(now)?;
        for p in 0..self.pop.people.len() as u32 {
            let h = &self.health[p as usize];
            if h.test_day == Some(d - 1)
                && self.confirmed_day[p as usize].is_none()
                && h.tests_positive(d - 1)
            {
                self.confirmed_day[p as usize] = Some(d);
                self.health[p as usize].isolating_until = d + self.cfg.epidemic.isolation_days;
                st.confirmed += 1;
                self.record_close_contacts(p, day);
                if self.pop.people[p as usize].app {
                    self.upload_case(server, p, d, now, drng, st).await?;
                }
            }
        }
        Ok(())
    }

    /// Midnight: the server closes the day's batch; the reference phone and the independent
    /// fetchers download and verify it; every app user matches; the notified isolate and
    /// get tested.
    async fn night(
        &mut self,
        server: &mut SimServer,
        day: u32,
        drng: &mut ChaCha20Rng,
        st: &mut DayStats,
    ) -> Result<(), SimError> {
        let boundary = at(day + 1, 0);
        let now = boundary.plus(60);
        server.set_time(now)?;
        server.close_window(boundary).await?;
        let synced = self.reference.sync(&server.client, now).await?;
        self.fetch_requests += synced.requests;
        let hashes = |b: &[en_protocol::wire::batch::VerifiedBatch]| {
            b.iter().map(|b| b.header().hash).collect::<Vec<_>>()
        };
        for f in &mut self.fetchers {
            let other = f.sync(&server.client, now).await?;
            self.fetch_requests += other.requests;
            if hashes(&other.batches) != hashes(&synced.batches) {
                return Err(SimError::Disagreement(format!(
                    "day {day}: {} and {} new batches",
                    synced.batches.len(),
                    other.batches.len()
                )));
            }
        }
        st.bytes_per_phone = synced.bytes;
        let keys: Vec<DiagnosisKey> = synced
            .batches
            .iter()
            .flat_map(|b| b.keys().iter().cloned())
            .collect();
        st.keys_published = keys.len() as u64;
        if !keys.is_empty() {
            let results = self.match_phones(day, &keys);
            self.notify(day, results, drng, st);
        }
        Ok(())
    }

    /// Records the night's notifications; notified people isolate (if the model says so)
    /// and book a test for tomorrow.
    fn notify(
        &mut self,
        day: u32,
        results: Vec<(u32, Vec<u32>)>,
        drng: &mut ChaCha20Rng,
        st: &mut DayStats,
    ) {
        let d = day as i32;
        let ep = &self.cfg.epidemic;
        for (p, sources) in results {
            if !self.notified[p as usize] {
                st.notified += 1;
            }
            self.notified[p as usize] = true;
            for c in sources {
                self.notified_pairs.entry((p, c)).or_insert(day);
            }
            let h = &mut self.health[p as usize];
            if ep.notified_isolate {
                h.isolating_until = h.isolating_until.max(d + 1 + ep.isolation_days);
            }
            if h.test_day.is_none_or(|t| t < d) && drng.gen_bool(ep.p_test_when_notified) {
                h.test_day = Some(d + 1);
            }
        }
    }
}
