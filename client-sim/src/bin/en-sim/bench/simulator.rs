//! The simulator's throughput (phone-days per second) with its in-process server.

use std::time::Instant;

use serde::Serialize;

use super::runtime;

/// Simulator throughput.
#[derive(Debug, Clone, Serialize)]
pub struct SimResult {
    /// Phones.
    pub phones: usize,
    /// Days.
    pub days: u32,
    /// Adoption.
    pub adoption: f64,
    /// Wall seconds.
    pub seconds: f64,
    /// Phone-days per second.
    pub phone_days_per_second: f64,
}

/// Runs the simulator (in-process server) and times it.
pub fn simulator(phones: usize, days: u32, adoption: f64) -> anyhow::Result<SimResult> {
    let rt = runtime()?;
    rt.block_on(async {
        let cfg = en_sim::sim::SimConfig::new(1, phones, days, adoption);
        let server = en_sim::sim::server::SimServer::for_config(&cfg).await?;
        let t = Instant::now();
        let (_, server) = en_sim::sim::run(cfg, server, &|_, _| {}).await?;
        let seconds = t.elapsed().as_secs_f64();
        server.stop().await?;
        Ok(SimResult {
            phones,
            days,
            adoption,
            seconds,
            phone_days_per_second: phones as f64 * f64::from(days) / seconds,
        })
    })
}
