#![no_main]
//! `POST /v1/verify`, `POST /v1/certificate` and the back-office `POST /console/api/v1/codes`,
//! in process, against a server that holds the authority's key: no panic, never a 5xx, every
//! refusal a 4xx with a JSON error code, and neither store changes (no code was issued, so no
//! input can redeem one; fake requests change nothing).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((role, req)) = en_fuzz::verify_request_from(data) else {
        return;
    };
    let h = en_fuzz::verify_harness();
    let fingerprints = || {
        h.rt.block_on(async {
            (
                h.state.store.fingerprint().await.unwrap(),
                h.state.verification.store.fingerprint().await.unwrap(),
            )
        })
    };
    let before = fingerprints();
    let resp =
        h.rt.block_on(en_server::http::handle(h.state.clone(), role, req));
    let status = resp.status();
    assert!(!status.is_server_error(), "5xx for input {data:?}");
    if status.is_client_error() {
        let body =
            h.rt.block_on(http_body_util::BodyExt::collect(resp.into_body()))
                .unwrap()
                .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).expect("errors are JSON");
        assert!(v["error"].as_str().is_some_and(|c| !c.is_empty()) && v["message"].is_string());
    }
    assert_eq!(before, fingerprints(), "a store changed ({status})");
});
