//! A GET on a kept-alive connection that the server closes just as it is reused (its idle
//! limit reached at that moment) is sent again on a new connection instead of failing: the
//! race that made an end-to-end test fail once with "connection reset by peer" (the tests'
//! servers close idle connections after 2 s).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use en_client::transport::Client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok";

/// Reads one request head (the GETs here have no body).
async fn read_head(s: &mut tokio::net::TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut byte).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&byte[..n]),
        }
    }
    true
}

/// A server whose first connection answers one request, then reads the second one and
/// closes without answering (what a server closing an idle connection looks like to a client
/// that reused it at that moment); every later connection answers normally.
async fn closing_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if n == 0 {
                    if read_head(&mut s).await {
                        s.write_all(ANSWER).await.unwrap();
                    }
                    // The reused connection: the request arrives, the server closes.
                    read_head(&mut s).await;
                    drop(s);
                } else {
                    while read_head(&mut s).await {
                        if s.write_all(ANSWER).await.is_err() {
                            break;
                        }
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), connections)
}

#[tokio::test]
async fn a_get_on_a_connection_closed_as_it_was_reused_is_sent_again() {
    let (url, connections) = closing_server().await;
    let client = Client::new(&url, None).unwrap();
    assert_eq!(&client.get("/a").await.unwrap()[..], b"ok");
    // Reuses the kept-alive connection, which the server closes: sent again on a new one.
    assert_eq!(&client.get("/b").await.unwrap()[..], b"ok");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_connection_is_not_retried_and_says_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::new(&format!("http://{addr}"), None).unwrap();
    let e = client.get("/a").await.unwrap_err();
    assert!(matches!(e, en_client::Error::Unreachable { .. }), "{e:?}");
}
