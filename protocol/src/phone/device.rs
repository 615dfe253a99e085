//! [`Phone`]: one phone's whole protocol state, sans IO. It owns its keys, its scans, its
//! follower of its home region's key chain and of the chains of regions it visited, the risk
//! configuration in force and its exposures, and turns each newly verified batch of any
//! followed region into exposure results.

use std::fmt;

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::exposure::{ExposureDay, Exposures, MatchedKey};
use super::keyring::{Broadcast, KeyRing};
use super::regions::VisitedRegions;
use super::{FollowerConfig, IndexUpdate, KeyFollower, Resync};
use crate::derive::Metadata;
use crate::error::Error;
use crate::matching::{Scan, ScanStore};
use crate::risk::{assess, exposure_windows};
use crate::time::{UnixTime, DAY_SECONDS};
use crate::wire::config::RiskConfig;
use crate::wire::index::IndexEntry;
use crate::wire::key::UploadKey;
use crate::wire::{Region, ReportType};

/// Most scans a phone keeps (and its stored state may hold): 14 days of a sighting every
/// ~0.6 s, far beyond what a phone records; past it [`Phone::record_scan`] refuses.
pub const MAX_SCANS: usize = 2_000_000;

/// What matching one newly verified batch found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchMatch {
    /// The region whose chain the batch belongs to.
    pub region: Region,
    /// The batch's sequence number.
    pub sequence: u64,
    /// Keys in the batch (padding included).
    pub keys: u32,
    /// True if the batch was accepted on first use (the phone had no head).
    pub on_trust: bool,
    /// Scans matched to a key of the batch.
    pub hits: usize,
    /// Exposure windows that counted after scoring.
    pub windows: usize,
    /// UTC days whose exposure results changed.
    pub days: Vec<u64>,
}

/// One phone, as a deterministic state machine: time and randomness are arguments, bytes
/// come in through `handle_*`, [`Phone::poll_fetch`] says which batch to download, and
/// [`Phone::encode`] is everything it needs to remember.
///
/// Until a risk configuration has been accepted, batches are scored with
/// [`RiskConfig::default`].
///
/// **Travellers.** Besides its home region (whose chain the `handle_*` methods without a
/// region follow, and whose risk configuration is in force), a phone follows the chain of
/// every region the person visited ([`Phone::visit_region`]) until 14 days after the last
/// visit: one follower per region, each with its own trusted keys and head; keys of every
/// followed region are matched against the same scans.
pub struct Phone {
    pub(super) keys: KeyRing,
    pub(super) scans: ScanStore,
    pub(super) follower: KeyFollower,
    pub(super) visited: VisitedRegions,
    /// The configuration in force: from a verified message, or stored after one.
    pub(super) risk: Option<RiskConfig>,
    pub(super) exposures: Exposures,
}

impl Phone {
    /// A new phone following `config`'s region with its trusted keys.
    pub fn new(config: FollowerConfig) -> Self {
        Phone {
            keys: KeyRing::new(),
            scans: ScanStore::default(),
            follower: KeyFollower::new(config),
            visited: VisitedRegions::default(),
            risk: None,
            exposures: Exposures::default(),
        }
    }

    /// Daily upkeep: a key for `now`'s day (drawn from `rng`), and keys, scans and exposure
    /// days older than 14 days dropped, and regions last visited more than 14 days ago no
    /// longer followed. Call it at [`Self::poll_timeout`] (and at start-up).
    pub fn handle_timeout(&mut self, now: UnixTime, rng: &mut impl CryptoRngCore) {
        self.keys.rotate(now, rng);
        self.scans.prune(now);
        self.exposures.prune(now);
        self.visited.prune(now);
    }

    /// The person is in `config.region` at `now`: follow its chain (trusting `config`'s
    /// keys) from now until [`super::VISITED_REGION_RETENTION_DAYS`] after the last visit.
    /// Visiting a region already followed refreshes its last visit and replaces its
    /// configuration (a key rotation), keeping its chain head. `usage` for the home region and
    /// past [`super::MAX_VISITED_REGIONS`].
    pub fn visit_region(&mut self, config: FollowerConfig, now: UnixTime) -> Result<(), Error> {
        let home = self.follower.config().region.clone();
        self.visited.visit(&home, config, now)
    }

    /// The visited regions followed, by region code, each with the UTC day of its last visit.
    pub fn visited_regions(&self) -> impl Iterator<Item = (&Region, u64)> {
        self.visited
            .regions
            .iter()
            .map(|v| (v.region(), v.last_visit_day))
    }

    /// Every region followed: home first, then the visited ones by region code.
    pub fn followed_regions(&self) -> Vec<&Region> {
        std::iter::once(self.region())
            .chain(self.visited.regions.iter().map(|v| v.region()))
            .collect()
    }

    /// The follower of `region` (home or visited), if followed.
    pub fn follower_of(&self, region: &Region) -> Option<&KeyFollower> {
        if region == self.region() {
            return Some(&self.follower);
        }
        self.visited.get(region).map(|v| &v.follower)
    }

    fn follower_of_mut(&mut self, region: &Region) -> Result<&mut KeyFollower, Error> {
        if region == &self.follower.config().region {
            return Ok(&mut self.follower);
        }
        self.visited
            .get_mut(region)
            .map(|v| &mut v.follower)
            .ok_or(Error::Usage("the region is not followed: visit it first"))
    }

    /// [`Self::handle_index`] for the chain of `region` (home or visited).
    pub fn handle_index_of(
        &mut self,
        region: &Region,
        bytes: &[u8],
        now: UnixTime,
    ) -> Result<IndexUpdate, Error> {
        self.follower_of_mut(region)?.handle_index(bytes, now)
    }

    /// [`Self::poll_fetch`] for the chain of `region`; `None` also for a region not followed.
    pub fn poll_fetch_of(&self, region: &Region) -> Option<&IndexEntry> {
        self.follower_of(region)?.poll_fetch()
    }

    /// [`Self::handle_batch`] for the chain of `region`: its keys are matched against the same
    /// scans and scored with the home region's configuration in force.
    pub fn handle_batch_of(
        &mut self,
        region: &Region,
        bytes: &[u8],
        now: UnixTime,
    ) -> Result<BatchMatch, Error> {
        let chained = self.follower_of_mut(region)?.handle_batch(bytes, now)?;
        Ok(self.score(region.clone(), chained))
    }

    /// [`Self::resync_from_index`] for the chain of `region`.
    pub fn resync_from_index_of(&mut self, region: &Region) -> Result<Resync, Error> {
        self.follower_of_mut(region)?.resync_from_index()
    }

    /// When to call [`Self::handle_timeout`] next: the next UTC midnight after `now`.
    pub fn poll_timeout(&self, now: UnixTime) -> UnixTime {
        UnixTime(
            (now.0 / DAY_SECONDS)
                .saturating_add(1)
                .saturating_mul(DAY_SECONDS),
        )
    }

    /// What to broadcast during `now`'s interval, with Bluetooth `metadata` in the AEM. Draws
    /// today's key from `rng` first if the phone has none yet.
    pub fn broadcast(
        &mut self,
        now: UnixTime,
        metadata: Metadata,
        rng: &mut impl CryptoRngCore,
    ) -> Broadcast {
        if self.keys.current(now).is_none() {
            self.keys.rotate(now, rng);
        }
        self.keys
            .broadcast(now, metadata)
            .expect("a key for today was just ensured")
    }

    /// Records a sighting. Refused once the phone holds [`MAX_SCANS`] scans.
    pub fn record_scan(&mut self, scan: Scan) -> Result<(), Error> {
        if self.scans.len() >= MAX_SCANS {
            return Err(Error::Usage(
                "the scan store is full: handle_timeout prunes scans older than 14 days",
            ));
        }
        self.scans.insert(scan);
        Ok(())
    }

    /// The keys to upload after a positive test (see [`KeyRing::upload_keys`]).
    pub fn upload_keys(&self, now: UnixTime) -> Vec<UploadKey> {
        self.keys.upload_keys(now)
    }

    /// Verifies the index and plans the batches to fetch ([`KeyFollower::handle_index`]).
    pub fn handle_index(&mut self, bytes: &[u8], now: UnixTime) -> Result<IndexUpdate, Error> {
        self.follower.handle_index(bytes, now)
    }

    /// The next batch to download.
    pub fn poll_fetch(&self) -> Option<&IndexEntry> {
        self.follower.poll_fetch()
    }

    /// Verifies and chains the batch [`Self::poll_fetch`] named, then matches its keys
    /// against the scans and scores the hits with the configuration in force.
    pub fn handle_batch(&mut self, bytes: &[u8], now: UnixTime) -> Result<BatchMatch, Error> {
        let chained = self.follower.handle_batch(bytes, now)?;
        let region = self.region().clone();
        Ok(self.score(region, chained))
    }

    /// Matches a verified, chained batch of `region` and adds its scored windows.
    fn score(
        &mut self,
        region: Region,
        chained: super::ChainedBatch<crate::wire::batch::VerifiedBatch>,
    ) -> BatchMatch {
        let on_trust = chained.on_trust();
        let batch = chained.into_batch();
        let keys = batch.keys();
        let hits = self.scans.match_keys(keys);
        let windows = exposure_windows(&hits, keys, self.scans.scans());
        let default = RiskConfig::default();
        let assessment = assess(windows, self.risk.as_ref().unwrap_or(&default));
        let sequence = batch.header().sequence;
        let days = self.exposures.add(keys, &assessment, sequence);
        BatchMatch {
            region,
            sequence,
            keys: batch.header().key_count,
            on_trust,
            hits: hits.len(),
            windows: assessment.windows.len(),
            days,
        }
    }

    /// Verifies a risk configuration ([`KeyFollower::handle_config`]) and puts it in force
    /// for the batches that follow.
    pub fn handle_config(&mut self, bytes: &[u8], now: UnixTime) -> Result<(), Error> {
        let v = self.follower.handle_config(bytes, now)?;
        self.risk = Some(v.config().clone());
        Ok(())
    }

    /// Bridges a reported chain gap, deliberately ([`KeyFollower::resync_from_index`]).
    pub fn resync_from_index(&mut self) -> Result<Resync, Error> {
        self.follower.resync_from_index()
    }

    /// The risk configuration in force, if one was accepted.
    pub fn risk_config(&self) -> Option<&RiskConfig> {
        self.risk.as_ref()
    }

    /// Exposure results, by day.
    pub fn exposures(&self) -> &[ExposureDay] {
        &self.exposures.days
    }

    /// The keys behind the exposures, with the metadata they were last published with.
    pub fn matched_keys(&self) -> &[MatchedKey] {
        &self.exposures.matched
    }

    /// The report type that caused day `day`'s exposure: the type of the keys contributing
    /// most to its score; `None` if the day has no exposure.
    pub fn cause(&self, day: u64) -> Option<ReportType> {
        let d = self.exposures.days.iter().find(|d| d.day == day)?;
        d.main_report_type(&self.exposures.matched)
    }

    /// Days whose score sum reaches the notification threshold in force.
    pub fn notify_days(&self) -> Vec<u64> {
        let threshold = self
            .risk
            .as_ref()
            .map_or(RiskConfig::default().notification_threshold, |c| {
                c.notification_threshold
            });
        self.exposures
            .days
            .iter()
            .filter(|d| d.score_sum >= f64::from(threshold))
            .map(|d| d.day)
            .collect()
    }

    /// The region followed.
    pub fn region(&self) -> &Region {
        &self.follower.config().region
    }

    /// The key ring.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The scans.
    pub fn scans(&self) -> &ScanStore {
        &self.scans
    }

    /// The chain follower (head, accepted times, pending batches).
    pub fn follower(&self) -> &KeyFollower {
        &self.follower
    }

    /// Everything the phone must remember, in the strict, canonical format of
    /// `spec/wire-format.md` §9. Holds its secret keys: store it like a secret (the buffer is
    /// zeroized when dropped).
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        super::state::encode(self)
    }

    /// Restores a phone that follows no visited region from [`Self::encode`]'s bytes (see
    /// [`Self::decode_with`]).
    pub fn decode(bytes: &[u8], config: FollowerConfig) -> Result<Self, Error> {
        super::state::decode(bytes, config, &[])
    }

    /// Restores a phone from [`Self::encode`]'s bytes (version 2, or version 1, which follows
    /// no visited region). `config` (trusted keys, limits) comes from the app, not from
    /// storage; its region must be the stored one (`usage` otherwise). So do the
    /// configurations of the visited regions: each stored visited region needs one in
    /// `visited` (`usage` otherwise); configurations of regions not stored are ignored (call
    /// [`Self::visit_region`]). Pending downloads are not stored: handle a fresh index after a
    /// restart.
    pub fn decode_with(
        bytes: &[u8],
        config: FollowerConfig,
        visited: &[FollowerConfig],
    ) -> Result<Self, Error> {
        super::state::decode(bytes, config, visited)
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Phone")
            .field("region", self.region())
            .field("keys", &self.keys)
            .field("scans", &self.scans.len())
            .field("follower", self.follower.state())
            .field("visited_regions", &self.visited.regions.len())
            .field("exposure_days", &self.exposures.days.len())
            .finish_non_exhaustive()
    }
}
