//! Several replicas on one PostgreSQL: three real `en-server` processes share a database and
//! an object directory; clients spread uploads across them while windows close; the replica
//! holding the batch lock is killed with SIGKILL mid-run, and another takes the lock and closes
//! the next windows. Every acknowledged key is published exactly once, the chain verifies on a
//! phone, and the surviving replicas serve the same chain; every acknowledged venue trace is
//! in the trace chain exactly once.
//!
//! Runs against a throwaway PostgreSQL cluster ([`common::pg`]); skipped, saying so, without
//! PostgreSQL unless `EN_REQUIRE_ALL_TESTS` is set.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::pg;
use common::*;
use en_client::transport::Client;
use en_protocol::keys::SigningKey;
use en_protocol::UnixTime;
use en_server::config::{DirSetting, ObjectsSetting, PostgresSetting, StoreSetting};
use rand_chacha::rand_core::SeedableRng;

/// System time in milliseconds.
fn system_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Not a test: the entry point of a replica process (run with `--ignored`). Its clock is the
/// parent's test clock (`EN_E2E_CLOCK_ORIGIN`: the system time in ms at which that clock read
/// noon), so that all replicas and the phone agree on the time.
#[test]
#[ignore = "entry point of the replica processes of replicas_publish_every_key_once"]
fn replica_server() {
    let dir = std::path::PathBuf::from(std::env::var("EN_E2E_CHILD_DIR").expect("dir"));
    let origin: u64 = std::env::var("EN_E2E_CLOCK_ORIGIN")
        .expect("origin")
        .parse()
        .unwrap();
    let elapsed = system_ms().saturating_sub(origin) / 1000;
    let clock = en_server::Clock::virtual_at(UnixTime(noon_today().0 + elapsed));
    let cfg = en_server::config::Config::load(&dir.join("config.toml")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ports = format!(
            "{} {}",
            public.local_addr().unwrap().port(),
            admin.local_addr().unwrap().port()
        );
        let tmp = dir.join("port.tmp");
        std::fs::write(&tmp, ports).unwrap();
        std::fs::rename(&tmp, dir.join("port")).unwrap();
        let term = async {
            let mut s =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
            s.recv().await;
        };
        let listeners = en_server::Listeners {
            public,
            admin: Some(admin),
        };
        en_server::run(cfg, listeners, en_server::Transport::Tls, clock, term)
            .await
            .unwrap();
    });
}

struct Replica {
    child: Child,
    client: Client,
    admin: Client,
}

#[allow(clippy::zombie_processes)] // the test kills and waits for every child
fn spawn_replica(dir: &Path, origin: u64) -> Replica {
    let _ = std::fs::remove_file(dir.join("port"));
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "replica_server",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("EN_E2E_CHILD_DIR", dir)
        .env("EN_E2E_CLOCK_ORIGIN", origin.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ca = dir.join("tls/cert.pem");
    loop {
        if let Ok(p) = std::fs::read_to_string(dir.join("port")) {
            let (public, admin) = p.trim().split_once(' ').unwrap();
            return Replica {
                child,
                client: Client::new(&format!("https://localhost:{public}"), Some(&ca)).unwrap(),
                admin: Client::new(&format!("https://localhost:{admin}"), Some(&ca)).unwrap(),
            };
        }
        assert!(Instant::now() < deadline, "a replica did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the replica says it holds the batch lock (`en_batch_lock_held 1`).
async fn holds_lock(r: &Replica) -> bool {
    match r.admin.get("/metrics").await {
        Ok(b) => String::from_utf8_lossy(&b)
            .lines()
            .any(|l| l.trim() == "en_batch_lock_held 1"),
        Err(_) => false,
    }
}

/// Waits until exactly one of `replicas` holds the batch lock; returns its index.
async fn lock_holder(replicas: &[&Replica]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut held = Vec::new();
        for (i, r) in replicas.iter().enumerate() {
            if holds_lock(r).await {
                held.push(i);
            }
        }
        if held.len() == 1 {
            return held[0];
        }
        assert!(held.len() < 2, "two replicas hold the batch lock: {held:?}");
        assert!(Instant::now() < deadline, "no replica took the batch lock");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What a phone gets from `client`: every published key's count, and the batches' hashes.
async fn phone_view(
    client: &Client,
    export: &en_protocol::verify::ExportKeys,
) -> Option<(HashMap<[u8; 16], usize>, Vec<(u64, [u8; 32])>)> {
    let mut phone = en_client::fetch::follower(
        export.clone(),
        en_protocol::wire::Region::new("VN").unwrap(),
    );
    // Verifies every batch's signature and the hash chain from the first batch on.
    let synced = en_client::fetch::sync(client, &mut phone, now(), false)
        .await
        .ok()?;
    let mut keys = HashMap::new();
    let mut chain = Vec::new();
    for (b, _) in &synced.batches {
        chain.push((b.header().sequence, b.header().hash));
        for k in b.keys() {
            *keys.entry(*k.key.as_bytes()).or_default() += 1;
        }
    }
    Some((keys, chain))
}

/// A signed trace report of the hour before `now` at a new venue (seeded by `seed`), and the
/// entry it traces.
fn venue_trace(authority: &SigningKey, seed: u64) -> (Vec<u8>, en_protocol::venue::TraceEntry) {
    use en_protocol::venue::{setup, SealingSecretKey};
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let sealing = SealingSecretKey::generate(&mut rng);
    let (_, secret) = setup(&mut rng, "Quán", "", &sealing.public_key()).unwrap();
    let t = now();
    let request = en_client::trace::trace_request(&secret, t.minus(3600), t).unwrap();
    let report = en_client::trace::trace_report(
        &request,
        &sealing,
        "Call 1900 9095.",
        AUTHORITY,
        "VN",
        authority,
        t,
        &mut rng,
    )
    .unwrap()
    .report;
    let registry = std::collections::BTreeMap::from([(
        en_protocol::wire::AuthorityId::new(AUTHORITY).unwrap(),
        en_protocol::verify::AuthorityInfo {
            public_key: authority.public_key(),
            region: None,
            revoked: false,
        },
    )]);
    let entries = en_protocol::venue::SignedTraceReport::decode(&report)
        .unwrap()
        .verify(&registry)
        .unwrap()
        .report()
        .entries()
        .to_vec();
    assert!(!entries.is_empty());
    (report, entries[0].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_publish_every_key_once_and_survive_the_lock_holder() {
    let Some(cluster) = pg::shared("replicas_publish_every_key_once_and_survive_the_lock_holder")
    else {
        return;
    };
    let url = cluster.create_database("replicas").unwrap();
    // The parent's clock reads noon now; the replicas take the same origin.
    let _ = now();
    let origin = system_ms();
    let tmp = tempfile::tempdir().unwrap();
    let objects = tmp.path().join("objects");
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let authority = Arc::new(SigningKey::generate(&mut rng));
    let mut cfg = test_config();
    cfg.batch_period_seconds = 2;
    cfg.min_batch_size = 5;
    cfg.authority_daily_upload_quota = 1_000_000;
    let mut pgs = PostgresSetting::new(url);
    pgs.password_file = Some("pg.password".into());
    pgs.pool_size = 8;
    cfg.store = StoreSetting::Postgres(pgs);
    cfg.objects = ObjectsSetting::Dir(DirSetting::new(&objects));
    let first = tmp.path().join("r0");
    make_data_dir(&first, &cfg, &authority);
    std::fs::copy(cluster.password_file(), first.join("pg.password")).unwrap();
    std::fs::set_permissions(
        first.join("pg.password"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    // Replicas share the replay key, the export key and the registry: copies of one data
    // directory (as an operator would provision them).
    let dirs: Vec<_> = (0..3).map(|i| tmp.path().join(format!("r{i}"))).collect();
    for d in &dirs[1..] {
        let ok = Command::new("cp")
            .arg("-a")
            .arg(&first)
            .arg(d)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
    let export = en_protocol::verify::ExportKeys::from(
        en_api::keyfile::read_signing_key(&first.join("export-keys/export-1.key"))
            .unwrap()
            .public_key(),
    );
    let mut replicas: Vec<Option<Replica>> = dirs
        .iter()
        .map(|d| Some(spawn_replica(d, origin)))
        .collect();
    let clients: Vec<Client> = replicas
        .iter()
        .map(|r| r.as_ref().unwrap().client.clone())
        .collect();

    // Six clients spread uploads across the three replicas (each tries the next replica
    // when one stops answering).
    let acked: Arc<Mutex<HashSet<[u8; 16]>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..6u64 {
        let (clients, acked, stop, authority) = (
            clients.clone(),
            acked.clone(),
            stop.clone(),
            authority.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(100 + w);
            let mut target = w as usize;
            for _ in 0..3_000 {
                if stop.load(Relaxed) {
                    break;
                }
                let (keys, report) = signed_case(&authority, 2, &mut rng);
                for _ in 0..clients.len() {
                    let c = &clients[target % clients.len()];
                    target += 1;
                    if c.post_json::<_, en_api::json::UploadAccepted>(
                        "/v1/cases",
                        &TestServer::case_body(&report),
                    )
                    .await
                    .is_ok()
                    {
                        acked
                            .lock()
                            .unwrap()
                            .extend(keys.iter().map(|k| *k.key.as_bytes()));
                        break;
                    }
                }
            }
        }));
    }

    // One client posts venue traces across the replicas meanwhile.
    let traced: Arc<Mutex<Vec<en_protocol::venue::TraceEntry>>> = Arc::default();
    {
        let (clients, traced, stop, authority) = (
            clients.clone(),
            traced.clone(),
            stop.clone(),
            authority.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for n in 0..200u64 {
                if stop.load(Relaxed) {
                    break;
                }
                let (report, entry) = venue_trace(&authority, 1000 + n);
                let body = serde_json::json!({ "report": base64::Engine::encode(&B64, &report) });
                for k in 0..clients.len() {
                    let c = &clients[(n as usize + k) % clients.len()];
                    if c.post_json::<_, serde_json::Value>("/v1/traces", &body)
                        .await
                        .is_ok()
                    {
                        traced.lock().unwrap().push(entry);
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }

    // Let uploads stream over a few windows, then kill the lock holder without warning.
    let live: Vec<&Replica> = replicas.iter().map(|r| r.as_ref().unwrap()).collect();
    let holder = lock_holder(&live).await;
    let t0 = Instant::now();
    while acked.lock().unwrap().len() < 600 && t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut dead = replicas[holder].take().unwrap();
    dead.child.kill().unwrap(); // SIGKILL
    dead.child.wait().unwrap();
    let acked_at_kill = acked.lock().unwrap().len();
    let survivors: Vec<&Replica> = replicas.iter().flatten().collect();
    assert_eq!(survivors.len(), 2);
    let before = loop {
        if let Some((_, chain)) = phone_view(&survivors[0].client, &export).await {
            break chain.last().map_or(0, |c| c.0);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Another replica takes the lock; uploads go on for a few more windows.
    lock_holder(&survivors).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let acked: HashSet<[u8; 16]> = acked.lock().unwrap().clone();
    assert!(
        acked.len() > acked_at_kill,
        "no upload was acknowledged after the kill"
    );

    // Every acknowledged key is published exactly once, on a chain that verifies; both
    // survivors serve the same chain, which grew after the kill.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (keys, chain) = loop {
        let view = phone_view(&survivors[0].client, &export).await;
        if let Some((keys, chain)) = view {
            let missing = acked.iter().filter(|k| !keys.contains_key(*k)).count();
            if missing == 0 {
                break (keys, chain);
            }
            assert!(
                Instant::now() < deadline,
                "{missing} of {} acknowledged keys are not published",
                acked.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let twice: Vec<_> = keys.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{} keys published twice", twice.len());
    assert!(
        chain.last().unwrap().0 > before,
        "no batch after the lock holder died (head {before})"
    );
    let seqs: Vec<u64> = chain.iter().map(|c| c.0).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some((_, other)) = phone_view(&survivors[1].client, &export).await {
            if other.len() >= chain.len() {
                assert_eq!(
                    other[..chain.len()],
                    chain[..],
                    "the replicas' chains differ"
                );
                break;
            }
        }
        assert!(Instant::now() < deadline, "the other survivor lags behind");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Every acknowledged trace is in the trace chain exactly once, which verifies too.
    let traced = traced.lock().unwrap().clone();
    assert!(
        traced.len() >= 10,
        "only {} traces acknowledged",
        traced.len()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let trace_batches = loop {
        let mut follower = en_client::fetch::trace_follower(
            export.clone(),
            en_protocol::wire::Region::new("VN").unwrap(),
        );
        if let Ok(synced) =
            en_client::fetch::sync_traces(&survivors[0].client, &mut follower, now(), false).await
        {
            let entries: Vec<_> = synced
                .batches
                .iter()
                .flat_map(|(b, _)| b.entries().iter().cloned())
                .collect();
            let missing = traced.iter().filter(|e| !entries.contains(e)).count();
            if missing == 0 {
                for e in &traced {
                    assert_eq!(
                        entries.iter().filter(|x| *x == e).count(),
                        1,
                        "a trace was published twice"
                    );
                }
                break synced.batches.len();
            }
            assert!(
                Instant::now() < deadline,
                "{missing} of {} acknowledged traces are not published",
                traced.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    eprintln!(
        "replicas: {} traces acknowledged, each published once in {trace_batches} trace batches",
        traced.len()
    );
    eprintln!(
        "replicas: {} keys acknowledged ({acked_at_kill} before replica {holder}, the lock \
         holder, was killed), {} published once each in batches 1..={}; head {before} at the kill",
        acked.len(),
        keys.len(),
        seqs.len()
    );
    for r in replicas.iter_mut().flatten() {
        r.child.kill().unwrap();
        r.child.wait().unwrap();
    }
}
