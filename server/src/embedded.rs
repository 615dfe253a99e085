//! An in-process server on 127.0.0.1 with a temporary data directory: the one way tests, the
//! simulator, the benchmarks and the fuzzers start a server.

use std::path::PathBuf;
use std::sync::Arc;

use en_protocol::keys::PublicKey;

use crate::config::{Config, Resolved};
use crate::error::Error;
use crate::{AppState, Clock, Listeners, Transport};

/// What to start.
pub struct Options {
    /// The configuration (listen addresses are ignored: both listeners bind 127.0.0.1:0).
    pub config: Config,
    /// A health authority to register: id, public key, region restriction.
    pub authority: (String, PublicKey, Option<String>),
    /// The server's clock.
    pub clock: Clock,
    /// TLS (with the self-signed certificate `init` makes) or plain HTTP.
    pub transport: Transport,
    /// Run the batch worker (false: the caller closes windows with `batcher::close_window`).
    pub batch_worker: bool,
    /// Simulations only: draw padding from a generator with this seed (reproducible runs).
    pub padding_seed: Option<u64>,
}

/// A data directory and the server state opened on it, without listeners (fuzzers and
/// benchmarks that call handlers directly).
pub struct Opened {
    /// The temporary data directory (deleted on drop).
    pub dir: tempfile::TempDir,
    /// The loaded configuration.
    pub cfg: Resolved,
    /// The state.
    pub state: Arc<AppState>,
}

/// Creates a temporary data directory for `opts` and opens the server state on it.
pub async fn open(opts: &Options) -> Result<Opened, Error> {
    let dir = tempfile::tempdir().map_err(|e| Error::io("create", &std::env::temp_dir(), e))?;
    let (id, key, region) = &opts.authority;
    let cfg =
        crate::datadir::init_with_authority(dir.path(), &opts.config, id, key, region.as_deref())?;
    let state = match opts.padding_seed {
        Some(seed) => AppState::open_for_simulation(cfg.clone(), opts.clock.clone(), seed).await?,
        None => AppState::open(cfg.clone(), opts.clock.clone()).await?,
    };
    Ok(Opened { dir, cfg, state })
}

/// A running in-process server.
pub struct Embedded {
    /// Its data directory.
    pub dir: tempfile::TempDir,
    /// Its state.
    pub state: Arc<AppState>,
    /// `https://localhost:PORT` (or `http://` without TLS) of the public listener.
    pub url: String,
    /// The same for the admin listener.
    pub admin_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), Error>>>,
}

/// Binds both listeners on 127.0.0.1:0 and serves `state` on them; returns the public and
/// admin URLs, the stop switch and the serving task.
async fn listen(
    state: &Arc<AppState>,
    transport: Transport,
    batch_worker: bool,
) -> Result<Listening, Error> {
    let bind = || async {
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::Serve(format!("cannot bind 127.0.0.1:0: {e}")))
    };
    let (public, admin) = (bind().await?, bind().await?);
    let scheme = match transport {
        Transport::Tls => "https",
        Transport::InsecureHttp => "http",
    };
    let port = |l: &tokio::net::TcpListener| l.local_addr().map(|a| a.port()).unwrap_or(0);
    let url = format!("{scheme}://localhost:{}", port(&public));
    let admin_url = format!("{scheme}://localhost:{}", port(&admin));
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(crate::serve(
        state.clone(),
        Listeners {
            public,
            admin: Some(admin),
        },
        transport,
        batch_worker,
        async {
            let _ = rx.await;
        },
    ));
    Ok(Listening {
        url,
        admin_url,
        stop: Some(stop),
        task: Some(task),
    })
}

/// A serving task and how to reach and stop it.
struct Listening {
    url: String,
    admin_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), Error>>>,
}

impl Listening {
    async fn stop(&mut self) -> Result<(), Error> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.task.take() {
            Some(t) => t.await.map_err(|e| Error::Serve(e.to_string()))?,
            None => Ok(()),
        }
    }
}

impl Embedded {
    /// Starts a server as `opts` says.
    pub async fn start(opts: Options) -> Result<Self, Error> {
        let Opened { dir, state, .. } = open(&opts).await?;
        let Listening {
            url,
            admin_url,
            stop,
            task,
        } = listen(&state, opts.transport, opts.batch_worker).await?;
        Ok(Embedded {
            dir,
            state,
            url,
            admin_url,
            stop,
            task,
        })
    }

    /// The TLS certificate to trust (self-signed for localhost).
    pub fn ca(&self) -> PathBuf {
        self.state.cfg.path(&self.state.cfg.config.tls_cert)
    }

    /// Stops the server gracefully and returns what it returned.
    pub async fn stop(self) -> Result<(), Error> {
        Listening {
            url: self.url,
            admin_url: self.admin_url,
            stop: self.stop,
            task: self.task,
        }
        .stop()
        .await
    }

    /// Starts another replica of this server: the same data directory and configuration
    /// (hence the same keys and replay secret) and a state of its own on its own listeners.
    /// Meaningful with a shared store (PostgreSQL), whose batch lock picks the replica that
    /// publishes.
    pub async fn replica(
        &self,
        transport: Transport,
        batch_worker: bool,
    ) -> Result<Replica, Error> {
        let state = AppState::open(self.state.cfg.clone(), self.state.clock.clone()).await?;
        let l = listen(&state, transport, batch_worker).await?;
        Ok(Replica {
            url: l.url.clone(),
            admin_url: l.admin_url.clone(),
            state,
            listening: l,
        })
    }
}

/// Another replica of an [`Embedded`] server (it shares that server's data directory, which
/// must outlive it).
pub struct Replica {
    /// Its state.
    pub state: Arc<AppState>,
    /// Its public listener's URL.
    pub url: String,
    /// Its admin listener's URL.
    pub admin_url: String,
    listening: Listening,
}

impl Replica {
    /// Stops the replica gracefully and returns what it returned.
    pub async fn stop(mut self) -> Result<(), Error> {
        self.listening.stop().await
    }
}
