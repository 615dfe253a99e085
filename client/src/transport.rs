//! HTTP client for the server's API (reqwest + rustls).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use en_api::json::ErrorBody;

use crate::{Error, Refused};

/// A client for one server.
#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    /// Bytes received in response bodies (for the simulator's cost accounting).
    pub received: Arc<AtomicU64>,
}

/// A `reqwest` client builder with rustls on the `ring` provider (installed as the process's
/// default provider the first time; our TLS never uses another). Everything in this
/// workspace that speaks HTTPS as a client builds on it.
pub fn builder() -> reqwest::ClientBuilder {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        // Fails only if another provider was installed first, which we never do.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

impl Client {
    /// A client for `base` (e.g. `https://localhost:8443`), trusting `ca` (PEM) in addition to
    /// the system's roots when given.
    pub fn new(base: &str, ca: Option<&Path>) -> Result<Self, Error> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(Error::Invalid(format!(
                "--server must be an http(s):// URL, got {base}"
            )));
        }
        let mut b = builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("en-client/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).map_err(|e| Error::io("read CA certificate", ca, e))?;
            // A bundle trusts each of its certificates (e.g. the servers of several regions).
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    Error::Invalid(format!("{} is not a PEM certificate", ca.display()))
                })?;
            for cert in certs {
                b = b.add_root_certificate(cert);
            }
        }
        let http = b
            .build()
            .map_err(|_| Error::Invalid("cannot initialise the TLS client".into()))?;
        Ok(Client {
            base,
            http,
            received: Default::default(),
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn unreachable(&self, source: reqwest::Error) -> Error {
        Error::Unreachable {
            url: self.base.clone(),
            source,
        }
    }

    async fn check(&self, r: reqwest::Response) -> Result<bytes::Bytes, Error> {
        let status = r.status();
        let body = r.bytes().await.map_err(|e| self.unreachable(e))?;
        self.received.fetch_add(body.len() as u64, Relaxed);
        if status.is_success() {
            return Ok(body);
        }
        let refused = match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => Refused {
                status: status.as_u16(),
                code: e.error,
                message: e.message,
            },
            Err(_) => Refused {
                status: status.as_u16(),
                code: "unknown".into(),
                message: String::from_utf8_lossy(&body).chars().take(200).collect(),
            },
        };
        Err(refused.into())
    }

    /// POSTs `body` (already serialized JSON) to `path` and parses the acceptance.
    pub async fn post_raw<R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<R, Error> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let b = self.check(r).await?;
        serde_json::from_slice(&b).map_err(|_| Error::BadAnswer("not the JSON the API promises"))
    }

    /// POSTs a JSON body to `path` and parses the acceptance.
    pub async fn post_json<T: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<R, Error> {
        self.post_raw(
            path,
            serde_json::to_vec(body).expect("API bodies serialize"),
        )
        .await
    }

    /// GETs `path` as bytes. A GET is idempotent, so one that fails after it was sent and
    /// before any answer (a kept-alive connection the server closed as idle just as it was
    /// reused: "connection reset", "connection closed before message completed") is sent once
    /// more, on a new connection. A timeout or a refused connection is not retried.
    pub async fn get(&self, path: &str) -> Result<bytes::Bytes, Error> {
        let url = format!("{}{path}", self.base);
        let r = match self.http.get(&url).send().await {
            Ok(r) => r,
            Err(e) if e.is_request() && !e.is_timeout() && !e.is_connect() => self
                .http
                .get(&url)
                .send()
                .await
                .map_err(|e| self.unreachable(e))?,
            Err(e) => return Err(self.unreachable(e)),
        };
        self.check(r).await
    }
}
