//! Simulated phones following the server's chain of batches with the protocol's own state
//! machine ([`KeyFollower`]): it decides what to fetch and what to accept; this file only
//! moves bytes with `Client::get`, on the simulation's virtual clock.

use en_client::transport::Client;
use en_protocol::phone::{FollowerConfig, KeyFollower};
use en_protocol::wire::batch::VerifiedBatch;
use en_protocol::wire::config::RiskConfig;
use en_protocol::UnixTime;

use super::error::SimError;

/// One phone's downloads: its follower of the key chain and its name for error messages.
pub(crate) struct Downloader {
    name: String,
    follower: KeyFollower,
}

/// What one sync brought.
pub(crate) struct Synced {
    /// New batches, verified and chained, oldest first.
    pub batches: Vec<VerifiedBatch>,
    /// Bytes downloaded (index and batches).
    pub bytes: u64,
    /// HTTP requests made.
    pub requests: u64,
}

impl Downloader {
    /// A phone with no head: its first batch is trusted on first use.
    pub fn new(name: impl Into<String>, config: FollowerConfig) -> Self {
        Downloader {
            name: name.into(),
            follower: KeyFollower::new(config),
        }
    }

    fn refused(&self, what: impl Into<String>, source: en_protocol::Error) -> SimError {
        SimError::Chain {
            phone: self.name.clone(),
            what: what.into(),
            source,
        }
    }

    /// Downloads and accepts the signed risk configuration.
    pub async fn risk_config(
        &mut self,
        client: &Client,
        now: UnixTime,
    ) -> Result<RiskConfig, SimError> {
        let raw = client.get("/v1/config").await?;
        let v = self
            .follower
            .handle_config(&raw, now)
            .map_err(|e| self.refused("the risk configuration", e))?;
        Ok(v.config().clone())
    }

    /// Downloads the index, then every batch the follower asks for. Any refusal (stale
    /// index, fork, gap, rollback, wrong bytes) fails the sync: the phone never resyncs.
    pub async fn sync(&mut self, client: &Client, now: UnixTime) -> Result<Synced, SimError> {
        let index = client.get("/v1/index").await?;
        self.follower
            .handle_index(&index, now)
            .map_err(|e| self.refused("the index", e))?;
        let mut out = Synced {
            batches: Vec::new(),
            bytes: index.len() as u64,
            requests: 1,
        };
        while let Some(entry) = self.follower.poll_fetch() {
            let sequence = entry.sequence;
            let bytes = client.get(&format!("/v1/batches/{sequence}")).await?;
            let chained = self
                .follower
                .handle_batch(&bytes, now)
                .map_err(|e| self.refused(format!("batch {sequence}"), e))?;
            out.bytes += bytes.len() as u64;
            out.requests += 1;
            out.batches.push(chained.into_batch());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use en_protocol::keys::SigningKey;
    use en_protocol::phone::DEFAULT_MAX_AGE_SECONDS;
    use en_protocol::wire::Region;
    use rand::SeedableRng;

    use super::*;
    use crate::sim::server::SimServer;
    use crate::sim::EPOCH;

    fn refusal(r: Result<Synced, SimError>) -> (String, String, &'static str) {
        match r {
            Err(SimError::Chain {
                phone,
                what,
                source,
            }) => (phone, what, source.code()),
            Err(e) => panic!("not a chain refusal: {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn phones_follow_the_chain_and_refusals_stop_them() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let key = SigningKey::generate(&mut rng);
        let mut server = SimServer::in_process(UnixTime(EPOCH), key, 1, 86_400)
            .await
            .unwrap();
        let mut phone = Downloader::new("reference", server.follower_config());
        for day in 1..=2 {
            let boundary = UnixTime(EPOCH + day * 86_400);
            let now = boundary.plus(60);
            server.set_time(now).unwrap();
            server.close_window(boundary).await.unwrap();
            let s = phone.sync(&server.client, now).await.unwrap();
            assert_eq!((s.batches.len(), s.requests), (1, 2), "day {day}");
            assert_eq!(s.batches[0].header().sequence, day);
        }
        let now = server.now();
        let s = phone.sync(&server.client, now).await.unwrap();
        assert_eq!((s.batches.len(), s.requests), (0, 1), "nothing new");

        // An index older than a phone accepts is refused, loudly. The server's virtual clock
        // runs on from `now` in real time and its batch worker may re-sign the index a moment
        // after `now` (later on a loaded machine), so the phone looks ten minutes past the
        // maximum age, not one second.
        let late = now.plus(DEFAULT_MAX_AGE_SECONDS + 600);
        let r = phone.sync(&server.client, late).await;
        assert_eq!(
            refusal(r),
            ("reference".into(), "the index".into(), "stale_index")
        );
        // So is another region's.
        let de = FollowerConfig::new(server.export.clone(), Region::new("DE").unwrap());
        let r = Downloader::new("abroad", de)
            .sync(&server.client, now)
            .await;
        assert_eq!(refusal(r).2, "wrong_region");
        server.stop().await.unwrap();
    }
}
