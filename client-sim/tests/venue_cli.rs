//! The venue commands of `en-sim`, as a venue owner, two phones and a health authority use
//! them against a real server (in process, over TLS, on the system clock): the QR code is read
//! back from the PNG, the authority traces with the owner's trace request, `en-sim fetch`
//! follows the trace chain, and only the phone that was there in the traced hour is notified.
//! Bad arguments are one-line errors with exit status 2, failures with exit status 1.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use en_protocol::keys::SigningKey;
use en_server::embedded::{Embedded, Options};
use en_server::{Clock, Transport};

fn en_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_en-sim"))
        .args(args)
        .output()
        .expect("run en-sim")
}

/// Runs `args`, requires success, returns stdout.
fn ok(args: &[&str]) -> String {
    let out = en_sim(args);
    assert!(
        out.status.success(),
        "en-sim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `args`, requires exit status `code` and a one-line error; returns stderr.
fn fails(args: &[&str], code: i32) -> String {
    let out = en_sim(args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(code), "en-sim {args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn owner_phones_and_authority_through_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let p = |f: &str| d.path().join(f).to_str().unwrap().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let authority = SigningKey::from_seed(&[3; 32]);
    en_api::keyfile::write_signing_key(d.path().join("ha.key").as_path(), &authority).unwrap();
    let mut config = en_server::config::Config::default();
    config.batch_period_seconds = 2;
    config.min_trace_batch_size = 10;
    let server = rt
        .block_on(Embedded::start(Options {
            config,
            authority: ("moh.vn".into(), authority.public_key(), Some("VN".into())),
            clock: Clock::system(),
            transport: Transport::Tls,
            batch_worker: true,
            padding_seed: None,
        }))
        .unwrap();
    let (url, ca) = (
        server.url.clone(),
        server.ca().to_str().unwrap().to_string(),
    );
    let export = server.state.export_public_keys[0].to_hex();

    // The authority's sealing key; the owner creates the venue with its public key.
    let sealing_pub = ok(&["authority", "sealing-keygen", "--out", &p("ha.sealing")]);
    assert_eq!(sealing_pub.trim().len(), 64);
    assert_eq!(mode(&d.path().join("ha.sealing")), 0o600);
    let out = ok(&[
        "venue",
        "create",
        "--name",
        "Café Lâm",
        "--address",
        "60 Nguyễn Du",
        "--authority-key",
        &p("ha.sealing.pub"),
        "--out",
        &p("cafe"),
    ]);
    assert!(out.contains("tracing.secret"), "{out}");
    assert_eq!(mode(&d.path().join("cafe/tracing.secret")), 0o600);
    let poster = std::fs::read_to_string(d.path().join("cafe/poster.svg")).unwrap();
    assert!(poster.contains("Café Lâm") && poster.contains("Not recorded"));
    ok(&[
        "venue",
        "create",
        "--name",
        "Phở 24",
        "--authority-key",
        sealing_pub.trim(),
        "--out",
        &p("pho"),
    ]);

    // Phone A at the café 40 minutes, about three hours ago (scanning the PNG, then the URL file);
    // phone B at the phở shop at the same time.
    let now = en_client::now().0;
    let hour = (now - 3 * 3600) / 3600 * 3600;
    let t1 = hour + 600; // xx:10 to xx:50, inside one hour
    let (t1s, t2s) = (t1.to_string(), (t1 + 2400).to_string());
    let out = ok(&[
        "phone",
        "checkin",
        "--state",
        &p("a.state"),
        "--qr",
        &p("cafe/entry-qr.png"),
        "--at",
        &t1s,
    ]);
    assert!(out.contains("checked in at \"Café Lâm\""), "{out}");
    let out = ok(&[
        "phone",
        "checkin",
        "--state",
        &p("a.state"),
        "--payload",
        &p("cafe/entry-url.txt"),
        "--at",
        &t2s,
    ]);
    assert!(out.contains("checked out"), "{out}");
    let pho_url = std::fs::read_to_string(d.path().join("pho/entry-url.txt")).unwrap();
    ok(&[
        "phone",
        "checkin",
        "--state",
        &p("b.state"),
        "--payload",
        pho_url.trim(),
        "--at",
        &t1s,
    ]);
    let out = ok(&["phone", "venues", "--state", &p("b.state"), "--at", &t2s]);
    assert!(out.contains("checked in at \"Phở 24\""), "{out}");
    ok(&["phone", "checkout", "--state", &p("b.state"), "--at", &t2s]);
    let out = ok(&["phone", "venues", "--state", &p("a.state"), "--at", &t2s]);
    assert!(
        out.contains("not checked in") && !out.contains("Café"),
        "{out}"
    );
    assert_eq!(mode(&d.path().join("a.state")), 0o600);

    // The owner's trace request for that hour; the authority traces with it.
    let (from, to) = (hour.to_string(), (hour + 3600).to_string());
    ok(&[
        "venue",
        "trace-request",
        "--tracing-secret",
        &p("cafe/tracing.secret"),
        "--from",
        &from,
        "--to",
        &to,
        "--out",
        &p("cafe.request"),
    ]);
    assert_eq!(mode(&d.path().join("cafe.request")), 0o600);
    let out = ok(&[
        "authority",
        "trace",
        "--request",
        &p("cafe.request"),
        "--message",
        "Bạn đã đến Café Lâm lúc có ca bệnh. Gọi 1900 9095.",
        "--sealing-key",
        &p("ha.sealing"),
        "--authority",
        "moh.vn",
        "--key",
        &p("ha.key"),
        "--server",
        &url,
        "--ca",
        &ca,
    ]);
    assert!(out.contains("traced \"Café Lâm\" for 1 hour"), "{out}");

    // A phone fetches both chains once the trace batch is out, and matches.
    let state = server.state.clone();
    rt.block_on(async {
        for _ in 0..100 {
            let pending = state.store.pending_traces().await.unwrap().reports;
            if pending == 0 && state.store.trace_head().await.unwrap().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no trace batch within 10 s");
    });
    std::thread::sleep(Duration::from_millis(300)); // the index that lists it
    let out = ok(&[
        "fetch",
        "--server",
        &url,
        "--ca",
        &ca,
        "--out",
        &p("dl"),
        "--public-key",
        &export,
    ]);
    assert!(out.contains("venue trace batch(es)"), "{out}");
    let out = ok(&[
        "phone",
        "venue-notifications",
        "--state",
        &p("a.state"),
        "--batches",
        &p("dl"),
        "--public-key",
        &export,
    ]);
    assert!(
        out.contains("VENUE NOTIFICATION") && out.contains("40 min"),
        "{out}"
    );
    assert!(out.contains("Gọi 1900 9095."), "{out}");
    let out = ok(&[
        "phone",
        "venue-notifications",
        "--state",
        &p("b.state"),
        "--batches",
        &p("dl"),
        "--public-key",
        &export,
    ]);
    assert!(out.starts_with("no venue notification"), "{out}");

    // Refusals: the same venue directory again, another app's code, a secret where a public
    // key belongs, a trace without its span, a missing argument.
    fails(
        &[
            "venue",
            "create",
            "--name",
            "X",
            "--authority-key",
            sealing_pub.trim(),
            "--out",
            &p("cafe"),
        ],
        1,
    );
    let e = fails(
        &[
            "phone",
            "checkin",
            "--state",
            &p("c.state"),
            "--payload",
            "https://evil.example/v#RU5WUQ",
        ],
        1,
    );
    assert!(e.contains("venue.example"), "{e}");
    let e = fails(
        &[
            "venue",
            "create",
            "--name",
            "X",
            "--authority-key",
            &p("ha.sealing"),
            "--out",
            &p("x"),
        ],
        1,
    );
    assert!(e.contains("secret sealing key"), "{e}");
    fails(
        &[
            "authority",
            "trace",
            "--tracing-secret",
            &p("cafe/tracing.secret"),
            "--message",
            "m",
            "--sealing-key",
            &p("ha.sealing"),
            "--authority",
            "moh.vn",
            "--key",
            &p("ha.key"),
            "--server",
            &url,
        ],
        2,
    );
    fails(&["phone", "checkin", "--state", &p("c.state")], 2);
    fails(
        &[
            "phone",
            "checkin",
            "--state",
            &p("c.state"),
            "--payload",
            "x",
            "--at",
            "soon",
        ],
        2,
    );
    rt.block_on(server.stop()).unwrap();
}
