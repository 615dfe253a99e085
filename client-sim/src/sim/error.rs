//! [`SimError`]: the simulator library's one error type. The `en-sim` binary turns it into
//! a message at its edge.

use std::path::PathBuf;

use en_protocol::UnixTime;

/// Everything that can stop a simulation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A request to the server failed, or the server refused one the simulator relies on.
    #[error(transparent)]
    Client(#[from] en_client::Error),
    /// The in-process server failed to start, publish or stop.
    #[error("in-process server: {0}")]
    Server(#[from] en_server::error::Error),
    /// A simulated phone refused what the server published: a stale or rolled-back index, a
    /// forked or gapped chain, a batch that is not the one announced. The run stops: a
    /// phone never resyncs silently, and a simulation that did would measure nothing.
    #[error("phone {phone} refused {what}: {source}")]
    Chain {
        /// Which simulated phone ("reference", "fetcher 2", …).
        phone: String,
        /// The object refused ("the index", "batch 7", "the risk configuration").
        what: String,
        /// The protocol's reason.
        source: en_protocol::Error,
    },
    /// An object the simulator made or read broke a protocol rule.
    #[error(transparent)]
    Protocol(#[from] en_protocol::Error),
    /// Independent phones downloaded different batches from the same server.
    #[error("independent phones disagree on the new batches: {0}")]
    Disagreement(String),
    /// A running server did not publish the night's batch in time.
    #[error("the server did not publish the batch ending at {} within 60 s (is it running with --virtual-clock and the batch period of timing.batch_period_seconds?)", .boundary.0)]
    BatchNotPublished {
        /// The window's end.
        boundary: UnixTime,
    },
    /// A key file could not be used.
    #[error(transparent)]
    KeyFile(#[from] en_api::keyfile::KeyFileError),
    /// A file could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// "write", "create", …
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The report could not be serialized.
    #[error("cannot encode the report: {0}")]
    Report(#[from] serde_json::Error),
    /// A parameter the model cannot use (the message says which and why).
    #[error("{0}")]
    Config(String),
    /// A scenario file that is not one (TOML syntax, an unknown field, a wrong type).
    #[error("scenario {}: {message}", path.display())]
    Scenario {
        /// The file (or `<command line>`).
        path: PathBuf,
        /// What is wrong, as the TOML reader says it.
        message: String,
    },
    /// A worker thread or its async runtime could not be started.
    #[error("cannot start a simulation worker: {0}")]
    Runtime(std::io::Error),
}

impl SimError {
    /// An IO error on `path`.
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        SimError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
