//! # en-server
//!
//! The key server of the exposure-notification system. Health authorities upload signed case
//! reports (or certify a patient's phone to upload); the server checks signatures and the
//! protocol's acceptance rules (in `en-protocol`), stores accepted uploads durably, and
//! publishes signed, hash-chained batches for phones.
//!
//! The server is a library function, [`run`], that takes bound listeners and a shutdown future
//! (mini-redis' shape), so tests start it on `127.0.0.1:0` and stop it at will; [`embedded`]
//! does exactly that for tests, the simulator and the benchmarks.
//!
//! Guarantees:
//! - a 2xx answer to an upload means its keys are on stable storage (group-committed, with a
//!   real `fsync`; see [`store::sled::commit`]);
//! - every rejection is a 4xx with a stable error code ([`en_api::ErrorCode`]), and stores
//!   nothing; a 5xx is the server's own fault and says whether anything may have been stored;
//! - a batch is served only once it is durable, and the index and risk configuration are
//!   re-signed regularly so phones can refuse stale copies;
//! - client IP addresses are never logged or stored; logs never contain key material; the
//!   public listener serves nothing that tells a fake upload from a real one.
//!
//! ```no_run
//! # async fn example() -> Result<(), en_server::error::Error> {
//! let report = en_server::datadir::init(std::path::Path::new("en-data"))?;
//! println!("export public key: {}", report.export_public_key);
//! let cfg = en_server::config::Config::load(&report.data_dir.join("config.toml"))?;
//! let public = tokio::net::TcpListener::bind(&cfg.config.listen).await.unwrap();
//! let admin = tokio::net::TcpListener::bind(&cfg.config.admin_listen).await.unwrap();
//! let listeners = en_server::Listeners { public, admin: Some(admin) };
//! en_server::run(cfg, listeners, en_server::Transport::Tls, Default::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod batcher;
pub mod clock;
pub mod config;
pub mod console;
pub mod datadir;
pub mod embedded;
pub mod error;
pub mod federation;
pub mod http;
pub mod jsonfile;
pub mod metrics;
pub mod objects;
pub mod registry;
pub mod selfreport;
pub mod state;
pub mod store;
pub mod tls;
pub mod traces;
pub mod verification;

use std::future::Future;
use std::sync::Arc;

pub use clock::Clock;
pub use http::Listener;
pub use state::AppState;

use error::Error;

/// Whether to speak TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS with the configured certificate (the default).
    Tls,
    /// Plain HTTP: only behind a TLS-terminating proxy, or in tests.
    InsecureHttp,
}

/// The bound sockets to serve on.
pub struct Listeners {
    /// The public listener (phones and authorities).
    pub public: tokio::net::TcpListener,
    /// The admin listener (operators), if any.
    pub admin: Option<tokio::net::TcpListener>,
}

/// Opens the data directory's store and serves until `shutdown` resolves; then stops
/// accepting, finishes requests in flight, stops the batch worker and flushes the store.
pub async fn run(
    cfg: config::Resolved,
    listeners: Listeners,
    transport: Transport,
    clock: Clock,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let state = AppState::open(cfg, clock).await?;
    serve(state, listeners, transport, true, shutdown).await
}

/// [`run`] with state built by the caller; without the batch worker if `batch_worker` is
/// false (the simulator closes windows itself, `batcher::close_window`, on its virtual clock).
pub async fn serve(
    state: Arc<AppState>,
    listeners: Listeners,
    transport: Transport,
    batch_worker: bool,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
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
    let addr = |l: &tokio::net::TcpListener| {
        l.local_addr()
            .map_err(|e| Error::Serve(format!("listener: {e}")))
    };
    tracing::info!(
        addr = %addr(&listeners.public)?,
        admin = %listeners.admin.as_ref().map(addr).transpose()?.map_or("none".to_string(), |a| a.to_string()),
        region = %state.cfg.region,
        export_key_id = %state.export_key.public_key().key_id(),
        "serving"
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let batcher = batch_worker.then(|| tokio::spawn(batcher::run(state.clone(), stop_rx.clone())));
    let purger = tokio::spawn(purge_codes(state.clone(), stop_rx.clone()));
    let importers = if batch_worker {
        federation::import::spawn_all(&state, &stop_rx)
    } else {
        Vec::new()
    };
    let admin = listeners.admin.map(|l| {
        let (state, tls, mut stop) = (state.clone(), tls.clone(), stop_rx.clone());
        tokio::spawn(http::serve(l, tls, state, Listener::Admin, async move {
            let _ = stop.changed().await;
        }))
    });
    http::serve(
        listeners.public,
        tls,
        state.clone(),
        Listener::Public,
        shutdown,
    )
    .await;
    tracing::info!("shutting down: no longer accepting; finishing requests in flight");
    let _ = stop_tx.send(true);
    if let Some(b) = batcher {
        let _ = b.await;
    }
    if let Some(a) = admin {
        let _ = a.await;
    }
    let _ = purger.await;
    for i in importers {
        let _ = i.await;
    }
    state.store.flush().await?;
    tracing::info!("store flushed; bye");
    Ok(())
}

/// Every minute until `stop`: deletes expired verification codes and tokens, old statistics
/// and audit entries, and expired console sessions.
async fn purge_codes(state: Arc<AppState>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = state.clock.now();
        if let Err(e) = state.verification.purge(now).await {
            tracing::error!(error = %e, "purging expired codes failed");
        }
        state.console.purge(&state.cfg.config.console, now.0);
    }
}
