#![no_main]
//! The server's request handling, in process, against a temporary sled store: no panic, never
//! a 5xx, junk gets a 4xx with a JSON error code, and the store is unchanged unless the
//! request was an accepted upload.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(req) = en_fuzz::request_from(data) else {
        return;
    };
    let is_upload = req.method() == hyper::Method::POST
        && matches!(
            req.uri().path(),
            "/v1/cases" | "/v1/cases/bulk" | "/v1/publish" | "/v1/traces"
        );
    let h = en_fuzz::harness();
    let before = h.rt.block_on(h.state.store.fingerprint()).unwrap();
    let role = en_fuzz::listener_of(data);
    let resp =
        h.rt.block_on(en_server::http::handle(h.state.clone(), role, req));
    let status = resp.status();
    assert!(!status.is_server_error(), "5xx for input {data:?}");
    let after = h.rt.block_on(h.state.store.fingerprint()).unwrap();
    if status.is_client_error() {
        let body =
            h.rt.block_on(http_body_util::BodyExt::collect(resp.into_body()))
                .unwrap()
                .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).expect("errors are JSON");
        assert!(v["error"].as_str().is_some_and(|c| !c.is_empty()) && v["message"].is_string());
    }
    if !(is_upload && status == hyper::StatusCode::OK) {
        assert_eq!(
            before, after,
            "store changed by a request that was not an accepted upload ({status})"
        );
    }
});
