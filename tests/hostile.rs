//! Hostile HTTP against the real server over TLS: slow and truncated requests, oversized
//! bodies, floods of idle connections. Each gets its 4xx or a closed connection, the server
//! keeps serving others, memory stays bounded, and nothing is stored.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn connector(s: &TestServer) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    for c in CertificateDer::pem_file_iter(s.ca()).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

fn port(s: &TestServer) -> u16 {
    s.url.rsplit(':').next().unwrap().parse().unwrap()
}

async fn tls(s: &TestServer) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port(s))).await.unwrap();
    connector(s)
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

/// Reads until the server closes; returns what it sent.
async fn read_to_close(
    c: &mut tokio_rustls::client::TlsStream<TcpStream>,
    limit: Duration,
) -> Option<String> {
    let mut buf = Vec::new();
    match tokio::time::timeout(limit, c.read_to_end(&mut buf)).await {
        Ok(_) => Some(String::from_utf8_lossy(&buf).into_owned()),
        Err(_) => None,
    }
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap()
}

fn fd_limit() -> usize {
    let s = std::fs::read_to_string("/proc/self/limits").unwrap();
    s.lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

async fn healthy(s: &TestServer) {
    assert_eq!(s.client.get("/healthz").await.unwrap().as_ref(), b"ok\n");
}

async fn metric(s: &TestServer, name: &str) -> u64 {
    let m = String::from_utf8(s.admin.get("/metrics").await.unwrap().to_vec()).unwrap();
    m.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_truncated_requests() {
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600;
    let s = TestServer::start_with(cfg).await; // header timeout 2 s, request timeout 3 s
    let before = s.fingerprint().await;

    // Headers trickled a byte every 300 ms: the connection is closed at the header timeout.
    let mut c = tls(&s).await;
    let t0 = Instant::now();
    let head = b"POST /v1/cases HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n";
    let mut closed = false;
    for b in head {
        if c.write_all(&[*b]).await.is_err() || c.flush().await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        if t0.elapsed() > Duration::from_secs(8) {
            break;
        }
    }
    if !closed {
        let r = read_to_close(&mut c, Duration::from_secs(5)).await;
        assert!(r.is_some(), "a slow-header client kept its connection");
    }
    assert!(
        t0.elapsed() < Duration::from_secs(8),
        "slow headers held the connection for {:?}",
        t0.elapsed()
    );
    healthy(&s).await;

    // Body trickled: 408 at the request timeout.
    let mut c = tls(&s).await;
    let t0 = Instant::now();
    c.write_all(b"POST /v1/cases HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{").await.unwrap();
    c.flush().await.unwrap();
    let trickle = async {
        for _ in 0..40 {
            if c.write_all(b" ").await.is_err() || c.flush().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let resp = trickle.await;
    assert!(resp.starts_with("HTTP/1.1 408"), "slow body: {resp:?}");
    assert!(resp.contains("request_timeout"));
    assert!(t0.elapsed() < Duration::from_secs(7));

    // Truncated body: the client promises 1000 bytes, sends 10 and closes its side.
    let mut c = tls(&s).await;
    c.write_all(b"POST /v1/cases HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"report\":").await.unwrap();
    c.flush().await.unwrap();
    let _ = c.shutdown().await; // TLS close_notify + FIN
    let r = read_to_close(&mut c, Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert!(
        r.is_empty() || r.starts_with("HTTP/1.1 400"),
        "truncated body: {r:?}"
    );

    // Declared oversized body: 413 before reading it.
    let mut c = tls(&s).await;
    c.write_all(b"POST /v1/publish HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n").await.unwrap();
    c.flush().await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let resp = String::from_utf8_lossy(&buf[..n]);
    assert!(
        resp.starts_with("HTTP/1.1 413") && resp.contains("body_too_large"),
        "{resp}"
    );

    // Chunked body that grows past the cap: 413.
    let mut c = tls(&s).await;
    c.write_all(b"POST /v1/cases HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").await.unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, "A".repeat(16 * 1024));
    for _ in 0..6 {
        if c.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = c.flush().await;
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    let resp = String::from_utf8_lossy(&buf[..n]);
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");

    // Garbage instead of HTTP: the connection is closed (400 or plain close).
    let mut c = tls(&s).await;
    c.write_all(b"\x00\x01\x02 NOT HTTP\r\n\r\n").await.unwrap();
    c.flush().await.unwrap();
    let r = read_to_close(&mut c, Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 400"), "{r:?}");

    healthy(&s).await;
    assert_eq!(
        s.fingerprint().await,
        before,
        "hostile requests stored something"
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_flood_is_bounded() {
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600;
    cfg.limits.tls_handshake_timeout_seconds = 2;
    cfg.limits.max_connections = 4096;
    let s = TestServer::start_with(cfg).await;
    let before = s.fingerprint().await;
    healthy(&s).await;
    let n = 1500.min(fd_limit().saturating_sub(300) / 2);
    let rss0 = rss_kib();
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        match TcpStream::connect(("127.0.0.1", port(&s))).await {
            Ok(c) => idle.push(c),
            Err(_) => break,
        }
    }
    assert!(
        idle.len() >= n / 2,
        "could only open {} connections",
        idle.len()
    );
    // Others are still served while the idle connections are open.
    tokio::time::sleep(Duration::from_millis(300)).await;
    healthy(&s).await;
    let open = metric(&s, "en_open_connections").await;
    assert!(
        open as usize >= idle.len() / 2,
        "open connections gauge: {open}"
    );
    let grown_mib = rss_kib().saturating_sub(rss0) / 1024;
    assert!(
        grown_mib < 64,
        "memory grew by {grown_mib} MiB for {} idle connections",
        idle.len()
    );
    // Idle connections that never complete a TLS handshake are dropped at the handshake timeout.
    let t0 = Instant::now();
    loop {
        let open = metric(&s, "en_open_connections").await;
        if open <= 2 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{open} idle connections still open after {:?}",
            t0.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(idle);
    healthy(&s).await;
    assert_eq!(s.fingerprint().await, before);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_closed() {
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600;
    cfg.limits.tls_handshake_timeout_seconds = 2;
    cfg.limits.max_connections = 100;
    let s = TestServer::start_with(cfg).await;
    let mut idle = Vec::new();
    for _ in 0..150 {
        idle.push(TcpStream::connect(("127.0.0.1", port(&s))).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The ones past the limit were closed at once: reading gives EOF (or a reset).
    let mut closed = 0;
    for c in idle.iter_mut() {
        let mut b = [0u8; 1];
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(20), c.read(&mut b)).await {
            if matches!(r, Ok(0) | Err(_)) {
                closed += 1;
            }
        }
    }
    assert!(
        closed >= 45,
        "only {closed} of 50 excess connections were closed"
    );
    // After the handshake timeout frees the slots, service resumes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    healthy(&s).await;
    assert!(metric(&s, "en_connections_refused_total").await >= 45);
    drop(idle);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_their_answers_are_cut_off() {
    // Clients that pipeline requests and never read the answers: once their socket buffers
    // are full, the server's writes stall; the write deadline closes them, so they cannot keep
    // the connection slots (before, they held every slot for as long as they liked).
    let mut cfg = test_config();
    cfg.batch_period_seconds = 2;
    cfg.min_batch_size = 20_000; // ~350 KB batches: a few answers fill the buffers
    cfg.limits.max_connections = 6;
    cfg.limits.write_timeout_seconds = 2;
    let s = TestServer::start_with(cfg).await;
    let seq = s.wait_for_batch(0).await;
    let request = format!("GET /v1/batches/{seq} HTTP/1.1\r\nHost: localhost\r\n\r\n").repeat(200);
    let mut hogs = Vec::new();
    for _ in 0..5 {
        let mut c = tls(&s).await;
        let req = request.clone();
        hogs.push(tokio::spawn(async move {
            // Writes until the server stops reading (or closes); never reads.
            let _ = c.write_all(req.as_bytes()).await;
            let _ = c.flush().await;
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(c);
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t0 = Instant::now();
    loop {
        let open = metric(&s, "en_open_connections").await;
        if open <= 2 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(8),
            "{open} connections still held by clients that never read, after {:?}",
            t0.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(metric(&s, "en_write_timeouts_total").await >= 5);
    healthy(&s).await;
    for h in hogs {
        h.abort();
    }
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_flight_are_bounded() {
    // One unauthenticated client starts a 1 MiB bulk body and trickles it: it holds the
    // whole budget, so another body is refused at once with 503 (instead of every connection
    // making the server buffer a full body).
    let mut cfg = test_config();
    cfg.batch_period_seconds = 3600;
    cfg.limits.request_timeout_seconds = 30;
    cfg.limits.max_bodies_in_flight_bytes = cfg.limits.max_bulk_body_bytes;
    let s = TestServer::start_with(cfg).await;
    let before = s.fingerprint().await;
    let mut hog = tls(&s).await;
    let head = format!(
        "POST /v1/cases/bulk HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"reports\": [\"",
        s.state.cfg.config.limits.max_bulk_body_bytes
    );
    hog.write_all(head.as_bytes()).await.unwrap();
    hog.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, b, _) = post_json(&s, "/v1/cases", &serde_json::json!({"report": "AAAA"})).await;
    assert_eq!(
        (status, b["error"].as_str()),
        (503, Some("server_busy")),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().ends_with('.'));
    // The budget comes back when the hog goes.
    drop(hog);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, b, _) = post_json(&s, "/v1/cases", &serde_json::json!({"report": "AAAA"})).await;
    assert_eq!(
        (status, b["error"].as_str()),
        (400, Some("malformed_report")),
        "{b}"
    );
    assert_eq!(s.fingerprint().await, before);
    s.stop().await.unwrap();
}
