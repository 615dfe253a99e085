//! [`World::step_day`]: one simulated day. First the day's timed events in the order of the
//! virtual clock (test results, uploads, the server's batches, phones fetching and being
//! notified, fake uploads in between); then the day's contacts take place, without the
//! sessions of people who isolate by then, and transmit.
//!
//! Events first is exact, not an approximation: nothing that happens on a day depends on
//! that day's contacts. Contacts happen between 7:00 and midnight; a test is positive from
//! two days after infection, so today's infections change no result today; and a phone
//! fetching on day d only needs scans up to day d − 1, because day d's keys stay embargoed
//! until 2 hours after the day ends (GAEN), and phones' clocks are off by 5 minutes at most.

use std::time::Instant;

use en_protocol::UnixTime;

use super::contacts::{self, DayPlan};
use super::epidemic::transmission_probability;
use super::error::SimError;
use super::events::Kind;
use super::outcome::DayStats;
use super::phases::thread_cpu_seconds;
use super::server::SimServer;
use super::sessions::DaySessions;
use super::streams::{unit, Stream};
use super::timing::DAY;
use super::world::World;
use super::EPOCH;

/// Days of sessions kept: the 14 days a phone's scans cover, and today.
const SESSION_DAYS: usize = 15;

/// Unix time of `t` seconds since the simulation epoch.
pub(super) fn unix(t: i64) -> UnixTime {
    UnixTime((EPOCH as i64 + t) as u64)
}

impl World {
    /// Simulates the next day and returns its numbers. `server` is the server of a world
    /// with the app ([`World::new`]) and `None` for a counterfactual world.
    ///
    /// A server that refuses a real upload is counted and reported; a phone that refuses
    /// what the server publishes (stale index, broken chain) stops the run with
    /// [`SimError::Chain`].
    pub async fn step_day(
        &mut self,
        mut server: Option<&mut SimServer>,
    ) -> Result<&DayStats, SimError> {
        if self.app.is_some() != server.is_some() {
            return Err(SimError::Config(
                "a world with the app needs a server, a counterfactual world none".into(),
            ));
        }
        let cpu = thread_cpu_seconds();
        let day = self.day();
        let mut st = DayStats {
            day,
            ..Default::default()
        };
        if let Some(app) = &mut self.app {
            app.chaff.plan_day(day);
        }
        let end = (i64::from(day) + 1) * DAY;
        while let Some(e) = self.agenda.pop_before(end) {
            match e.kind {
                Kind::Result { test } => {
                    let t = Instant::now();
                    self.result(e.person, e.time, test, &mut st);
                    self.phases.add(t, |p| &mut p.results);
                }
                Kind::Upload { test, result } => {
                    let server = server.as_deref_mut().expect("checked above");
                    let times = (test, result, e.time);
                    self.upload(server, e.person, times, &mut st).await?;
                }
                Kind::Batch => {
                    let server = server.as_deref_mut().expect("checked above");
                    self.publish(server, e.time, &mut st).await?;
                }
                Kind::Fetch => {
                    let t = Instant::now();
                    self.fetch(e.person, e.time, &mut st);
                    self.phases.add(t, |p| &mut p.matching);
                }
                Kind::Interview => {
                    let server = server.as_deref_mut().expect("checked above");
                    self.interview(server, e.person, e.time, &mut st).await?;
                }
                Kind::VenueFetch => {
                    let t = Instant::now();
                    self.venue_fetch(e.person, e.time, &mut st);
                    self.phases.add(t, |p| &mut p.matching);
                }
            }
        }
        if let Some(server) = server {
            self.send_fakes(server, end, &mut st).await?;
        }
        let t = Instant::now();
        let plan = contacts::plan_day(&self.pop, &self.cfg.population, day, self.cfg.seed);
        self.phases.add(t, |p| &mut p.plan_contacts);
        let t = Instant::now();
        self.live(day, plan, &mut st);
        self.phases.add(t, |p| &mut p.live);
        let t = Instant::now();
        self.record_close_contacts(day);
        self.phases.add(t, |p| &mut p.results);
        let d = day as i32;
        st.infectious = self
            .health
            .iter()
            .filter(|h| h.infectiousness(d) > 0.0)
            .count() as u64;
        st.isolating = self.health.iter().filter(|h| h.isolating_on(d)).count() as u64;
        self.daily.push(st);
        self.phases.thread_cpu += thread_cpu_seconds() - cpu;
        Ok(self.daily.last().expect("just pushed"))
    }

    /// Infects `p` on `day` if susceptible: their course, the test they will seek, the
    /// expected hospitalisations. Returns whether they were infected.
    pub(super) fn infect(&mut self, p: u32, day: i32) -> bool {
        let h = &mut self.health[p as usize];
        if !h.susceptible() {
            return false;
        }
        let sought = h.infect(p, day, &self.cfg.epidemic, &self.cfg.timing, self.cfg.seed);
        if let Some(t) = sought {
            self.agenda
                .push(t.result.max(0), Kind::Result { test: t.test }, p);
        }
        let band = self.pop.people[p as usize].age_band as usize;
        self.tally.hospitalisations += self.cfg.epidemic.hospitalisation_by_age[band];
        true
    }

    /// The day's contacts: sessions of people isolating at their start are dropped (except
    /// at home), the others transmit, each direction with its own coin keyed by the day and
    /// the session's index in the day's plan; public visits go to the sniffer.
    fn live(&mut self, day: u32, plan: DayPlan, st: &mut DayStats) {
        let d = day as i32;
        let seed = self.cfg.seed;
        let beta = self.cfg.epidemic.beta;
        let hosp_before = self.tally.hospitalisations;
        let mut kept = Vec::with_capacity(plan.sessions.len());
        for (i, s) in plan.sessions.iter().enumerate() {
            let t = i64::from(s.start);
            let isolating = |p: u32| self.health[p as usize].isolating_at(t);
            if !s.at_home && (isolating(s.a) || isolating(s.b)) {
                continue;
            }
            for (src, dst) in [(s.a, s.b), (s.b, s.a)] {
                let inf = self.health[src as usize].infectiousness(d);
                if inf > 0.0 && self.health[dst as usize].susceptible() {
                    let p = transmission_probability(
                        beta,
                        f64::from(s.duration) / 60.0,
                        f64::from(s.distance_cm) / 100.0,
                        inf,
                    );
                    let coin = unit(
                        seed,
                        Stream::Transmission,
                        (u64::from(day) << 32) | i as u64,
                        u64::from(src),
                    );
                    if coin < p && self.infect(dst, d) {
                        st.new_infections += 1;
                    }
                }
            }
            kept.push(*s);
        }
        st.sessions = kept.len() as u64;
        st.new_hospitalisations = self.tally.hospitalisations - hosp_before;
        self.venue_visits(day, &plan.visits);
        if let Some(app) = &mut self.app {
            let visits = plan.visits.into_iter().filter(|v| {
                self.pop.people[v.person as usize].app
                    && !self.health[v.person as usize].isolating_at(i64::from(v.start))
            });
            app.sniffer.record_day(day, visits);
        }
        self.sessions
            .insert(day, DaySessions::new(kept, self.pop.people.len()));
        while self.sessions.len() > SESSION_DAYS {
            self.sessions.pop_first();
        }
    }

    /// The fakes due before `until` (seconds since the epoch).
    pub(super) async fn send_fakes(
        &mut self,
        server: &mut SimServer,
        until: i64,
        st: &mut DayStats,
    ) -> Result<(), SimError> {
        if let Some(app) = &mut self.app {
            let t = Instant::now();
            let sent = app.chaff.send_until(server, unix(until)).await?;
            st.fake_uploads += sent.answered;
            st.fake_upload_refusals += sent.refused;
            self.phases.add(t, |p| &mut p.fakes);
        }
        Ok(())
    }
}
