//! # en-server
//!
//! The key server of the exposure-notification system. Health authorities upload signed case
//! reports (or certify a patient's phone to upload); the server checks signatures and rules,
//! stores keys durably in sled, and publishes signed, hash-chained batches for phones.
//!
//! The server is a library function, [`run`], that takes a bound listener and a shutdown
//! future (mini-redis' shape), so tests start it on `127.0.0.1:0` and stop it at will.
//!
//! Guarantees:
//! - a 2xx answer to an upload means its keys are on disk (group-committed fsync);
//! - every rejection is a 4xx with a stable error code, and stores nothing;
//! - client IP addresses are never logged or stored; logs never contain key material.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let report = en_server::config::init(std::path::Path::new("en-data"))?;
//! println!("export public key: {}", report.export_public_key);
//! let cfg = en_server::config::Config::load(&report.data_dir.join("config.toml"))?;
//! let listener = tokio::net::TcpListener::bind(&cfg.config.listen).await?;
//! en_server::run(cfg, listener, en_server::Transport::Tls, Default::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod batcher;
pub mod config;
pub mod error;
pub mod http;
pub mod metrics;
pub mod registry;
pub mod state;
pub mod store;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

pub use state::{AppState, Clock};

/// Whether to speak TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS with the configured certificate (the default).
    Tls,
    /// Plain HTTP: only behind a TLS-terminating proxy, or in tests.
    InsecureHttp,
}

/// Opens the store and serves on `listener` until `shutdown` resolves; then stops accepting,
/// finishes requests in flight, stops the batch worker and flushes the store.
pub async fn run(
    cfg: config::Resolved,
    listener: tokio::net::TcpListener,
    transport: Transport,
    clock: Clock,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let state = AppState::open(cfg, clock)?;
    run_with_state(state, listener, transport, shutdown).await
}

/// [`run`] with state built by the caller (tests use a temporary store).
pub async fn run_with_state(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    transport: Transport,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    run_with_options(state, listener, transport, true, shutdown).await
}

/// [`run_with_state`], optionally without the background batch worker: the simulator closes
/// windows itself (`batcher::close_window`) at the boundaries of its virtual clock.
pub async fn run_with_options(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    transport: Transport,
    batch_worker: bool,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let tls = match transport {
        Transport::Tls => {
            let c = &state.cfg;
            Some(tokio_rustls::TlsAcceptor::from(tls::server_config(
                &c.path(&c.config.tls_cert),
                &c.path(&c.config.tls_key),
            )?))
        }
        Transport::InsecureHttp => {
            tracing::warn!("serving plain HTTP: uploads and downloads are not encrypted; use only behind a TLS proxy or for tests");
            None
        }
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let batcher = batch_worker.then(|| tokio::spawn(batcher::run(state.clone(), stop_rx)));
    tracing::info!(
        addr = %listener.local_addr()?,
        region = %state.cfg.region,
        export_key_id = %state.export_key.public_key().key_id(),
        "serving"
    );
    let r = http::serve(listener, tls, state, shutdown).await;
    let _ = stop_tx.send(true);
    if let Some(b) = batcher {
        let _ = b.await;
    }
    r
}
