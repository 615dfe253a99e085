//! "A 2xx means on stable storage", checked against the kernel: a successful upload is
//! followed by an `fsync` of sled's log (sled itself only calls `sync_file_range`, which
//! reaches neither the drive's cache nor the file's metadata), and a commit that fails after
//! the write answers a 5xx that says the upload may be stored — and the retry of the same
//! request is then answered as stored, exactly once.

mod support;

use std::io::{BufRead, BufReader, Read, Seek};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use en_protocol::keys::SigningKey;
use support::*;

#[test]
fn an_accepted_upload_is_fsynced() {
    if !tool_or_skip("strace", "an_accepted_upload_is_fsynced") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let exe = env!("CARGO_BIN_EXE_en-server");
    let authority = SigningKey::from_seed(&[3; 32]);
    let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
    ok(Command::new(exe)
        .args(["init", "--dir"])
        .arg(&dir)
        .stdout(Stdio::null()));
    ok(Command::new(exe)
        .args([
            "authority",
            "add",
            AUTHORITY,
            "--region",
            "VN",
            "--public-key",
        ])
        .arg(authority.public_key().to_hex())
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null()));
    let log = tmp.path().join("strace.log");
    let mut child = Command::new("strace")
        .args([
            "-f",
            "-y",
            "-qq",
            "-e",
            "trace=fsync,fdatasync,sync_file_range",
            "-o",
        ])
        .arg(&log)
        .arg(exe)
        .args([
            "serve",
            "--insecure-http",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--dir",
        ])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // Its own process group, so that SIGTERM reaches the server and not only strace.
        .process_group(0)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening on ADDR")
        .to_string();
    // Everything the server synced while starting is before this point in the log.
    std::thread::sleep(Duration::from_millis(300));
    let start = std::fs::metadata(&log).unwrap().len();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_, report) = signed_case(&authority, 2, en_client::now(), 1);
    let status = rt.block_on(async {
        reqwest_status(&format!("http://{addr}/v1/cases"), case_body(&report)).await
    });
    assert_eq!(status, 200);
    // The syscalls made between the upload and its answer.
    let mut f = std::fs::File::open(&log).unwrap();
    f.seek(std::io::SeekFrom::Start(start)).unwrap();
    let mut after = String::new();
    f.read_to_string(&mut after).unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .status();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        child.try_wait().unwrap().is_some(),
        "the server did not stop on SIGTERM"
    );
    let log_of = |name: &str| after.lines().filter(|l| l.contains(name)).count();
    assert!(
        after
            .lines()
            .any(|l| l.contains("fsync(") && l.contains("/db/db>")),
        "no fsync of the sled log after an accepted upload; syscalls seen:\n{after}"
    );
    eprintln!(
        "after one upload: {} fsync, {} sync_file_range",
        log_of("fsync("),
        log_of("sync_file_range(")
    );
}

async fn reqwest_status(url: &str, body: Vec<u8>) -> u16 {
    let client =
        en_client::transport::Client::new(url.rsplit_once("/v1/").unwrap().0, None).unwrap();
    match client
        .post_raw::<serde_json::Value>("/v1/cases", body)
        .await
    {
        Ok(_) => 200,
        Err(en_client::Error::Refused(r)) => r.status,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_says_the_upload_may_be_stored_and_the_retry_is_answered_once() {
    let authority = SigningKey::from_seed(&[4; 32]);
    let mut config = en_server::config::Config::default();
    config.batch_period_seconds = 3600;
    let clock = en_server::Clock::virtual_at(noon());
    let server = en_server::embedded::Embedded::start(en_server::embedded::Options {
        config,
        authority: (AUTHORITY.into(), authority.public_key(), Some("VN".into())),
        clock: clock.clone(),
        transport: en_server::Transport::InsecureHttp,
        batch_worker: false,
        padding_seed: None,
    })
    .await
    .unwrap();
    let client = en_client::transport::Client::new(&server.url, None).unwrap();
    let (keys, report) = signed_case(&authority, 3, clock.now(), 2);
    // Make the commit's fsync fail: the log file is not where the committer opens it (sled
    // keeps its own descriptor, so the write itself succeeds).
    let db = server.dir.path().join("db");
    std::fs::rename(db.join("db"), db.join("db.aside")).unwrap();
    let e = client
        .post_raw::<serde_json::Value>("/v1/cases", case_body(&report))
        .await
        .unwrap_err();
    let en_client::Error::Refused(r) = e else {
        panic!("{e}")
    };
    assert_eq!((r.status, r.code.as_str()), (500, "storage_error"));
    assert!(
        r.message.contains("may have been stored")
            && r.message.contains("Send the same request again"),
        "the answer must not claim that nothing was stored: {}",
        r.message
    );
    std::fs::rename(db.join("db.aside"), db.join("db")).unwrap();
    // The retry: answered as stored (not 409), and the keys are stored once.
    let v: serde_json::Value = client
        .post_raw("/v1/cases", case_body(&report))
        .await
        .unwrap();
    assert_eq!(v["accepted_keys"], 3);
    let pending = server.state.store.pending_count().await.unwrap();
    assert_eq!(pending, keys.len(), "stored exactly once");
    server.stop().await.unwrap();
}
