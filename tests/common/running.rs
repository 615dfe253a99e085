//! A server started on an existing data directory and stopped again: restarts.

use std::sync::Arc;

use en_client::transport::Client;
use en_server::config::Resolved;
use en_server::{AppState, Listeners, Transport};

use super::test_clock;

/// A server running on an existing data directory (made by [`super::make_data_dir`]), so that
/// a test can stop it and start it again on the same data: the real restart.
pub struct Running {
    pub state: Arc<AppState>,
    pub client: Client,
    pub url: String,
    pub ca: std::path::PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), en_server::error::Error>>,
}

/// Starts a server on `cfg`'s data directory with the test clock and TLS (and, if
/// `batch_worker`, its batch worker and federation importers).
pub async fn run(cfg: &Resolved, batch_worker: bool) -> Running {
    // The previous server's database closes when its committing task has ended (shortly
    // after the last reference to its state went).
    let mut tries = 0;
    let state = loop {
        match AppState::open(cfg.clone(), test_clock()).await {
            Ok(s) => break s,
            Err(e) if tries < 100 && e.to_string().contains("lock") => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}", public.local_addr().unwrap().port());
    let ca = cfg.path(&cfg.config.tls_cert);
    let client = Client::new(&url, Some(&ca)).unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(en_server::serve(
        state.clone(),
        Listeners {
            public,
            admin: None,
        },
        Transport::Tls,
        batch_worker,
        async {
            let _ = rx.await;
        },
    ));
    Running {
        state,
        client,
        url,
        ca,
        stop,
        task,
    }
}

impl Running {
    /// Stops the server and waits until its store is closed (it may then be opened again).
    pub async fn halt(self) {
        // Closes the client's keep-alive connection, whose task holds the state.
        drop(self.client);
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
        // The database is closed when the last reference to the state is gone.
        let state = Arc::downgrade(&self.state);
        drop(self.state);
        for _ in 0..100 {
            if state.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the server state is still referenced after shutdown");
    }
}
