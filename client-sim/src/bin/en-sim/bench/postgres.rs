//! The PostgreSQL store beside sled, in the same run on the same machine: case-report ingest
//! over HTTPS with one and with two replicas sharing one database, and batch building from
//! PostgreSQL.
//!
//! PostgreSQL is a throwaway cluster that this process starts (`tests/common/pg.rs`: `initdb`
//! and `postgres` in a temporary directory, on 127.0.0.1, PostgreSQL's defaults: fsync and
//! `synchronous_commit` on), with a fresh database per measurement. It runs on the same cores
//! as the server and the clients; so do both replicas, which share the process (they measure
//! what sharing one database costs, not added capacity).

use std::time::Duration;

use en_server::config::{PostgresSetting, StoreSetting};
use serde::Serialize;

use super::batch::{batch_building_on, BatchResult};
use super::fixtures::{bench_server_on, case_reports};
use super::ingest::ingest_run;
use super::pg;
use super::{bench_now, percentile, runtime};

/// Ingest and batch building on PostgreSQL, with sled measured in the same run.
#[derive(Debug, Clone, Serialize)]
pub struct PostgresResult {
    /// `SELECT version()` of the cluster.
    pub postgres_version: String,
    /// Ingest runs: sled, PostgreSQL with one replica, with two replicas; each upload style.
    pub ingest: Vec<PgIngestRun>,
    /// Batch building on sled (the reference) and on PostgreSQL, if measured.
    pub batch: Option<(BatchResult, BatchResult)>,
}

/// One ingest run.
#[derive(Debug, Clone, Serialize)]
pub struct PgIngestRun {
    /// `sled`, or `postgres`.
    pub store: String,
    /// Replicas the clients spread their uploads across.
    pub replicas: usize,
    /// Case reports per request (1: `POST /v1/cases`; more: `POST /v1/cases/bulk`).
    pub reports_per_request: usize,
    /// Concurrent clients.
    pub concurrency: usize,
    /// Case reports accepted (each 14 keys).
    pub accepted: u64,
    /// Accepted per second.
    pub per_second: f64,
    /// Median request latency, ms.
    pub p50_ms: f64,
    /// 99th percentile request latency, ms.
    pub p99_ms: f64,
    /// per_second / sled's per_second for the same upload style in this run.
    pub ratio_to_sled: f64,
}

/// Runs the measurement: ingest for `seconds` per run, and (if `batch_keys` > 0) batch
/// building of `batch_keys` keys on both stores.
pub fn postgres(seconds: f64, batch_keys: usize) -> anyhow::Result<PostgresResult> {
    let cluster = pg::Cluster::start(&[]).map_err(|e| {
        anyhow::anyhow!("{e} (the PostgreSQL measurement needs apt-get install postgresql)")
    })?;
    let postgres_version = cluster.psql("postgres", "SELECT version()")?;
    let store = |prefix: &str| -> anyhow::Result<StoreSetting> {
        let mut p = PostgresSetting::new(cluster.create_database(prefix)?);
        p.password_file = Some(cluster.password_file().to_path_buf());
        Ok(StoreSetting::Postgres(p))
    };
    let ingest = ingest_all(seconds, &store)?;
    let batch = if batch_keys > 0 {
        eprintln!("  batch building of {batch_keys} keys on sled…");
        let sled = batch_building_on(batch_keys, StoreSetting::Sled)?;
        eprintln!(
            "  batch building of {batch_keys} keys on PostgreSQL (filling it takes a while)…"
        );
        let on_pg = batch_building_on(batch_keys, store("bench_batch")?)?;
        Some((sled, on_pg))
    } else {
        None
    };
    Ok(PostgresResult {
        postgres_version,
        ingest,
        batch,
    })
}

fn ingest_all(
    seconds: f64,
    store: &dyn Fn(&str) -> anyhow::Result<StoreSetting>,
) -> anyhow::Result<Vec<PgIngestRun>> {
    use base64::Engine;
    let now = bench_now();
    let rt = runtime()?;
    rt.block_on(async {
        // Every configuration gets the same pre-signed reports: each starts on an empty store.
        let authority = en_protocol::keys::SigningKey::from_seed(&[42; 32]);
        let b64 = |v: Vec<Vec<u8>>| -> Vec<String> {
            v.iter()
                .map(|r| base64::engine::general_purpose::STANDARD.encode(r))
                .collect()
        };
        let bulk = 100;
        let single: Vec<bytes::Bytes> = b64(case_reports(
            &authority,
            (seconds * 20_000.0) as usize + 1000,
            now,
            7,
        ))
        .into_iter()
        .map(|r| {
            serde_json::to_vec(&en_api::json::CaseUpload {
                report: r,
                padding: None,
            })
            .map(bytes::Bytes::from)
        })
        .collect::<Result<_, _>>()?;
        let many: Vec<bytes::Bytes> = b64(case_reports(
            &authority,
            (seconds * 50_000.0) as usize + bulk,
            now,
            99,
        ))
        .chunks_exact(bulk)
        .map(|c| {
            serde_json::to_vec(&en_api::json::BulkCaseUpload {
                reports: c.to_vec(),
            })
            .map(bytes::Bytes::from)
        })
        .collect::<Result<_, _>>()?;

        let mut runs: Vec<PgIngestRun> = Vec::new();
        for (label, replicas) in [("sled", 1), ("postgres", 1), ("postgres", 2)] {
            eprintln!("  ingest on {label}, {replicas} replica(s)…");
            let setting = match label {
                "sled" => StoreSetting::Sled,
                _ => store("bench_ingest")?,
            };
            let s = bench_server_on(now, setting).await?;
            let mut urls = vec![s.server.url.clone()];
            let mut others = Vec::new();
            for _ in 1..replicas {
                let r = s.server.replica(en_server::Transport::Tls, false).await?;
                urls.push(r.url.clone());
                others.push(r);
            }
            let pem = std::fs::read(s.server.ca())?;
            let client = en_client::transport::builder()
                .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
                .pool_max_idle_per_host(64)
                .build()?;
            for (bodies, per, conc) in [(&single, 1, 64), (&many, bulk, 8)] {
                let (accepted, elapsed, mut lat) =
                    ingest_run(&client, &urls, bodies.clone(), per, conc, seconds).await?;
                let per_second = accepted as f64 / elapsed;
                let sled = runs
                    .iter()
                    .find(|r| r.store == "sled" && r.reports_per_request == per)
                    .map_or(per_second, |r| r.per_second);
                runs.push(PgIngestRun {
                    store: label.into(),
                    replicas,
                    reports_per_request: per,
                    concurrency: conc,
                    accepted,
                    per_second,
                    p50_ms: percentile(&mut lat, 0.5),
                    p99_ms: percentile(&mut lat, 0.99),
                    ratio_to_sled: per_second / sled,
                });
            }
            // Every acknowledged report is stored, once: 14 keys each.
            let acknowledged: u64 = runs.iter().rev().take(2).map(|r| r.accepted).sum::<u64>();
            let stored = s.server.state.store.pending_count().await?;
            anyhow::ensure!(
                stored as u64 == acknowledged * 14,
                "{label} × {replicas}: {stored} keys stored for {acknowledged} acknowledged reports"
            );
            for r in others {
                r.stop().await?;
            }
            s.server.stop().await?;
            // Let the database settle (checkpoints, autovacuum) between configurations.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(runs)
    })
}
