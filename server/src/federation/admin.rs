//! `en-server federation status | resync`: what an operator sees of the imports from
//! configured peers, and the one thing an operator does to them, resynchronising after the
//! peer's chain broke (spec/federation.md §5).

use en_protocol::wire::Region;
use en_protocol::UnixTime;

use crate::config::{Resolved, CONFIG_FILE};
use crate::error::Error;
use crate::store::open::open;

/// The import from one configured peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer's region.
    pub region: Region,
    /// Where its chain for this region is fetched.
    pub url: String,
    /// The last batch imported from it.
    pub last_imported: Option<u64>,
    /// When the index that listed the last batch imported was signed (the follower's newest
    /// index time: an older index is refused).
    pub index_generated_at: Option<UnixTime>,
}

/// The import state of every configured peer, in the configuration's order.
pub async fn status(cfg: &Resolved) -> Result<Vec<PeerStatus>, Error> {
    let (store, _) = open(cfg).await?;
    let mut out = Vec::with_capacity(cfg.federation.peers.len());
    for (region, p) in &cfg.federation.peers {
        let st = store.import_state(region).await?.unwrap_or_default();
        out.push(PeerStatus {
            region: region.clone(),
            url: p.url.clone(),
            last_imported: st.head.map(|h| h.sequence),
            index_generated_at: st.index_generated_at,
        });
    }
    Ok(out)
}

/// Forgets the last batch imported from the configured peer `region`
/// ([`crate::store::Store::forget_import_head`]); returns its sequence number, `None` if
/// nothing was imported from it.
pub async fn resync(cfg: &Resolved, region: &str) -> Result<Option<u64>, Error> {
    let peer = cfg
        .federation
        .peers
        .iter()
        .map(|(r, _)| r)
        .find(|r| r.as_str() == region)
        .ok_or_else(|| Error::Config {
            file: cfg.data_dir.join(CONFIG_FILE),
            message: format!(
                "{region} is not a federation peer (configured: {})",
                configured(cfg)
            ),
        })?
        .clone();
    let (store, _) = open(cfg).await?;
    Ok(store.forget_import_head(&peer).await?)
}

fn configured(cfg: &Resolved) -> String {
    let all: Vec<&str> = cfg
        .federation
        .peers
        .iter()
        .map(|(r, _)| r.as_str())
        .collect();
    if all.is_empty() {
        "none; see [[federation.peers]]".into()
    } else {
        all.join(", ")
    }
}
