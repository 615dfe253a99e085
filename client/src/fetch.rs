//! A phone's downloads: the risk configuration, the index and every new batch, each checked
//! by the protocol's chain follower ([`en_protocol::phone::KeyFollower`]: signatures, hash
//! chain, freshness, rollback, forks, gaps). This module only moves the bytes.
//!
//! A gap the follower cannot bridge (the phone's last verified batch is no longer listed) is
//! an error; [`sync`] resolves it only when asked to (`resync`), and then says so in
//! [`Synced::resync`] so the caller can warn loudly.

use std::path::{Path, PathBuf};

use en_protocol::phone::{ChainHead, FollowerConfig, FollowerState, KeyFollower, Resync};
use en_protocol::verify::ExportKeys;
use en_protocol::wire::batch::VerifiedBatch;
use en_protocol::wire::config::VerifiedRiskConfig;
use en_protocol::wire::Region;
use en_protocol::UnixTime;
use serde::{Deserialize, Serialize};

use crate::transport::Client;
use crate::Error;

/// What one sync downloaded.
pub struct Synced {
    /// New batches, verified and chained, oldest first, with their bytes.
    pub batches: Vec<(VerifiedBatch, bytes::Bytes)>,
    /// The verified risk configuration.
    pub config: VerifiedRiskConfig,
    /// The last verified batch after this sync.
    pub head: Option<u64>,
    /// Set when a gap was resolved by a resync (only if the caller allowed it).
    pub resync: Option<Resync>,
}

/// A follower of `region`'s key chain, trusting `trusted`.
pub fn follower(trusted: ExportKeys, region: Region) -> KeyFollower {
    KeyFollower::new(FollowerConfig::new(trusted, region))
}

fn protocol(what: &str) -> impl FnOnce(en_protocol::Error) -> Error + '_ {
    move |e| Error::protocol(what, e)
}

/// Downloads the risk configuration, the index and every batch after the follower's head,
/// at time `now`. On a chain gap, resynchronises from the oldest listed batch if `resync`
/// (reported in [`Synced::resync`]), and fails otherwise.
pub async fn sync(
    client: &Client,
    follower: &mut KeyFollower,
    now: UnixTime,
    resync: bool,
) -> Result<Synced, Error> {
    let raw = client.get("/v1/config").await?;
    let config = follower
        .handle_config(&raw, now)
        .map_err(protocol("the risk configuration"))?;
    let raw = client.get("/v1/index").await?;
    let gap = match follower.handle_index(&raw, now) {
        Ok(_) => None,
        // The follower planned the chain from the index; only the head is given up.
        Err(e) if resync && e.code() == "chain_gap" => Some(
            follower
                .resync_from_index()
                .map_err(protocol("the index"))?,
        ),
        Err(e) => return Err(Error::protocol("the index", e)),
    };
    let mut batches = Vec::new();
    while let Some(e) = follower.poll_fetch() {
        let seq = e.sequence;
        let bytes = client.get(&format!("/v1/batches/{seq}")).await?;
        let b = follower
            .handle_batch(&bytes, now)
            .map_err(|e| Error::protocol(format!("batch {seq}"), e))?;
        batches.push((b.into_batch(), bytes));
    }
    Ok(Synced {
        batches,
        config,
        head: follower.state().head.map(|h| h.sequence),
        resync: gap,
    })
}

/// What `en-sim fetch` remembers in its directory between runs, so that a rollback or a
/// fork is caught across runs too.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SavedState {
    /// Last verified batch: sequence, hex hash, window end.
    head: Option<(u64, String, u64)>,
    index_generated_at: Option<u64>,
    config_issued_at: Option<u64>,
}

const STATE_FILE: &str = "follower.json";

fn batch_file(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("batch-{seq:08}.bin"))
}

fn load(dir: &Path) -> Result<FollowerState, Error> {
    let path = dir.join(STATE_FILE);
    let saved: SavedState = match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|_| {
            Error::Invalid(format!("{} is not a follower state file", path.display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => SavedState::default(),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let mut st = FollowerState::default();
    if let Some((sequence, hash, window_end)) = saved.head {
        let hash = en_protocol::hex::decode_array::<32>(&hash)
            .ok_or_else(|| Error::Invalid(format!("{} holds an invalid hash", path.display())))?;
        st.head = Some(ChainHead::new(sequence, hash, UnixTime(window_end)));
    }
    st.index_generated_at = saved.index_generated_at.map(UnixTime);
    st.config_issued_at = saved.config_issued_at.map(UnixTime);
    Ok(st)
}

fn save(dir: &Path, st: &FollowerState) -> Result<(), Error> {
    let saved = SavedState {
        head: st.head.map(|h| {
            (
                h.sequence,
                en_protocol::hex::encode(&h.hash),
                h.window_end.0,
            )
        }),
        index_generated_at: st.index_generated_at.map(|t| t.0),
        config_issued_at: st.config_issued_at.map(|t| t.0),
    };
    let path = dir.join(STATE_FILE);
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&saved).expect("serializes"))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::io("write", &path, e))
}

/// `en-sim fetch`: syncs into `dir`, continuing from the follower state saved there; writes
/// each new batch as `batch-NNNNNNNN.bin`. Returns a one-line summary (and a warning first
/// when a gap was resynchronised).
pub async fn fetch_to_dir(
    client: &Client,
    trusted: ExportKeys,
    region: Region,
    dir: &Path,
    now: UnixTime,
    resync: bool,
) -> Result<String, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let mut f = KeyFollower::resume(FollowerConfig::new(trusted, region), load(dir)?);
    let synced = sync(client, &mut f, now, resync).await?;
    let mut keys = 0;
    for (b, bytes) in &synced.batches {
        let file = batch_file(dir, b.header().sequence);
        std::fs::write(&file, bytes).map_err(|e| Error::io("write", &file, e))?;
        keys += b.keys().len();
    }
    save(dir, f.state())?;
    let mut out = String::new();
    if let Some(r) = &synced.resync {
        out.push_str(&format!("WARNING: {r}\n"));
    }
    out.push_str(&format!(
        "{} new batch(es), {} keys (padding included), verified and chained; last verified batch: {}",
        synced.batches.len(),
        keys,
        synced.head.map_or("none yet".to_string(), |s| s.to_string())
    ));
    Ok(out)
}
