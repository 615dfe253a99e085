//! `[federation]`: the regions this server publishes federation chains for, the authorities
//! whose uploads may leave the region, and the peers it imports from (spec/federation.md).

use std::collections::BTreeSet;
use std::path::PathBuf;

use en_protocol::wire::{AuthorityId, Region};
use serde::{Deserialize, Serialize};

/// Most peers one server imports from (63 provinces and a few neighbours).
pub const MAX_PEERS: usize = 128;

/// Federation settings; empty by default (no federation).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct FederationSettings {
    /// Regions this server publishes a federation chain for (`/v1/federation/{R}/…`).
    pub outbound_regions: Vec<String>,
    /// Authorities (registry ids) whose certified uploads may be shared with the regions the
    /// person visited. An authority not listed keeps its cases home.
    pub share_authorities: Vec<String>,
    /// Peers whose federation chain for this region is imported.
    pub peers: Vec<PeerSetting>,
}

/// One peer server (`[[federation.peers]]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PeerSetting {
    /// The peer's region: the origin of every key imported from it.
    pub region: String,
    /// The peer's public listener, `https://host:port` (or `http://` for tests on loopback).
    pub url: String,
    /// Labelled public key file of the peer's export key (`en-server export-public-key --out FILE`).
    pub export_public_key: PathBuf,
    /// CA certificate (PEM) to trust for `url`, if not a public CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
    /// Seconds between two polls of the peer's index.
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
    /// Keys imported from this peer per UTC day, at most.
    #[serde(default = "default_max_keys")]
    pub max_keys_per_day: u64,
    /// Largest index or batch response read from the peer, bytes.
    #[serde(default = "default_max_bytes")]
    pub max_batch_bytes: u64,
    /// Seconds allowed for one request to the peer, connection included.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

impl PeerSetting {
    /// A peer at `url` for `region` whose export public key file is `export_public_key`, with
    /// the default limits and no CA of its own.
    pub fn new(region: &str, url: &str, export_public_key: PathBuf) -> Self {
        PeerSetting {
            region: region.into(),
            url: url.into(),
            export_public_key,
            tls_ca: None,
            poll_seconds: default_poll(),
            max_keys_per_day: default_max_keys(),
            max_batch_bytes: default_max_bytes(),
            timeout_seconds: default_timeout(),
        }
    }
}

fn default_poll() -> u64 {
    60
}
fn default_max_keys() -> u64 {
    200_000
}
fn default_max_bytes() -> u64 {
    8 * 1024 * 1024
}
fn default_timeout() -> u64 {
    30
}

/// The federation settings, parsed.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Federation {
    /// Regions with a federation chain, sorted.
    pub outbound: BTreeSet<Region>,
    /// Authorities whose uploads may be shared.
    pub share: BTreeSet<AuthorityId>,
    /// Peers (their region parsed), in file order.
    pub peers: Vec<(Region, PeerSetting)>,
}

impl Federation {
    /// Whether `region` has a federation chain here.
    pub fn is_outbound(&self, region: &Region) -> bool {
        self.outbound.contains(region)
    }

    /// Whether uploads certified by `authority` may leave the region.
    pub fn may_share(&self, authority: &AuthorityId) -> bool {
        self.share.contains(authority)
    }
}

impl FederationSettings {
    /// Checks the settings against the server's own region; errors name the field.
    pub fn check(&self, own: &Region) -> Result<Federation, String> {
        let mut outbound = BTreeSet::new();
        for (i, r) in self.outbound_regions.iter().enumerate() {
            let region = Region::new(r).map_err(|_| {
                format!(
                    "federation.outbound_regions[{i}]: {r:?} is not a region (1-16 of A-Z 0-9 -)"
                )
            })?;
            if &region == own {
                return Err(format!(
                    "federation.outbound_regions[{i}]: {r:?} is this server's own region"
                ));
            }
            if !outbound.insert(region) {
                return Err(format!(
                    "federation.outbound_regions[{i}]: {r:?} is listed twice"
                ));
            }
        }
        let mut share = BTreeSet::new();
        for (i, a) in self.share_authorities.iter().enumerate() {
            let id = AuthorityId::new(a).map_err(|_| {
                format!("federation.share_authorities[{i}]: {a:?} is not an authority id (1-64 of a-z 0-9 . _ -)")
            })?;
            if !share.insert(id) {
                return Err(format!(
                    "federation.share_authorities[{i}]: {a:?} is listed twice"
                ));
            }
        }
        if self.peers.len() > MAX_PEERS {
            return Err(format!("federation.peers: at most {MAX_PEERS} peers"));
        }
        let mut peers = Vec::with_capacity(self.peers.len());
        let mut seen = BTreeSet::new();
        for (i, p) in self.peers.iter().enumerate() {
            let f = |field: &str, m: &str| format!("federation.peers[{i}].{field}: {m}");
            let region = Region::new(&p.region)
                .map_err(|_| f("region", "not a region (1-16 of A-Z 0-9 -)"))?;
            if &region == own {
                return Err(f("region", "is this server's own region"));
            }
            if !seen.insert(region.clone()) {
                return Err(f("region", "another peer has the same region"));
            }
            if !(p.url.starts_with("https://") || p.url.starts_with("http://"))
                || p.url.len() > 2048
                || p.url.contains(char::is_whitespace)
            {
                return Err(f("url", "must be an http(s):// URL"));
            }
            if p.export_public_key.as_os_str().is_empty() {
                return Err(f("export_public_key", "must name a public key file"));
            }
            if !(1..=86_400).contains(&p.poll_seconds) {
                return Err(f("poll_seconds", "must be between 1 and 86400"));
            }
            if p.max_keys_per_day == 0 {
                return Err(f("max_keys_per_day", "must be positive"));
            }
            if !(1024..=1 << 30).contains(&p.max_batch_bytes) {
                return Err(f("max_batch_bytes", "must be between 1024 and 1073741824"));
            }
            if !(1..=600).contains(&p.timeout_seconds) {
                return Err(f("timeout_seconds", "must be between 1 and 600"));
            }
            peers.push((region, p.clone()));
        }
        Ok(Federation {
            outbound,
            share,
            peers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Federation, String> {
        #[derive(Deserialize)]
        struct W {
            federation: FederationSettings,
        }
        let w: W = toml::from_str(text).map_err(|e| e.message().to_string())?;
        w.federation.check(&Region::new("VN-HN").unwrap())
    }

    const PEER: &str = "[[federation.peers]]\nregion = \"VN-KG\"\nurl = \"https://kg.example:8443\"\nexport_public_key = \"peers/kg.pub\"\n";

    #[test]
    fn the_design_example_parses_with_defaults() {
        let f = parse(&format!(
            "[federation]\noutbound_regions = [\"VN-KG\", \"VN-SG\"]\nshare_authorities = [\"moh.vn\"]\n{PEER}tls_ca = \"peers/kg-ca.pem\"\n"
        ))
        .unwrap();
        assert!(f.is_outbound(&Region::new("VN-KG").unwrap()));
        assert!(!f.is_outbound(&Region::new("VN").unwrap()));
        assert!(f.may_share(&AuthorityId::new("moh.vn").unwrap()));
        assert_eq!(f.peers.len(), 1);
        let p = &f.peers[0].1;
        assert_eq!(f.peers[0].0.as_str(), "VN-KG");
        assert_eq!(
            (
                p.poll_seconds,
                p.max_keys_per_day,
                p.max_batch_bytes,
                p.timeout_seconds
            ),
            (60, 200_000, 8 * 1024 * 1024, 30)
        );
        assert_eq!(
            p.tls_ca.as_deref(),
            Some(std::path::Path::new("peers/kg-ca.pem"))
        );
    }

    #[test]
    fn errors_name_the_field() {
        let cases: &[(&str, &str)] = &[
            (
                "[federation]\noutbound_regions = [\"vn\"]\n",
                "federation.outbound_regions[0]",
            ),
            (
                "[federation]\noutbound_regions = [\"VN-HN\"]\n",
                "own region",
            ),
            (
                "[federation]\noutbound_regions = [\"A\", \"A\"]\n",
                "outbound_regions[1]",
            ),
            (
                "[federation]\nshare_authorities = [\"MOH\"]\n",
                "federation.share_authorities[0]",
            ),
            (
                &PEER.replace("VN-KG", "VN-HN"),
                "federation.peers[0].region",
            ),
            (
                &PEER.replace("https://kg", "ftp://kg"),
                "federation.peers[0].url",
            ),
            (
                &format!("{PEER}poll_seconds = 0\n"),
                "federation.peers[0].poll_seconds",
            ),
            (
                &format!("{PEER}max_keys_per_day = 0\n"),
                "federation.peers[0].max_keys_per_day",
            ),
            (
                &format!("{PEER}max_batch_bytes = 10\n"),
                "federation.peers[0].max_batch_bytes",
            ),
            (
                &format!("{PEER}timeout_seconds = 0\n"),
                "federation.peers[0].timeout_seconds",
            ),
            (&format!("{PEER}{PEER}"), "federation.peers[1].region"),
            (&format!("{PEER}colour = 1\n"), "colour"),
        ];
        for (text, want) in cases {
            let e = parse(text).expect_err(text);
            assert!(e.contains(want), "{text}: {e} should name {want}");
        }
    }
}
