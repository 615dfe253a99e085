//! HTTP client for the server's API (reqwest + rustls).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use en_server::api::ErrorBody;

/// A client for one server.
#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    /// Bytes received in response bodies (for the simulator's cost accounting).
    pub received: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Why the server refused a request.
#[derive(Debug, thiserror::Error)]
#[error("server answered {status} {code}: {message}")]
pub struct Refused {
    /// HTTP status.
    pub status: u16,
    /// Stable error code.
    pub code: String,
    /// The server's sentence.
    pub message: String,
}

impl Client {
    /// A client for `base` (e.g. `https://localhost:8443`), trusting `ca` (PEM) in addition to
    /// the system's roots when given.
    pub fn new(base: &str, ca: Option<&Path>) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            anyhow::bail!("--server must be an http(s):// URL, got {base}");
        }
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("en-sim/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = ca {
            let pem = std::fs::read(ca)
                .with_context(|| format!("cannot read CA certificate {}", ca.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
            b = b.add_root_certificate(cert);
        }
        Ok(Client {
            base,
            http: b.build()?,
            received: Default::default(),
        })
    }

    async fn check(&self, r: reqwest::Response) -> anyhow::Result<bytes::Bytes> {
        let status = r.status();
        let body = r.bytes().await.context("reading the response")?;
        self.received
            .fetch_add(body.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if status.is_success() {
            return Ok(body);
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) => Err(Refused {
                status: status.as_u16(),
                code: e.error,
                message: e.message,
            }
            .into()),
            Err(_) => Err(Refused {
                status: status.as_u16(),
                code: "unknown".into(),
                message: String::from_utf8_lossy(&body).into_owned(),
            }
            .into()),
        }
    }

    /// POSTs a JSON body to `path` and parses the acceptance.
    pub async fn post_json<T: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &T,
    ) -> anyhow::Result<R> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let b = self.check(r).await?;
        serde_json::from_slice(&b).context("the server's answer is not valid JSON")
    }

    /// GETs `path` as bytes.
    pub async fn get(&self, path: &str) -> anyhow::Result<bytes::Bytes> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        self.check(r).await
    }
}
