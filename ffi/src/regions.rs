//! A traveller's phone (spec/federation.md, issue #14): besides its home region, the phone
//! follows each region the person visited, each chain with that region's own export keys,
//! all matched against the same scans, and stops 14 days after the last visit. The regions
//! visited are also what an upload names (`visited_regions`), from this record only.

use std::sync::Arc;

use en_protocol::wire::Region;
use en_protocol::UnixTime;
use zeroize::Zeroizing;

use crate::phone::{follower_config, Phone};
use crate::records::{BatchResult, IndexUpdate, RegionKeys, ResyncWarning, VisitedRegion};
use crate::PhoneError;

#[uniffi::export]
impl Phone {
    /// A traveller's phone restored from [`Phone::save`]: the home region's keys and region as
    /// in [`Phone::restore`], and the export keys of each visited region it still follows
    /// (regions it no longer follows are ignored; one it follows without keys given here is
    /// refused with `usage`).
    #[uniffi::constructor]
    pub fn restore_traveller(
        state: Vec<u8>,
        export_public_keys: Vec<String>,
        region: String,
        visited: Vec<RegionKeys>,
    ) -> Result<Arc<Self>, PhoneError> {
        let state = Zeroizing::new(state);
        let config = follower_config(&export_public_keys, &region)?;
        let visited = visited
            .iter()
            .map(|v| follower_config(&v.export_public_keys, &v.region))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::wrap(en_protocol::phone::Phone::decode_with(
            &state, config, &visited,
        )?))
    }

    /// The person is in `region` at `now`: follow its chain (trusting `export_public_keys`,
    /// that region's server's keys) from now until 14 days after the last visit. Visiting
    /// again refreshes the date and the keys. `usage` for the home region and beyond 16
    /// regions.
    pub fn visit_region(
        &self,
        export_public_keys: Vec<String>,
        region: String,
        now: u64,
    ) -> Result<(), PhoneError> {
        let config = follower_config(&export_public_keys, &region)?;
        Ok(self.lock().visit_region(config, UnixTime(now))?)
    }

    /// The visited regions followed, by region code, with the day of the last visit: what an
    /// upload names in `visited_regions`.
    pub fn visited_regions(&self) -> Vec<VisitedRegion> {
        self.lock()
            .visited_regions()
            .map(|(r, day)| VisitedRegion {
                region: r.as_str().to_string(),
                last_visit_day: day,
            })
            .collect()
    }

    /// Every region followed: home first, then the visited ones by region code.
    pub fn followed_regions(&self) -> Vec<String> {
        self.lock()
            .followed_regions()
            .into_iter()
            .map(|r| r.as_str().to_string())
            .collect()
    }

    /// [`Phone::handle_index`] for `region`'s chain (home or visited; `usage` if not
    /// followed).
    pub fn handle_region_index(
        &self,
        region: String,
        bytes: Vec<u8>,
        now: u64,
    ) -> Result<IndexUpdate, PhoneError> {
        let region = Region::new(&region)?;
        Ok(self
            .lock()
            .handle_index_of(&region, &bytes, UnixTime(now))?
            .into())
    }

    /// [`Phone::next_batch`] for `region`'s chain, with the size the index announced for it.
    pub fn next_region_batch(&self, region: String) -> Result<Option<RegionBatch>, PhoneError> {
        let region = Region::new(&region)?;
        Ok(self.lock().poll_fetch_of(&region).map(|e| RegionBatch {
            sequence: e.sequence,
            size: e.size,
        }))
    }

    /// [`Phone::handle_batch`] for `region`'s chain: matched against the same scans and
    /// scored with the home region's risk configuration.
    pub fn handle_region_batch(
        &self,
        region: String,
        bytes: Vec<u8>,
        now: u64,
    ) -> Result<BatchResult, PhoneError> {
        let region = Region::new(&region)?;
        Ok(self
            .lock()
            .handle_batch_of(&region, &bytes, UnixTime(now))?
            .into())
    }

    /// [`Phone::resync`] for `region`'s chain.
    pub fn resync_region(&self, region: String) -> Result<ResyncWarning, PhoneError> {
        let region = Region::new(&region)?;
        Ok(self.lock().resync_from_index_of(&region)?.into())
    }
}

/// The next batch of a region's chain to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct RegionBatch {
    /// Its sequence number (`GET /v1/batches/{sequence}` on that region's server).
    pub sequence: u64,
    /// The exact size the signed index announced: stop downloading past it.
    pub size: u64,
}
