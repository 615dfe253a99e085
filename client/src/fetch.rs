//! A phone's downloads: the risk configuration, the index and every new batch, each checked
//! by the protocol's chain follower ([`en_protocol::phone::KeyFollower`]: signatures, hash
//! chain, freshness, rollback, forks, gaps), and the same for the venue trace chain
//! ([`en_protocol::phone::TraceFollower`], [`sync_traces`]). This module only moves the bytes.
//!
//! A gap the follower cannot bridge (the phone's last verified batch is no longer listed) is
//! an error; [`sync`] resolves it only when asked to (`resync`), and then says so in
//! [`Synced::resync`] so the caller can warn loudly.

use std::path::{Path, PathBuf};

use en_protocol::phone::{
    ChainFollower, ChainHead, FollowerConfig, FollowerState, KeyFollower, Resync, TraceFollower,
};
use en_protocol::venue::VerifiedTraceBatch;
use en_protocol::verify::ExportKeys;
use en_protocol::wire::batch::VerifiedBatch;
use en_protocol::wire::chain::ChainFormat;
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

/// A follower of `region`'s venue trace chain, trusting `trusted`.
pub fn trace_follower(trusted: ExportKeys, region: Region) -> TraceFollower {
    TraceFollower::new(FollowerConfig::new(trusted, region))
}

/// Where one chain is served: its index, and the prefix of its batches (then the sequence).
#[derive(Debug, Clone, Copy)]
pub struct ChainPaths {
    /// The index, e.g. `/v1/index`.
    pub index: &'static str,
    /// The batches, e.g. `/v1/batches/`.
    pub batches: &'static str,
    /// What a batch is called in errors ("batch", "trace batch").
    pub batch_name: &'static str,
}

/// The key chain.
pub const KEY_PATHS: ChainPaths = ChainPaths {
    index: "/v1/index",
    batches: "/v1/batches/",
    batch_name: "batch",
};
/// The venue trace chain.
pub const TRACE_PATHS: ChainPaths = ChainPaths {
    index: "/v1/traces/index",
    batches: "/v1/traces/batches/",
    batch_name: "trace batch",
};

/// What following one chain downloaded.
pub struct Followed<B> {
    /// New batches, verified and chained, oldest first, with their bytes.
    pub batches: Vec<(B, bytes::Bytes)>,
    /// Set when a gap was resolved by a resync (only if the caller allowed it).
    pub resync: Option<Resync>,
}

/// Downloads one chain's index and every batch after the follower's head, at time `now`. On
/// a chain gap, resynchronises from the oldest listed batch if `resync` (reported in
/// [`Followed::resync`]), and fails otherwise.
pub async fn follow<C: ChainFormat>(
    client: &Client,
    follower: &mut ChainFollower<C>,
    paths: ChainPaths,
    now: UnixTime,
    resync: bool,
) -> Result<Followed<C::Verified>, Error> {
    let what = format!("the {}", C::INDEX.name);
    let raw = client.get(paths.index).await?;
    let gap = match follower.handle_index(&raw, now) {
        Ok(_) => None,
        // The follower planned the chain from the index; only the head is given up.
        Err(e) if resync && e.code() == "chain_gap" => {
            Some(follower.resync_from_index().map_err(protocol(&what))?)
        }
        Err(e) => return Err(Error::protocol(what, e)),
    };
    let mut batches = Vec::new();
    while let Some(e) = follower.poll_fetch() {
        let seq = e.sequence;
        let bytes = client.get(&format!("{}{seq}", paths.batches)).await?;
        let b = follower
            .handle_batch(&bytes, now)
            .map_err(|e| Error::protocol(format!("{} {seq}", paths.batch_name), e))?;
        batches.push((b.into_batch(), bytes));
    }
    Ok(Followed {
        batches,
        resync: gap,
    })
}

/// Downloads the trace index and every trace batch after the follower's head.
pub async fn sync_traces(
    client: &Client,
    follower: &mut TraceFollower,
    now: UnixTime,
    resync: bool,
) -> Result<Followed<VerifiedTraceBatch>, Error> {
    follow(client, follower, TRACE_PATHS, now, resync).await
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
    let followed = follow(client, follower, KEY_PATHS, now, resync).await?;
    Ok(Synced {
        batches: followed.batches,
        config,
        head: follower.state().head.map(|h| h.sequence),
        resync: followed.resync,
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
const TRACE_STATE_FILE: &str = "trace-follower.json";
/// How `en-sim fetch` names a trace batch file: this prefix, the sequence in 8 digits, `.bin`.
pub const TRACE_BATCH_PREFIX: &str = "trace-batch-";

fn batch_file(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("batch-{seq:08}.bin"))
}

fn trace_batch_file(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{TRACE_BATCH_PREFIX}{seq:08}.bin"))
}

fn load(dir: &Path, file: &str) -> Result<FollowerState, Error> {
    let path = dir.join(file);
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

fn save(dir: &Path, file: &str, st: &FollowerState) -> Result<(), Error> {
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
    let path = dir.join(file);
    let tmp = dir.join(format!("{file}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&saved).expect("serializes"))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::io("write", &path, e))
}

/// `en-sim fetch`: syncs both chains into `dir`, each continuing from the follower state
/// saved there (`follower.json`, `trace-follower.json`); writes each new key batch as
/// `batch-NNNNNNNN.bin` and each new venue trace batch as `trace-batch-NNNNNNNN.bin`.
/// Returns a summary line per chain (and a warning first when a gap was resynchronised).
pub async fn fetch_to_dir(
    client: &Client,
    trusted: ExportKeys,
    region: Region,
    dir: &Path,
    now: UnixTime,
    resync: bool,
) -> Result<String, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    let config = FollowerConfig::new(trusted, region);
    let mut f = KeyFollower::resume(config.clone(), load(dir, STATE_FILE)?);
    let synced = sync(client, &mut f, now, resync).await?;
    let mut keys = 0;
    for (b, bytes) in &synced.batches {
        let file = batch_file(dir, b.header().sequence);
        std::fs::write(&file, bytes).map_err(|e| Error::io("write", &file, e))?;
        keys += b.keys().len();
    }
    save(dir, STATE_FILE, f.state())?;
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
    let mut t = TraceFollower::resume(config, load(dir, TRACE_STATE_FILE)?);
    let traced = sync_traces(client, &mut t, now, resync).await?;
    let mut entries = 0;
    for (b, bytes) in &traced.batches {
        let file = trace_batch_file(dir, b.header().sequence);
        std::fs::write(&file, bytes).map_err(|e| Error::io("write", &file, e))?;
        entries += b.entries().len();
    }
    save(dir, TRACE_STATE_FILE, t.state())?;
    if let Some(r) = &traced.resync {
        out.push_str(&format!("\nWARNING (venue traces): {r}"));
    }
    out.push_str(&format!(
        "\n{} new venue trace batch(es), {} venue-hours (padding included), verified and chained; last verified trace batch: {}",
        traced.batches.len(),
        entries,
        t.state().head.map_or("none yet".to_string(), |h| h.sequence.to_string())
    ));
    Ok(out)
}
