//! Test harness: a real server over TLS on 127.0.0.1:0 with a real sled store in a temporary
//! directory, a registered health authority, and the real clients.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use en_client::transport::Client;
use en_protocol::keys::{PublicKey, SigningKey};
use en_protocol::verify::ExportKeys;
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::ReportType;
use en_protocol::{IntervalNumber, UnixTime};
use en_server::config::{Config, Resolved};
use en_server::{AppState, Clock, Transport};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

pub const AUTHORITY: &str = "moh.vn";
pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The tests' clock: 12:00 UTC of the day the test binary started, advancing in real time.
///
/// Servers and clients in a test share it, so no test depends on the time of day (near
/// midnight, yesterday's key is still under the 2-hour embargo and a day can turn mid-test).
pub fn test_clock() -> Clock {
    static CLOCK: std::sync::OnceLock<Clock> = std::sync::OnceLock::new();
    CLOCK
        .get_or_init(|| Clock::virtual_at(noon_today()))
        .clone()
}

/// 12:00 UTC of the current (system) day.
pub fn noon_today() -> UnixTime {
    let t = en_client::now().0;
    UnixTime(t - t % 86_400 + 12 * 3600)
}

/// Settings a test may change before the server starts.
pub fn test_config() -> Config {
    Config {
        batch_period_seconds: 2,
        min_batch_size: 20,
        limits: en_server::config::Limits {
            header_timeout_seconds: 2,
            request_timeout_seconds: 3,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Creates a data directory with `cfg`, an export key, TLS files and a registered authority.
pub fn make_data_dir(dir: &Path, cfg: &Config, authority: &SigningKey) -> Resolved {
    en_server::config::init_with_authority(dir, cfg, AUTHORITY, &authority.public_key(), Some("VN"))
        .unwrap()
}

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub state: Arc<AppState>,
    pub client: Client,
    pub authority: SigningKey,
    pub export: ExportKeys,
    pub rng: ChaCha20Rng,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }

    pub async fn start_with(cfg: Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(rand::random());
        let authority = SigningKey::generate(&mut rng);
        let resolved = make_data_dir(dir.path(), &cfg, &authority);
        let state = AppState::open(resolved, test_clock()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(en_server::run_with_state(
            state.clone(),
            listener,
            Transport::Tls,
            async {
                let _ = rx.await;
            },
        ));
        let url = format!("https://localhost:{port}");
        let client = Client::new(&url, Some(&dir.path().join("tls/cert.pem"))).unwrap();
        let export = ExportKeys::new(state.export_public_keys.clone());
        TestServer {
            dir,
            url,
            state,
            client,
            authority,
            export,
            rng,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("tls/cert.pem")
    }

    pub fn export_public_key(&self) -> PublicKey {
        self.state.export_public_keys[0]
    }

    /// Stops the server gracefully and returns what `run` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap()
    }

    /// Fresh keys for the `days` days before today (released at once: already expired).
    pub fn keys(&mut self, days: u32) -> Vec<UploadKey> {
        en_client::phone::phone_keys(days, now(), &mut self.rng)
    }

    pub fn case_report(&mut self, keys: Vec<UploadKey>) -> Vec<u8> {
        let onset = Some(IntervalNumber(now().interval().0 - 144 * 3));
        en_client::authority::case_report(
            AUTHORITY,
            "VN",
            &self.authority,
            keys,
            ReportType::ConfirmedTest,
            onset,
            now(),
            &mut self.rng,
        )
        .unwrap()
    }

    pub fn case_body(report: &[u8]) -> serde_json::Value {
        serde_json::json!({"report": B64.encode(report)})
    }

    /// A certificate for `keys` and the publish body that goes with it.
    pub fn certified_body(
        &mut self,
        keys: &[UploadKey],
        report_type: ReportType,
        valid_for: u64,
    ) -> serde_json::Value {
        let hk: [u8; 32] = rand::random();
        let mac = en_protocol::tekmac::tekmac(&hk, keys, true);
        let cert = en_client::authority::certify(
            AUTHORITY,
            &self.authority,
            mac,
            "en-server:VN",
            report_type,
            None,
            now(),
            valid_for,
            &mut self.rng,
        )
        .unwrap();
        serde_json::json!({
            "certificate": B64.encode(cert),
            "hmac_key": B64.encode(hk),
            "keys": keys.iter().map(en_api::json::JsonKey::from_upload_key).collect::<Vec<_>>(),
        })
    }

    /// Waits until a batch newer than `after` exists.
    pub async fn wait_for_batch(&self, after: u64) -> u64 {
        for _ in 0..100 {
            if let Some(h) = self.state.store.head().unwrap() {
                if h.sequence > after {
                    return h.sequence;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no batch after {after} within 10 s");
    }

    /// Waits until a batch whose window ends after `t` is published (everything released by
    /// `t` is then in a batch); returns its sequence.
    pub async fn wait_for_window_past(&self, t: UnixTime) -> u64 {
        for _ in 0..100 {
            if let Some(h) = self.state.store.head().unwrap() {
                if h.window_end > t {
                    return h.sequence;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no batch past {t:?} within 10 s");
    }

    pub fn fingerprint(&self) -> [u8; 32] {
        self.state.store.fingerprint().unwrap()
    }
}

/// Raw HTTP: (status, parsed JSON body or Null) for a POST with `content_type`.
pub async fn post_raw(
    server: &TestServer,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value, usize) {
    let (status, v, len) = try_post_raw(server, path, content_type, body)
        .await
        .unwrap();
    (status, v, len)
}

/// Like [`post_raw`], but returns the client's error instead of panicking (for requests the
/// server may cut off).
pub async fn try_post_raw(
    server: &TestServer,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(u16, serde_json::Value, usize), reqwest::Error> {
    let pem = std::fs::read(server.ca()).unwrap();
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let r = http
        .post(format!("{}{path}", server.url))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    let b = r.bytes().await?;
    Ok((
        status,
        serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null),
        b.len(),
    ))
}

pub async fn post_json(
    server: &TestServer,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value, usize) {
    post_raw(
        server,
        path,
        "application/json",
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

/// Fresh keys for the `days` days before today and a confirmed-test case report for them,
/// signed by `authority` as [`AUTHORITY`] (for upload loops that run without a `TestServer`).
pub fn signed_case(
    authority: &SigningKey,
    days: u32,
    rng: &mut ChaCha20Rng,
) -> (Vec<UploadKey>, Vec<u8>) {
    let keys = en_client::phone::phone_keys(days, now(), rng);
    let report = en_client::authority::case_report(
        AUTHORITY,
        "VN",
        authority,
        keys.clone(),
        ReportType::ConfirmedTest,
        None,
        now(),
        rng,
    )
    .unwrap();
    (keys, report)
}

pub fn now() -> UnixTime {
    test_clock().now()
}
