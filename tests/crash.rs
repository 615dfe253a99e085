//! Durability: the real server runs in a child process; it is killed with SIGKILL during a
//! stream of uploads, restarted on the same data directory, and every upload it had
//! acknowledged must appear in the published batches, and no upload may appear in part. Then
//! SIGTERM stops it cleanly (exit 0).

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use en_client::transport::Client;
use en_protocol::keys::SigningKey;
use rand_chacha::rand_core::SeedableRng;

/// Not a test: the entry point of the child server process (run with `--ignored`).
#[test]
#[ignore = "entry point of the child server process used by sigkill_loses_no_acknowledged_upload"]
fn child_server() {
    let dir =
        std::path::PathBuf::from(std::env::var("EN_E2E_CHILD_DIR").expect("EN_E2E_CHILD_DIR"));
    let cfg = en_server::config::Config::load(&dir.join("config.toml")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tmp = dir.join("port.tmp");
        std::fs::write(&tmp, public.local_addr().unwrap().port().to_string()).unwrap();
        std::fs::rename(&tmp, dir.join("port")).unwrap();
        let term = async {
            let mut s =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
            s.recv().await;
        };
        let listeners = en_server::Listeners {
            public,
            admin: None,
        };
        en_server::run(
            cfg,
            listeners,
            en_server::Transport::Tls,
            test_clock(),
            term,
        )
        .await
        .unwrap();
    });
}

#[allow(clippy::zombie_processes)] // the caller kills and waits for the child
fn spawn_child(dir: &Path) -> (Child, u16) {
    let _ = std::fs::remove_file(dir.join("port"));
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_server",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("EN_E2E_CHILD_DIR", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(p) = std::fs::read_to_string(dir.join("port")) {
            return (child, p.trim().parse().unwrap());
        }
        assert!(Instant::now() < deadline, "child server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_upload() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(42);
    let authority = Arc::new(SigningKey::generate(&mut rng));
    let mut cfg = test_config();
    cfg.batch_period_seconds = 2;
    cfg.min_batch_size = 5;
    cfg.authority_daily_upload_quota = 1_000_000;
    make_data_dir(&dir, &cfg, &authority);
    let export = en_protocol::verify::ExportKeys::from(
        en_api::keyfile::read_signing_key(&dir.join("export-keys/export-1.key"))
            .unwrap()
            .public_key(),
    );
    let ca = dir.join("tls/cert.pem");

    let (mut child, port) = spawn_child(&dir);
    let client = Client::new(&format!("https://localhost:{port}"), Some(&ca)).unwrap();
    let acked: Arc<Mutex<Vec<[u8; 16]>>> = Arc::default();
    let sent: Arc<Mutex<Vec<Vec<[u8; 16]>>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..4u64 {
        let (client, acked, sent, stop, authority) = (
            client.clone(),
            acked.clone(),
            sent.clone(),
            stop.clone(),
            authority.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(100 + w);
            // Bounded: at most 2,000 uploads per worker, or until told to stop.
            for _ in 0..2_000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let (keys, report) = signed_case(&authority, 2, &mut rng);
                sent.lock()
                    .unwrap()
                    .push(keys.iter().map(|k| *k.key.as_bytes()).collect());
                match client
                    .post_json::<_, en_api::json::UploadAccepted>(
                        "/v1/cases",
                        &TestServer::case_body(&report),
                    )
                    .await
                {
                    Ok(_) => acked
                        .lock()
                        .unwrap()
                        .extend(keys.iter().map(|k| *k.key.as_bytes())),
                    Err(_) => break, // the server died under us: this upload was never acknowledged
                }
            }
        }));
    }
    // Let uploads stream, then kill without warning.
    let t0 = Instant::now();
    while acked.lock().unwrap().len() < 400 && t0.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let acked: HashSet<[u8; 16]> = acked.lock().unwrap().iter().copied().collect();
    assert!(
        acked.len() >= 400,
        "only {} keys acknowledged before the kill",
        acked.len()
    );

    // Restart on the same directory; the acknowledged keys must all be published.
    let (mut child, port) = spawn_child(&dir);
    let client = Client::new(&format!("https://localhost:{port}"), Some(&ca)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (missing, published) = loop {
        let mut phone = en_client::fetch::follower(
            export.clone(),
            en_protocol::wire::Region::new("VN").unwrap(),
        );
        let synced = en_client::fetch::sync(&client, &mut phone, now(), false)
            .await
            .unwrap();
        let all: Vec<[u8; 16]> = synced
            .batches
            .iter()
            .flat_map(|(b, _)| b.keys().iter().map(|k| *k.key.as_bytes()))
            .collect();
        let published: HashSet<[u8; 16]> = all.iter().copied().collect();
        assert_eq!(published.len(), all.len(), "a key was published twice");
        let missing = acked.iter().filter(|k| !published.contains(*k)).count();
        if missing == 0 || Instant::now() > deadline {
            break (missing, published);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged keys were lost",
        acked.len()
    );
    // Uploads in flight at the kill may or may not have been stored, but never in part: each
    // upload's keys (all released in the same window) are published all together or not at all.
    for keys in sent.lock().unwrap().iter() {
        let n = keys.iter().filter(|k| published.contains(*k)).count();
        assert!(
            n == 0 || n == keys.len(),
            "an upload was stored in part ({n} of {})",
            keys.len()
        );
    }

    // SIGTERM: stop accepting, finish, flush, exit 0.
    let status = Command::new("sh") // the shell builtin: no dependency on procps
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(code.success(), "exit status after SIGTERM: {code}");
}
