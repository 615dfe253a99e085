//! `en-sim phone sync`: a phone that follows its home region and the regions it visited, each
//! from its own server with its own export keys; its state (keys, scans, per-region chain
//! heads, exposures) lives in one `ENPS` file.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use en_client::regions::{sync_regions, RegionSource};
use en_client::transport::Client;
use en_protocol::phone::{FollowerConfig, Phone};
use en_protocol::wire::Region;

/// Arguments of `en-sim phone sync`.
#[derive(clap::Args)]
pub struct Args {
    /// The phone's state file (`ENPS`; created if absent). It holds the phone's secret keys:
    /// written with mode 0600.
    #[arg(long)]
    state: PathBuf,
    /// The home region and its server: `REGION=URL`, e.g. `VN-HN=https://hn.example:8443`.
    /// Its risk configuration is the one in force.
    #[arg(long, value_name = "REGION=URL")]
    home: String,
    /// A region the phone follows besides home and its server: `REGION=URL`. Repeat for each
    /// region. A region is followed from when it is visited (`--visit`) until 14 days after
    /// the last visit; every region the stored state follows needs its `--follow`.
    #[arg(long, value_name = "REGION=URL")]
    follow: Vec<String>,
    /// The export public key (hex) trusted for a region: `REGION=HEX`. Repeat for each region
    /// (and twice for a region during a key rotation); every region needs at least one, as
    /// `en-sim fetch --public-key` needs for one region.
    #[arg(long = "public-key", value_name = "REGION=HEX", required = true)]
    public_key: Vec<String>,
    /// The person is in REGION now: start (or keep) following it. Repeatable; each needs its
    /// `--follow`.
    #[arg(long, value_name = "REGION")]
    visit: Vec<String>,
    /// Extra CA certificate(s) (PEM; a bundle of several for servers with different
    /// self-signed certificates) to trust, for every server.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// On a chain gap the phone cannot bridge, start that region's chain again from its oldest
    /// listed batch (trusted on first use). Without it, a gap is an error.
    #[arg(long)]
    resync: bool,
}

fn split(arg: &str, flag: &str) -> anyhow::Result<(Region, String)> {
    let (r, rest) = arg
        .split_once('=')
        .ok_or_else(|| anyhow!("{flag} takes REGION=VALUE, got {arg:?}"))?;
    let region =
        Region::new(r).map_err(|_| anyhow!("{flag}: the region must be 1-16 of A-Z 0-9 -"))?;
    Ok((region, rest.to_string()))
}

impl Args {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<()> {
        let mut keys: Vec<(Region, String)> = Vec::new();
        for k in &self.public_key {
            keys.push(split(k, "--public-key")?);
        }
        let source = |arg: &str, flag: &str| -> anyhow::Result<RegionSource> {
            let (region, url) = split(arg, flag)?;
            let hex: Vec<String> = keys
                .iter()
                .filter(|(r, _)| r == &region)
                .map(|(_, k)| k.clone())
                .collect();
            if hex.is_empty() {
                bail!("no --public-key {}=HEX given", region.as_str());
            }
            Ok(RegionSource {
                trusted: super::trusted(&hex)?,
                client: Client::new(&url, self.ca.as_deref())?,
                region,
            })
        };
        let home = source(&self.home, "--home")?;
        let mut sources = vec![];
        for f in &self.follow {
            let s = source(f, "--follow")?;
            if s.region == home.region
                || sources.iter().any(|o: &RegionSource| o.region == s.region)
            {
                bail!("--follow {}: the region is given twice", s.region.as_str());
            }
            sources.push(s);
        }
        let visited: Vec<FollowerConfig> = sources.iter().map(RegionSource::config).collect();
        let now = en_client::now();
        let mut phone = match std::fs::read(&self.state) {
            Ok(b) => Phone::decode_with(&b, home.config(), &visited)
                .with_context(|| format!("{} is not this phone's state", self.state.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Phone::new(home.config()),
            Err(e) => return Err(e).context(format!("cannot read {}", self.state.display())),
        };
        phone.handle_timeout(now, &mut rand::rngs::OsRng);
        for v in &self.visit {
            let region = Region::new(v)
                .map_err(|_| anyhow!("--visit: the region must be 1-16 of A-Z 0-9 -"))?;
            let s = sources
                .iter()
                .find(|s| s.region == region)
                .ok_or_else(|| anyhow!("--visit {v}: give its server with --follow {v}=URL"))?;
            phone.visit_region(s.config(), now)?;
        }
        sources.insert(0, home);
        let synced =
            super::runtime()?.block_on(sync_regions(&mut phone, &sources, now, self.resync))?;
        write_state(&self.state, &phone.encode())?;
        for s in &synced {
            if let Some(r) = &s.resync {
                println!("WARNING ({}): {r}", s.region.as_str());
            }
            println!(
                "{}: {} new batch(es), {} keys (padding included), {} matching scan(s); last verified batch: {}",
                s.region.as_str(),
                s.batches,
                s.keys,
                s.hits,
                s.head.map_or("none yet".to_string(), |h| h.to_string())
            );
        }
        let days = phone.notify_days();
        println!(
            "following {} region(s); exposure notification days: {}",
            synced.len(),
            if days.is_empty() {
                "none".to_string()
            } else {
                // Each day with the kind of report that caused it, as the app would say.
                days.iter()
                    .map(|d| {
                        let cause = phone.cause(*d).map_or("unknown", |t| t.name());
                        format!(
                            "{} ({cause})",
                            crate::args::fmt_day(u32::try_from(*d).unwrap_or(u32::MAX))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        Ok(())
    }
}

/// Writes the secret state atomically (temporary file, 0600, renamed over the old one).
fn write_state(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
