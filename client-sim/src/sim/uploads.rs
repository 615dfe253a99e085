//! A confirmed app user's real upload: their 14 days of keys, through the health authority
//! (case report) or through their phone with a certificate.

use en_protocol::wire::key::UploadKey;
use en_protocol::IntervalNumber;
use rand::Rng;

use super::day::unix;
use super::error::SimError;
use super::keys::tek;
use super::outcome::DayStats;
use super::server::SimServer;
use super::streams::{rng, Stream};
use super::timing::DAY;
use super::world::{CaseTimes, World};
use super::EPOCH;

/// The first interval of simulation day `day`.
fn day_start(day: i32) -> IntervalNumber {
    IntervalNumber(((EPOCH / 86_400) as i64 + i64::from(day)) as u32 * 144)
}

impl World {
    /// Person `p` uploads the keys of their last 14 days; `times` are the confirming
    /// sample's, its result's and the upload's (seconds since the epoch). A refusal is
    /// counted (by the server handle) and reported, and the day goes on.
    pub(super) async fn upload(
        &mut self,
        server: &mut SimServer,
        p: u32,
        times: (i64, i64, i64),
        st: &mut DayStats,
    ) -> Result<(), SimError> {
        let (test, result, now) = times;
        self.send_fakes(server, now, st).await?;
        let started = std::time::Instant::now();
        let seed = self.cfg.seed;
        let day = now.div_euclid(DAY) as i32;
        let app = self.app.as_mut().expect("uploads happen with the app");
        let keys: Vec<UploadKey> = (day - 13..=day)
            .map(|k| UploadKey {
                key: tek(seed, p, i64::from(k)),
                rolling_start: day_start(k),
                rolling_period: 144,
                transmission_risk: 0,
            })
            .collect();
        for k in &keys {
            app.tek_owner.insert(*k.key.as_bytes(), p);
        }
        let onset = self.health[p as usize]
            .onset
            .map(|o| IntervalNumber(day_start(o).0 + 72));
        // The channel and the upload's own random bytes: this person's upload stream.
        let mut r = rng(seed, Stream::Upload, u64::from(p), 3);
        let via_authority = r.gen_bool(self.cfg.case_report_share);
        if !via_authority {
            // The phone uploads itself: that takes the place of its fake of the day.
            app.chaff.real_upload(p, unix(now));
        }
        app.case_times.insert(
            p,
            CaseTimes {
                test,
                result,
                upload: now,
                published: None,
            },
        );
        app.sniffer.uploaded(p, day);
        st.keys_uploaded += keys.len() as u64;
        server.set_time(unix(now).max(server.now()))?;
        match server
            .upload(keys, onset, unix(now), via_authority, &mut r)
            .await
        {
            Ok(()) => st.uploads += 1,
            Err(e) => eprintln!("warning: upload refused: {e}"),
        }
        self.phases.add(started, |p| &mut p.uploads);
        Ok(())
    }
}
