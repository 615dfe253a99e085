//! The HTTP client of one peer: HTTPS on rustls (ring) trusting the system's roots and the
//! peer's configured CA, no redirects, a deadline per request, and bodies read chunk by
//! chunk up to a byte limit, so a peer cannot make this server wait or allocate without bound.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::config::PeerSetting;
use crate::error::Error;

/// Why a fetch failed (the importer counts each by its name and retries at the next poll).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Could not connect, or the connection broke.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The request took longer than the peer's `timeout_seconds`.
    #[error("timed out")]
    Timeout,
    /// The peer answered with an error status.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// The body is larger than the peer's `max_batch_bytes`.
    #[error("answer larger than {0} bytes")]
    TooLarge(u64),
}

impl FetchError {
    /// A stable name, for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Unreachable(_) => "unreachable",
            FetchError::Timeout => "timeout",
            FetchError::Status(_) => "http_status",
            FetchError::TooLarge(_) => "too_large",
        }
    }
}

/// A client of one peer's public listener.
#[derive(Clone)]
pub struct PeerClient {
    base: String,
    http: reqwest::Client,
    max_bytes: u64,
    timeout: Duration,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl PeerClient {
    /// A client for `peer`; `ca` is the PEM bundle of its `tls_ca`, if configured.
    pub fn new(peer: &PeerSetting, ca: Option<&[u8]>) -> Result<Self, Error> {
        static PROVIDER: std::sync::Once = std::sync::Once::new();
        PROVIDER.call_once(|| {
            // Fails only if a provider was installed first; ours is always ring.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let timeout = Duration::from_secs(peer.timeout_seconds);
        let mut b = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "en-server/",
                env!("CARGO_PKG_VERSION"),
                " federation"
            ));
        if let Some(pem) = ca {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    Error::Tls(format!(
                        "federation peer {}: tls_ca is not a PEM certificate",
                        peer.region
                    ))
                })?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let http = b.build().map_err(|e| {
            Error::Tls(format!(
                "federation peer {}: cannot build the HTTPS client: {e}",
                peer.region
            ))
        })?;
        Ok(PeerClient {
            base: peer.url.trim_end_matches('/').to_string(),
            http,
            max_bytes: peer.max_batch_bytes,
            timeout,
        })
    }

    /// GETs `path` (e.g. `/v1/federation/VN/index`), reading at most the byte limit.
    pub async fn get(&self, path: &str) -> Result<Bytes, FetchError> {
        match tokio::time::timeout(self.timeout, self.get_within(path)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout),
        }
    }

    async fn get_within(&self, path: &str) -> Result<Bytes, FetchError> {
        let broke = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout
            } else {
                // Without the URL's query or credentials: the base and path are config.
                FetchError::Unreachable(e.without_url().to_string())
            }
        };
        let url = format!("{}{path}", self.base);
        // A GET is idempotent: one that failed after it was sent and before any answer (a
        // kept-alive connection the peer closed as idle just as it was reused) is sent once
        // more, on a new connection, within the same deadline.
        let mut r = match self.http.get(&url).send().await {
            Ok(r) => r,
            Err(e) if e.is_request() && !e.is_timeout() && !e.is_connect() => {
                self.http.get(&url).send().await.map_err(broke)?
            }
            Err(e) => return Err(broke(e)),
        };
        if !r.status().is_success() {
            return Err(FetchError::Status(r.status().as_u16()));
        }
        if r.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(FetchError::TooLarge(self.max_bytes));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = r.chunk().await.map_err(broke)? {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}
