//! Shared pieces of the fuzz targets: a fixed authority/export key, a registry, and the
//! in-process server harness for the `request` target.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use en_protocol::keys::SigningKey;
use en_protocol::phone::ChainFollower;
use en_protocol::verify::{AuthorityInfo, ExportKeys};
use en_protocol::wire::chain::ChainFormat;
use en_protocol::wire::{AuthorityId, Region};
use en_protocol::{Error, UnixTime};

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

/// The export key of `spec/vectors` (so that signed vectors used as seeds verify) and
/// [`authority_key`].
pub fn spec_export_keys() -> ExportKeys {
    ExportKeys::new(vec![
        en_protocol::keys::PublicKey::from_hex(
            "6747b11f29ebfaf14e1f57ec950333a55bf6dceed626f74b54cc279fc591c02c",
        )
        .expect("the spec's export key"),
        authority_key().public_key(),
    ])
}

/// The export key of `spec/vectors/venue` (so that the signed trace vectors used as seeds
/// verify) and [`authority_key`].
pub fn venue_spec_export_keys() -> ExportKeys {
    ExportKeys::new(vec![
        en_protocol::keys::PublicKey::from_hex(
            "e12f0cb818e66df049b085735eb11e46e78aa308b2748d3759b9c621ddb3d225",
        )
        .expect("the venue vectors' export key"),
        authority_key().public_key(),
    ])
}

/// Feeds a chain follower a hostile sequence of records (kind byte, u16 length, bytes), time
/// advancing with each record, through `handle` (which picks the handler by kind), and
/// asserts that every refusal leaves the follower's state unchanged.
pub fn follow<C: ChainFormat>(
    f: &mut ChainFollower<C>,
    data: &[u8],
    mut now: UnixTime,
    mut handle: impl FnMut(&mut ChainFollower<C>, u8, &[u8], UnixTime) -> Result<(), Error>,
) {
    let mut rest = data;
    while let [kind, a, b, tail @ ..] = rest {
        let n = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        let (msg, next) = tail.split_at(n);
        rest = next;
        now = now.plus(u64::from(*a));
        let before = *f.state();
        if handle(f, *kind, msg, now).is_err() {
            assert_eq!(*f.state(), before, "a refusal changed the follower's state");
        }
    }
}

/// The in-process server state (the one embedded-server helper, without listeners).
pub struct Harness {
    /// Runtime the handlers run on.
    pub rt: tokio::runtime::Runtime,
    /// Server state.
    pub state: Arc<en_server::AppState>,
    _opened: en_server::embedded::Opened,
}

/// The process-wide harness (built on first use). Phone uploads are not required to be
/// padded here (`publish_body_bytes = 0`), so that fuzzed bodies reach the deeper checks, and
/// phone answers are not held for the release schedule (`publish_release_period_ms = 0`), so
/// that an input takes microseconds instead of up to 50 ms.
pub fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| open_harness(false))
}

/// The harness of the `verify_request` target: the server also holds [`authority_key`] (so
/// that codes of `moh.vn` reach the code store), and phone requests need no padding
/// (`phone_request_bytes = 0`).
pub fn verify_harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| open_harness(true))
}

fn open_harness(hold_key: bool) -> Harness {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut config = en_server::config::Config::default();
    config.batch_period_seconds = 86_400;
    config.publish_body_bytes = 0;
    config.publish_release_period_ms = 0;
    config.console.phone_request_bytes = 0;
    let opened = rt
        .block_on(en_server::embedded::open(&en_server::embedded::Options {
            config,
            authority: (
                "moh.vn".into(),
                authority_key().public_key(),
                Some("VN".into()),
            ),
            clock: Default::default(),
            transport: en_server::Transport::InsecureHttp,
            batch_worker: false,
            padding_seed: None,
        }))
        .unwrap();
    if hold_key {
        let dir = en_server::datadir::DataDir::new(opened.dir.path()).authority_keys();
        en_server::datadir::create_private_dir(&dir).unwrap();
        en_api::keyfile::write_signing_key(
            &en_server::verification::keys::key_path(&dir, "moh.vn"),
            &authority_key(),
        )
        .unwrap();
    }
    Harness {
        rt,
        state: opened.state.clone(),
        _opened: opened,
    }
}

/// Paths the `verify_request` target chooses from (the last on the admin listener).
pub const VERIFY_PATHS: [&str; 3] = ["/v1/verify", "/v1/certificate", "/console/api/v1/codes"];

/// Input layout of the `verify_request` target: one byte, then the JSON body. The byte chooses
/// the path (modulo the number of paths) and, with its top bit, whether an `Authorization`
/// header with a made-up API key is sent.
pub fn verify_request_from(
    data: &[u8],
) -> Option<(
    en_server::Listener,
    hyper::Request<http_body_util::Full<Bytes>>,
)> {
    let (head, body) = data.split_first()?;
    let i = usize::from(*head) % VERIFY_PATHS.len();
    let mut b = hyper::Request::builder()
        .method("POST")
        .uri(VERIFY_PATHS[i])
        .header("content-type", "application/json");
    if head & 0x80 != 0 {
        b = b.header("authorization", "Bearer enk_00000000_00");
    }
    let role = if i == 2 {
        en_server::Listener::Admin
    } else {
        en_server::Listener::Public
    };
    let req = b
        .body(http_body_util::Full::new(Bytes::copy_from_slice(body)))
        .ok()?;
    Some((role, req))
}

/// Methods the request target chooses from.
pub const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"];
/// Paths the request target chooses from (a path ending in `/` is followed by a number).
pub const PATHS: [&str; 12] = [
    "/v1/cases",
    "/v1/publish",
    "/v1/index",
    "/v1/config",
    "/healthz",
    "/metrics",
    "/nope",
    "/v1/batches/",
    "/v1/cases/bulk",
    "/v1/traces",
    "/v1/traces/index",
    "/v1/traces/batches/",
];
/// Content types the request target chooses from.
pub const CONTENT_TYPES: [Option<&str>; 4] = [
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    None,
];

/// Input layout of the request target: method, path, content type, batch number, body. The
/// listener (public or admin) is the low bit of the content-type byte's high nibble.
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

/// Which listener a request from `data` goes to.
pub fn listener_of(data: &[u8]) -> en_server::Listener {
    match data.get(2).map(|b| b >> 4 & 1) {
        Some(1) => en_server::Listener::Admin,
        _ => en_server::Listener::Public,
    }
}

/// Encodes a request for the seed corpus.
pub fn request_bytes(method: u8, path: u8, content_type: u8, batch: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![method, path, content_type, batch];
    v.extend_from_slice(body);
    v
}
