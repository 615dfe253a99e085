//! A confirmed app user's real upload: their 14 days of keys, through the health authority
//! (case report) or through their phone with a certificate.

use en_protocol::wire::key::UploadKey;
use en_protocol::{IntervalNumber, UnixTime};
use rand::Rng;
use rand_chacha::ChaCha20Rng;

use super::error::SimError;
use super::keys::tek;
use super::outcome::DayStats;
use super::server::SimServer;
use super::world::World;
use super::EPOCH;

/// The first interval of simulation day `day`.
fn day_start(day: i32) -> IntervalNumber {
    IntervalNumber(((EPOCH / 86_400) as i64 + i64::from(day)) as u32 * 144)
}

impl World {
    /// Person `p`, confirmed on `day`, uploads the keys of their last 14 days at `now`.
    /// A refusal is counted (by the server handle) and reported, and the day goes on.
    pub(super) async fn upload_case(
        &mut self,
        server: &mut SimServer,
        p: u32,
        day: i32,
        now: UnixTime,
        drng: &mut ChaCha20Rng,
        st: &mut DayStats,
    ) -> Result<(), SimError> {
        let keys: Vec<UploadKey> = (day - 13..=day)
            .map(|k| UploadKey {
                key: tek(self.cfg.seed, p, i64::from(k)),
                rolling_start: day_start(k),
                rolling_period: 144,
                transmission_risk: 0,
            })
            .collect();
        for k in &keys {
            self.tek_owner.insert(*k.key.as_bytes(), p);
        }
        let onset = self.health[p as usize]
            .onset
            .map(|o| IntervalNumber(day_start(o).0 + 72));
        let via_authority = drng.gen_bool(self.cfg.case_report_share);
        if !via_authority {
            // The phone uploads itself: that takes the place of its fake of the day.
            self.chaff.real_upload(p, now);
        }
        st.keys_uploaded += keys.len() as u64;
        match server.upload(keys, onset, now, via_authority, drng).await {
            Ok(()) => st.uploads += 1,
            Err(e) => eprintln!("warning: upload refused: {e}"),
        }
        Ok(())
    }
}
