//! The published objects behind real origin servers, as a CDN would fetch them:
//!
//! - the objects directory (`objects = { dir = … }`) served by a real nginx with the
//!   repository's own `docs/nginx-objects.conf`;
//! - an S3-compatible bucket (`objects = { s3 = … }`) on a real S3 HTTP server, moto's
//!   (`python3 -m moto.server`, installed by `.ci/s3-server.sh`), which en-server writes to
//!   over the S3 REST API (`object_store`'s SigV4-signed requests; moto does not check the
//!   signatures), each object with its Content-Type and Cache-Control.
//!
//! - opt-in (`.ci/s3-server.sh --s3s-fs`), a private bucket on s3s-fs, which checks SigV4
//!   signatures: a server with a wrong secret is refused at start, one with the right secret
//!   publishes and serves phones the chain it reads back from the bucket.
//!
//! In the first two, en-server publishes batches of uploaded keys, the origin serves them with the
//! headers a CDN needs (Content-Type, Cache-Control `immutable` for batches and a short
//! `max-age` for the index), and a phone whose base URL is the origin downloads, verifies and
//! chains them and finds the uploaded keys (also through `fetch_to_dir`, what `en-sim fetch
//! --server` runs). With `EN_E2E_STORE=postgres`, a second replica that does not hold the
//! batch lock serves the chain it reads back from the bucket, and a phone verifies it there.
//!
//! Each test is skipped, saying so, when its server is not installed, unless
//! `EN_REQUIRE_ALL_TESTS` is set (`.ci/run`), when it fails instead.

mod common;

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use en_server::config::{DirSetting, ObjectsSetting, S3Setting};

/// Skips (returning `None`, after saying why) or, under `EN_REQUIRE_ALL_TESTS`, fails.
fn found_or_skip<T>(test: &str, found: Option<T>, missing: &str) -> Option<T> {
    if found.is_none() {
        assert!(
            !pg::required(),
            "{test} needs {missing}; .ci/run installs it"
        );
        eprintln!("SKIPPED {test}: {missing} is not installed");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A server process run under a watchdog shell that holds our stdin pipe and stops the server
/// with SIGTERM when the pipe closes (when this is dropped, or however the test process ends).
struct Watched {
    watchdog: Child,
    log: PathBuf,
}

impl Watched {
    /// Runs `command` (a shell command line) with its output in `log`, and waits until
    /// 127.0.0.1:`port` accepts connections.
    fn start(command: &str, log: &Path, port: u16) -> Watched {
        let script = format!(
            "{command} >{log} 2>&1 & pid=$!; cat >/dev/null; kill -TERM $pid; wait $pid",
            log = sh_quote(&log.display().to_string()),
        );
        let watchdog = Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let w = Watched {
            watchdog,
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{command} did not listen on port {port}:\n{}",
                w.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        w
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        drop(self.watchdog.stdin.take());
        let _ = self.watchdog.wait();
    }
}

/// A plain HTTP client (the origins here are plain HTTP on loopback).
fn http() -> reqwest::Client {
    en_client::transport::builder().build().unwrap()
}

/// GETs `url`: status, the named response headers, body.
async fn get(url: &str, headers: &[&str]) -> (u16, Vec<Option<String>>, bytes::Bytes) {
    let r = http().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let h = headers
        .iter()
        .map(|n| r.headers().get(*n).map(|v| v.to_str().unwrap().to_string()))
        .collect();
    (status, h, r.bytes().await.unwrap())
}

/// Uploads case reports for a few phones' keys; returns the keys acknowledged.
async fn upload(s: &mut TestServer) -> HashSet<[u8; 16]> {
    let mut uploaded = HashSet::new();
    for days in [3, 5] {
        let keys = s.keys(days);
        let report = s.case_report(keys.clone());
        let (status, body, _) = post_json(s, "/v1/cases", &TestServer::case_body(&report)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accepted_keys"], keys.len());
        uploaded.extend(keys.iter().map(|k| *k.key.as_bytes()));
    }
    uploaded
}

/// Through the origin at `base`: the headers of the index, the config and the newest batch,
/// the bytes en-server itself serves, and a phone that verifies the whole chain and finds
/// every uploaded key; then the same through `fetch_to_dir` (`en-sim fetch --server`).
async fn phone_verifies_through(s: &TestServer, base: &str, uploaded: &HashSet<[u8; 16]>) {
    let hs = ["content-type", "cache-control"];
    let octets = Some("application/octet-stream".to_string());
    let max_age = s.state.cfg.config.limits.index_cache_max_age_seconds;
    let short = Some(format!("public, max-age={max_age}"));
    for path in ["/v1/index", "/v1/config", "/v1/traces/index"] {
        let (status, h, body) = get(&format!("{base}{path}"), &hs).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(h, vec![octets.clone(), short.clone()], "{path}");
        assert!(!body.is_empty(), "{path}");
    }
    // The newest batch the server's index lists (the chain head moves just before that).
    let head = s.wait_for_batch(0).await;
    let batch_age = s.state.cfg.config.limits.batch_cache_max_age_seconds;
    let immutable = Some(format!("public, max-age={batch_age}, immutable"));
    for seq in [1, head] {
        let path = format!("/v1/batches/{seq}");
        let (status, h, body) = get(&format!("{base}{path}"), &hs).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(h, vec![octets.clone(), immutable.clone()], "{path}");
        assert_eq!(
            body,
            s.client.get(&path).await.unwrap(),
            "{path}: the same bytes"
        );
    }
    let (status, h, _) = get(&format!("{base}/v1/batches/{}", head + 1000), &hs).await;
    assert_eq!(status, 404, "a batch not yet written");
    assert_ne!(h[1], immutable, "a 404 is not cached as immutable");

    let client = en_client::transport::Client::new(base, None).unwrap();
    let mut phone = s.phone();
    let synced = en_client::fetch::sync(&client, &mut phone, now(), false)
        .await
        .unwrap();
    assert!(synced.head.unwrap() >= head, "the phone reached the head");
    assert_eq!(synced.batches[0].0.header().sequence, 1, "the whole chain");
    let published: HashSet<[u8; 16]> = synced
        .batches
        .iter()
        .flat_map(|(b, _)| b.keys().iter().map(|k| *k.key.as_bytes()))
        .collect();
    let missing = uploaded.difference(&published).count();
    assert_eq!(missing, 0, "every uploaded key reached the phone");

    let dir = tempfile::tempdir().unwrap();
    let out = en_client::fetch::fetch_to_dir(
        &client,
        s.export.clone(),
        en_protocol::wire::Region::new("VN").unwrap(),
        dir.path(),
        now(),
        false,
    )
    .await
    .unwrap();
    assert!(out.contains("verified and chained"), "{out}");
    assert!(
        dir.path().join(format!("batch-{head:08}.bin")).exists(),
        "{out}"
    );

    // The origin serves what en-server publishes next: a new batch reaches the phone.
    let next = s.wait_for_batch(synced.head.unwrap()).await;
    let more = en_client::fetch::sync(&client, &mut phone, now(), false)
        .await
        .unwrap();
    assert!(more.head.unwrap() >= next, "{:?} < {next}", more.head);
}

/// nginx: `$EN_NGINX`, `nginx` on the PATH, or Debian's `/usr/sbin/nginx`.
fn nginx_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("EN_NGINX") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

/// A real nginx serving `root` on 127.0.0.1 with `docs/nginx-objects.conf`.
fn start_nginx(bin: &Path, root: &Path, work: &Path) -> (Watched, String) {
    let port = free_port();
    let snippet = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/nginx-objects.conf");
    let w = work.display();
    // As root (CI), workers run unprivileged: they read the objects as any user could.
    let user = if is_root() {
        "user nobody nogroup;"
    } else {
        ""
    };
    let conf = format!(
        "{user}
daemon off;
worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {w}/access.log;
    client_body_temp_path {w}/client_body;
    proxy_temp_path {w}/proxy;
    fastcgi_temp_path {w}/fastcgi;
    uwsgi_temp_path {w}/uwsgi;
    scgi_temp_path {w}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        include {snippet};
    }}
}}
",
        root = root.display(),
        snippet = snippet.display(),
    );
    let conf_file = work.join("nginx.conf");
    std::fs::write(&conf_file, conf).unwrap();
    let command = [
        bin.display().to_string(),
        "-p".into(),
        w.to_string(),
        "-e".into(),
        format!("{w}/error.log"),
        "-c".into(),
        conf_file.display().to_string(),
    ]
    .iter()
    .map(|a| sh_quote(a))
    .collect::<Vec<_>>()
    .join(" ");
    let nginx = Watched::start(&command, &work.join("nginx.out"), port);
    (nginx, format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_serves_the_objects_directory_and_a_phone_verifies_through_it() {
    let test = "nginx_serves_the_objects_directory_and_a_phone_verifies_through_it";
    let Some(bin) = found_or_skip(test, nginx_binary(), "nginx (apt-get install nginx)") else {
        return;
    };
    // A directory nginx's workers may enter (temporary directories are 0700).
    let top = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(top.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let objects = top.path().join("objects");
    let mut cfg = test_config();
    cfg.objects = ObjectsSetting::Dir(DirSetting::new(&objects));
    let mut s = TestServer::start_with(cfg).await;
    let uploaded = upload(&mut s).await;
    s.wait_for_window_past(now()).await;

    let work = tempfile::tempdir().unwrap();
    let (nginx, base) = start_nginx(&bin, &objects, work.path());
    // Nothing but the API's objects.
    std::fs::write(objects.join("not-an-object"), b"x").unwrap();
    for path in [
        "/",
        "/not-an-object",
        "/v1/",
        "/v1/batches/",
        "/v1/batches/01",
    ] {
        let (status, _, _) = get(&format!("{base}{path}"), &[]).await;
        assert_eq!(status, 404, "{path}");
    }
    phone_verifies_through(&s, &base, &uploaded).await;
    let log = std::fs::read_to_string(work.path().join("access.log")).unwrap();
    assert!(
        log.contains("GET /v1/batches/1 HTTP/1.1\" 200"),
        "the phone's downloads went through nginx:\n{log}\n{}",
        nginx.log()
    );
    s.stop().await.unwrap();
}

/// moto (its Python package, with Flask): `$EN_MOTO_DIR`, or `target/moto` where
/// `.ci/s3-server.sh` installs it.
fn moto_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("EN_MOTO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/moto"));
    dir.join("moto/server.py").is_file().then_some(dir)
}

/// A real S3 HTTP server (moto) on 127.0.0.1.
fn start_moto(dir: &Path, work: &Path) -> (Watched, String) {
    let port = free_port();
    let command = format!(
        "PYTHONPATH={} exec python3 -m moto.server -H 127.0.0.1 -p {port}",
        sh_quote(&dir.display().to_string())
    );
    let moto = Watched::start(&command, &work.join("moto.log"), port);
    (moto, format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_bucket_holds_the_objects_and_a_phone_verifies_from_it() {
    let test = "an_s3_bucket_holds_the_objects_and_a_phone_verifies_from_it";
    let Some(moto) = found_or_skip(test, moto_dir(), "moto (bash .ci/s3-server.sh)") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (server, endpoint) = start_moto(&moto, work.path());
    // The bucket, readable by anyone (as a CDN's origin is; writes need credentials).
    let bucket = "en-objects";
    let r = http()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{r:?}\n{}", server.log());
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
        }],
    });
    let r = http()
        .put(format!("{endpoint}/{bucket}?policy"))
        .header("content-type", "application/json")
        .body(policy.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{r:?}\n{}", server.log());

    let secret = work.path().join("s3.secret");
    {
        // en-server refuses a secret file others may read.
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&secret)
            .unwrap();
        writeln!(f, "test-secret-key").unwrap();
    }
    let mut s3 = S3Setting::new(format!("s3://{bucket}/vn"));
    s3.endpoint = Some(endpoint.clone());
    s3.region = Some("us-east-1".into());
    s3.access_key_id = Some("test-key-id".into());
    s3.secret_access_key_file = Some(secret);
    s3.allow_http = true;
    let mut cfg = test_config();
    cfg.objects = ObjectsSetting::S3(s3);
    let mut s = TestServer::start_with(cfg).await;
    let uploaded = upload(&mut s).await;
    s.wait_for_window_past(now()).await;

    // A phone whose base URL is the bucket (a CDN's origin) verifies the chain.
    phone_verifies_through(&s, &format!("{endpoint}/{bucket}/vn"), &uploaded).await;
    // And one that downloads from en-server, which keeps only the newest 4 batches in memory:
    // with 6 or more published, it reads batch 1 back from the bucket.
    let listed = s.wait_for_batch(5).await;
    let mut phone = s.phone();
    let synced = s.sync(&mut phone).await;
    assert!(
        synced.head.unwrap() >= listed,
        "{:?} < {listed}",
        synced.head
    );
    assert_eq!(synced.batches[0].0.header().sequence, 1, "the whole chain");

    // On PostgreSQL (EN_E2E_STORE=postgres), a second replica of the same configuration does
    // not hold the batch lock: it serves what the holder published, reading the index from
    // the bucket, and a phone verifies the chain from it.
    if matches!(
        s.state.cfg.config.store,
        en_server::config::StoreSetting::Postgres(_)
    ) {
        let replica = s
            .server
            .replica(en_server::Transport::Tls, true)
            .await
            .unwrap();
        let served = s.wait_for_batch(listed).await;
        let from = en_client::transport::Client::new(&replica.url, Some(&s.ca())).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut phone = s.phone();
        let mut verified = Vec::new();
        loop {
            let got = en_client::fetch::sync(&from, &mut phone, now(), false).await;
            if let Ok(g) = &got {
                verified.extend(g.batches.iter().map(|(b, _)| b.header().sequence));
                if g.head >= Some(served) {
                    break;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the replica never served batch {served}: {:?}",
                got.err()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(verified[0], 1, "the whole chain, from the replica");
        assert_eq!(
            replica
                .state
                .metrics
                .batch_lock_held
                .load(std::sync::atomic::Ordering::Relaxed),
            0,
            "the replica follows; the first server holds the lock"
        );
        replica.stop().await.unwrap();
    }
    s.stop().await.unwrap();
    drop(server);
}

/// s3s-fs, an S3 server that checks SigV4 signatures (opt-in: `cargo install` compiles it,
/// about 4 minutes on two cores): `$EN_S3S_FS`, or `target/s3s-fs/bin/s3s-fs` where
/// `.ci/s3-server.sh --s3s-fs` installs it.
fn s3s_fs_binary() -> Option<PathBuf> {
    std::env::var_os("EN_S3S_FS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/s3s-fs/bin/s3s-fs"))
        .canonicalize()
        .ok()
        .filter(|p| p.is_file())
}

/// An S3 setting for `bucket/prefix` at `endpoint`, with a secret file (mode 0600) in `dir`.
fn s3_setting(endpoint: &str, url: &str, key_id: &str, secret: &str, dir: &Path) -> S3Setting {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let file = dir.join(format!("{key_id}-{}.secret", secret.len()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .unwrap();
    writeln!(f, "{secret}").unwrap();
    let mut s3 = S3Setting::new(url);
    s3.endpoint = Some(endpoint.into());
    s3.region = Some("us-east-1".into());
    s3.access_key_id = Some(key_id.into());
    s3.secret_access_key_file = Some(file);
    s3.allow_http = true;
    s3
}

// Opt-in (listed as ignored): CI's time budget does not cover compiling s3s-fs (~4 min).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs s3s-fs: bash .ci/s3-server.sh --s3s-fs, then cargo test -p en-e2e --test cdn -- --ignored"]
async fn a_private_bucket_checks_signatures_and_en_server_serves_from_it() {
    let bin = s3s_fs_binary()
        .expect("s3s-fs is not installed: run `bash .ci/s3-server.sh --s3s-fs` first");
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("s3");
    let bucket = "en-objects";
    std::fs::create_dir_all(root.join(bucket)).unwrap();
    let port = free_port();
    let command = [
        bin.display().to_string(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--access-key".into(),
        "en-writer".into(),
        "--secret-key".into(),
        "the-right-secret".into(),
        root.display().to_string(),
    ]
    .iter()
    .map(|a| sh_quote(a))
    .collect::<Vec<_>>()
    .join(" ");
    let server = Watched::start(&command, &work.path().join("s3s-fs.log"), port);
    let endpoint = format!("http://127.0.0.1:{port}");

    // A server with the wrong secret publishes nothing: the bucket refuses its signatures.
    let mut cfg = test_config();
    cfg.objects = ObjectsSetting::S3(s3_setting(
        &endpoint,
        &format!("s3://{bucket}/wrong"),
        "en-writer",
        "a-wrong-secret",
        work.path(),
    ));
    let started = en_server::embedded::Embedded::start(en_server::embedded::Options {
        config: cfg,
        authority: (
            AUTHORITY.into(),
            en_protocol::keys::SigningKey::from_seed(&[7; 32]).public_key(),
            Some("VN".into()),
        ),
        clock: test_clock(),
        transport: en_server::Transport::Tls,
        batch_worker: true,
        padding_seed: None,
    })
    .await;
    // It fails at start (writing the risk configuration), saying why, without the secret.
    let e = started
        .err()
        .expect("a server whose writes are refused does not start");
    let e = e.to_string();
    assert!(e.contains("SignatureDoesNotMatch"), "{e}");
    assert!(!e.contains("a-wrong-secret"), "{e}");
    assert!(
        !root.join(bucket).join("wrong").exists(),
        "a write with a bad signature landed:\n{}",
        server.log()
    );

    // With the right secret: published, and served by en-server from the bucket.
    let mut cfg = test_config();
    cfg.objects = ObjectsSetting::S3(s3_setting(
        &endpoint,
        &format!("s3://{bucket}/vn"),
        "en-writer",
        "the-right-secret",
        work.path(),
    ));
    let mut s = TestServer::start_with(cfg).await;
    let uploaded = upload(&mut s).await;
    s.wait_for_window_past(now()).await;
    // 6 batches or more: en-server reads batch 1 back from the bucket (it keeps 4 in memory).
    let listed = s.wait_for_batch(5).await;
    let mut phone = s.phone();
    let synced = s.sync(&mut phone).await;
    assert!(synced.head.unwrap() >= listed);
    assert_eq!(synced.batches[0].0.header().sequence, 1, "the whole chain");
    let published: HashSet<[u8; 16]> = synced
        .batches
        .iter()
        .flat_map(|(b, _)| b.keys().iter().map(|k| *k.key.as_bytes()))
        .collect();
    assert!(uploaded.is_subset(&published), "every uploaded key");
    // The objects are in the bucket as en-server serves them.
    let stored = std::fs::read(root.join(bucket).join("vn/v1/batches/1")).unwrap();
    assert_eq!(stored, &synced.batches[0].1[..]);
    // The bucket is private: an unsigned read is refused.
    let (status, _, _) = get(&format!("{endpoint}/{bucket}/vn/v1/batches/1"), &[]).await;
    assert_eq!(status, 403);
    s.stop().await.unwrap();
    drop(server);
}
