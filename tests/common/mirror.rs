//! A plain-HTTP server on loopback that answers GETs from a map the test rewrites: a hostile
//! mirror, or a peer that serves whatever the test forged.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// A plain-HTTP server answering GETs from a map that the test rewrites.
pub struct Mirror {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    files: Arc<Mutex<HashMap<String, Bytes>>>,
}

impl Mirror {
    /// Starts serving an empty map.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let files: Arc<Mutex<HashMap<String, Bytes>>> = Arc::default();
        let f = files.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let f = f.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let body = f.lock().unwrap().get(req.uri().path()).cloned();
                            async move {
                                let mut r = hyper::Response::new(http_body_util::Full::new(
                                    body.clone().unwrap_or_default(),
                                ));
                                if body.is_none() {
                                    *r.status_mut() = hyper::StatusCode::NOT_FOUND;
                                }
                                Ok::<_, Infallible>(r)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        Mirror { url, files }
    }

    /// Serves `b` at `path` from now on.
    pub fn put(&self, path: &str, b: impl Into<Bytes>) {
        self.files.lock().unwrap().insert(path.into(), b.into());
    }

    /// A client of the mirror.
    pub fn client(&self) -> en_client::transport::Client {
        en_client::transport::Client::new(&self.url, None).unwrap()
    }
}
