//! A traveller's downloads: a [`Phone`] follows its home region and every region it visited,
//! each from its own server with its own trusted export keys. For each region this module
//! downloads the index and every new batch and hands the bytes to the phone, which verifies
//! and chains them per region and matches their keys against its scans
//! ([`Phone::handle_batch_of`]). The home region's risk configuration is put in force first.

use en_protocol::phone::{FollowerConfig, Phone, Resync};
use en_protocol::verify::ExportKeys;
use en_protocol::wire::Region;
use en_protocol::UnixTime;

use crate::fetch::KEY_PATHS;
use crate::transport::Client;
use crate::Error;

/// One region to follow: where its batches are served and whose signatures to trust.
pub struct RegionSource {
    /// The region.
    pub region: Region,
    /// A client for the region's server.
    pub client: Client,
    /// The region's trusted export keys.
    pub trusted: ExportKeys,
}

impl RegionSource {
    /// The phone's follower configuration for this region.
    pub fn config(&self) -> FollowerConfig {
        FollowerConfig::new(self.trusted.clone(), self.region.clone())
    }
}

/// What one sync of one region downloaded and matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionSynced {
    /// The region.
    pub region: Region,
    /// New batches verified and chained.
    pub batches: usize,
    /// Keys in them (padding included).
    pub keys: u64,
    /// Scans that matched one of their keys.
    pub hits: usize,
    /// The region's last verified batch after the sync.
    pub head: Option<u64>,
    /// Set when a gap was resolved by a resync (only if the caller allowed it).
    pub resync: Option<Resync>,
}

/// Syncs every region `phone` follows whose source is in `sources` (the home region's first,
/// with its risk configuration). A followed region without a source is an error: the phone
/// would silently miss its keys.
pub async fn sync_regions(
    phone: &mut Phone,
    sources: &[RegionSource],
    now: UnixTime,
    resync: bool,
) -> Result<Vec<RegionSynced>, Error> {
    let followed: Vec<Region> = phone.followed_regions().into_iter().cloned().collect();
    let mut out = Vec::with_capacity(followed.len());
    for (i, region) in followed.iter().enumerate() {
        let source = sources
            .iter()
            .find(|s| &s.region == region)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "the phone follows region {} but no server was given for it",
                    region.as_str()
                ))
            })?;
        if i == 0 {
            let raw = source.client.get("/v1/config").await?;
            phone
                .handle_config(&raw, now)
                .map_err(|e| Error::protocol("the risk configuration", e))?;
        }
        out.push(sync_region(phone, source, now, resync).await?);
    }
    Ok(out)
}

async fn sync_region(
    phone: &mut Phone,
    source: &RegionSource,
    now: UnixTime,
    resync: bool,
) -> Result<RegionSynced, Error> {
    let region = &source.region;
    let what = format!("the index of {}", region.as_str());
    let raw = source.client.get(KEY_PATHS.index).await?;
    let gap = match phone.handle_index_of(region, &raw, now) {
        Ok(_) => None,
        Err(e) if resync && e.code() == "chain_gap" => Some(
            phone
                .resync_from_index_of(region)
                .map_err(|e| Error::protocol(what.clone(), e))?,
        ),
        Err(e) => return Err(Error::protocol(what, e)),
    };
    let mut synced = RegionSynced {
        region: region.clone(),
        batches: 0,
        keys: 0,
        hits: 0,
        head: None,
        resync: gap,
    };
    while let Some(e) = phone.poll_fetch_of(region) {
        let seq = e.sequence;
        let bytes = source
            .client
            .get(&format!("{}{seq}", KEY_PATHS.batches))
            .await?;
        let m = phone
            .handle_batch_of(region, &bytes, now)
            .map_err(|e| Error::protocol(format!("batch {seq} of {}", region.as_str()), e))?;
        synced.batches += 1;
        synced.keys += u64::from(m.keys);
        synced.hits += m.hits;
    }
    synced.head = phone
        .follower_of(region)
        .and_then(|f| f.head())
        .map(|h| h.sequence);
    Ok(synced)
}
