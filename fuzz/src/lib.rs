//! Shared pieces of the fuzz targets: a fixed authority/export key, a registry, and the
//! in-process server harness for the `request` target.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use en_protocol::keys::SigningKey;
use en_protocol::verify::{AuthorityInfo, ExportKeys};
use en_protocol::wire::{AuthorityId, Region};

/// The authority whose signatures the harnesses accept (seed corpora are signed with it).
pub fn authority_key() -> SigningKey {
    SigningKey::from_seed(&[7u8; 32])
}

/// The registry: `moh.vn` (region VN) with [`authority_key`].
pub fn registry() -> std::collections::BTreeMap<AuthorityId, AuthorityInfo> {
    let mut m = std::collections::BTreeMap::new();
    m.insert(
        AuthorityId::new("moh.vn").unwrap(),
        AuthorityInfo {
            public_key: authority_key().public_key(),
            region: Some(Region::new("VN").unwrap()),
            revoked: false,
        },
    );
    m
}

/// Trusted export keys: the spec vectors' export key is unknown here, so verification of
/// fuzzed batches exercises both the unknown-key path and, for inputs re-signed by
/// [`authority_key`], the signature path.
pub fn export_keys() -> ExportKeys {
    ExportKeys::new(vec![authority_key().public_key()])
}

/// The in-process server: a data directory with config, export key and registry, and a
/// temporary sled store.
pub struct Harness {
    /// Runtime the handlers run on.
    pub rt: tokio::runtime::Runtime,
    /// Server state.
    pub state: Arc<en_server::AppState>,
    _dir: tempfile::TempDir,
}

/// The process-wide harness (built on first use).
pub fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = en_server::config::Config {
            batch_period_seconds: 86_400,
            ..Default::default()
        };
        let resolved = en_server::config::init_with_authority(
            dir.path(),
            &cfg,
            "moh.vn",
            &authority_key().public_key(),
            Some("VN"),
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let state = {
            let _g = rt.enter();
            en_server::AppState::with_store(
                resolved,
                en_server::store::Store::temporary().unwrap(),
                Default::default(),
            )
            .unwrap()
        };
        Harness {
            rt,
            state,
            _dir: dir,
        }
    })
}

/// Methods the request target chooses from.
pub const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"];
/// Paths the request target chooses from (a path ending in `/` is followed by a number).
pub const PATHS: [&str; 9] = [
    "/v1/cases",
    "/v1/publish",
    "/v1/index",
    "/v1/config",
    "/healthz",
    "/metrics",
    "/nope",
    "/v1/batches/",
    "/v1/cases/bulk",
];
/// Content types the request target chooses from.
pub const CONTENT_TYPES: [Option<&str>; 4] = [
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    None,
];

/// Input layout of the request target: method, path, content type, batch number, body.
pub fn request_from(data: &[u8]) -> Option<hyper::Request<http_body_util::Full<Bytes>>> {
    let (head, body) = data.split_at_checked(4)?;
    let method = METHODS[usize::from(head[0]) % METHODS.len()];
    let mut path = PATHS[usize::from(head[1]) % PATHS.len()].to_string();
    if path.ends_with('/') {
        path.push_str(&head[3].to_string());
    }
    let mut b = hyper::Request::builder().method(method).uri(path);
    if let Some(ct) = CONTENT_TYPES[usize::from(head[2]) % CONTENT_TYPES.len()] {
        b = b.header("content-type", ct);
    }
    b.body(http_body_util::Full::new(Bytes::copy_from_slice(body)))
        .ok()
}

/// Encodes a request for the seed corpus.
pub fn request_bytes(method: u8, path: u8, content_type: u8, batch: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![method, path, content_type, batch];
    v.extend_from_slice(body);
    v
}
