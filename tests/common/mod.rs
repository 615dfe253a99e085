//! Test harness: a real server over TLS on 127.0.0.1:0 with a real sled store in a temporary
//! directory (or, with `EN_E2E_STORE=postgres`, a fresh database on a throwaway PostgreSQL
//! cluster, [`pg`]), a registered health authority, and the real clients.
#![allow(dead_code)]

pub mod mirror;
pub mod pg;
pub mod running;

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
    let mut c = Config::default();
    c.batch_period_seconds = 2;
    c.min_batch_size = 20;
    c.limits.header_timeout_seconds = 2;
    c.limits.request_timeout_seconds = 3;
    c.limits.write_timeout_seconds = 2;
    c
}

/// Creates a data directory with `cfg`, an export key, TLS files and a registered authority.
pub fn make_data_dir(dir: &Path, cfg: &Config, authority: &SigningKey) -> Resolved {
    en_server::datadir::init_with_authority(
        dir,
        cfg,
        AUTHORITY,
        &authority.public_key(),
        Some("VN"),
    )
    .unwrap()
}

/// With `EN_E2E_STORE=postgres`, points `cfg` at a fresh database of the shared throwaway
/// PostgreSQL cluster (the end-to-end suite then runs against the PostgreSQL store; it fails
/// if PostgreSQL is missing); otherwise leaves sled.
pub fn use_store_under_test(cfg: &mut Config) {
    match std::env::var("EN_E2E_STORE").as_deref() {
        Ok("postgres") => {
            let cluster = pg::shared("EN_E2E_STORE=postgres")
                .expect("EN_E2E_STORE=postgres needs PostgreSQL (apt-get install postgresql)");
            let mut p =
                en_server::config::PostgresSetting::new(cluster.create_database("e2e").unwrap());
            p.password_file = Some(cluster.password_file().to_path_buf());
            p.pool_size = 4;
            cfg.store = en_server::config::StoreSetting::Postgres(p);
        }
        Ok("sled") | Err(_) => {}
        Ok(other) => panic!("EN_E2E_STORE={other}: sled or postgres"),
    }
}

/// A real server over TLS with its batch worker, the test clock, and a registered authority.
pub struct TestServer {
    pub server: en_server::embedded::Embedded,
    pub url: String,
    pub state: Arc<AppState>,
    pub client: Client,
    /// A client of the admin listener (metrics).
    pub admin: Client,
    pub authority: SigningKey,
    pub export: ExportKeys,
    pub rng: ChaCha20Rng,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }

    pub async fn start_with(mut cfg: Config) -> Self {
        use_store_under_test(&mut cfg);
        let mut rng = ChaCha20Rng::seed_from_u64(rand::random());
        let authority = SigningKey::generate(&mut rng);
        let server = en_server::embedded::Embedded::start(en_server::embedded::Options {
            config: cfg,
            authority: (AUTHORITY.into(), authority.public_key(), Some("VN".into())),
            clock: test_clock(),
            transport: Transport::Tls,
            batch_worker: true,
            padding_seed: None,
        })
        .await
        .unwrap();
        let client = Client::new(&server.url, Some(&server.ca())).unwrap();
        let admin = Client::new(&server.admin_url, Some(&server.ca())).unwrap();
        let export = ExportKeys::new(server.state.export_public_keys.clone());
        TestServer {
            url: server.url.clone(),
            state: server.state.clone(),
            server,
            client,
            admin,
            authority,
            export,
            rng,
        }
    }

    /// Gives the server the authority's signing key (as `en-server authority add --server-key`
    /// would have made it), so that it signs certificates for the codes it issues.
    pub fn hold_authority_key(&self) {
        hold_key(self.dir(), &self.authority);
    }

    pub fn ca(&self) -> PathBuf {
        self.server.ca()
    }

    pub fn dir(&self) -> &Path {
        self.server.dir.path()
    }

    pub fn export_public_key(&self) -> PublicKey {
        self.state.export_public_keys[0]
    }

    /// Stops the server gracefully and returns what `run` returned.
    pub async fn stop(self) -> Result<(), en_server::error::Error> {
        self.server.stop().await
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
            if let Some(h) = self.head().await {
                // Published = listed in the served index (the head moves just before).
                if h.sequence > after
                    && self
                        .state
                        .objects
                        .batch(h.sequence)
                        .await
                        .unwrap()
                        .is_some()
                {
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
            if let Some(h) = self.head().await {
                if h.window_end > t
                    && self
                        .state
                        .objects
                        .batch(h.sequence)
                        .await
                        .unwrap()
                        .is_some()
                {
                    return h.sequence;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no batch past {t:?} within 10 s");
    }

    /// A phone's chain follower for this server (trusting its export keys, region VN).
    pub fn phone(&self) -> en_protocol::phone::KeyFollower {
        en_client::fetch::follower(
            self.export.clone(),
            en_protocol::wire::Region::new("VN").unwrap(),
        )
    }

    /// Downloads what `phone` has not verified yet.
    pub async fn sync(
        &self,
        phone: &mut en_protocol::phone::KeyFollower,
    ) -> en_client::fetch::Synced {
        en_client::fetch::sync(&self.client, phone, now(), false)
            .await
            .unwrap()
    }

    /// A digest of everything stored (to assert that a request stored nothing).
    pub async fn fingerprint(&self) -> [u8; 32] {
        self.state.store.fingerprint().await.unwrap()
    }

    /// The chain head.
    pub async fn head(&self) -> Option<en_server::store::ChainHead> {
        self.state.store.head().await.unwrap()
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
    let http = en_client::transport::builder()
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
    let bytes = if path == "/v1/publish" || path == "/v1/revisions" {
        padded(body, server.state.cfg.config.publish_body_bytes)
    } else {
        serde_json::to_vec(body).unwrap()
    };
    post_raw(server, path, "application/json", bytes).await
}

/// A JSON object padded (with its `padding` field) to exactly `size` bytes, as phones send
/// `POST /v1/publish` bodies.
pub fn padded(body: &serde_json::Value, size: usize) -> Vec<u8> {
    let mut v = body.clone();
    if size == 0 || !v.is_object() {
        return serde_json::to_vec(&v).unwrap();
    }
    v["padding"] = serde_json::json!("");
    let base = serde_json::to_vec(&v).unwrap().len();
    v["padding"] = serde_json::json!("=".repeat(size.saturating_sub(base)));
    serde_json::to_vec(&v).unwrap()
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

/// Puts `key` where the server of `data_dir` looks for the key it holds for [`AUTHORITY`].
pub fn hold_key(data_dir: &Path, key: &SigningKey) {
    let dir = en_server::datadir::DataDir::new(data_dir).authority_keys();
    en_server::datadir::create_private_dir(&dir).unwrap();
    en_api::keyfile::write_signing_key(
        &en_server::verification::keys::key_path(&dir, AUTHORITY),
        key,
    )
    .unwrap();
}
