//! What the server's own integration tests share.
#![allow(dead_code)]

// The throwaway PostgreSQL cluster, shared with the end-to-end tests and the benchmarks.
#[path = "../../../tests/common/pg.rs"]
pub mod pg;
pub mod store;

use en_protocol::keys::SigningKey;
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::ReportType;
use en_protocol::UnixTime;
use rand::SeedableRng;

/// The authority the tests register.
pub const AUTHORITY: &str = "moh.vn";

/// Whether a test that needs an external tool must fail rather than skip when it is missing:
/// `.ci/run` sets `EN_REQUIRE_ALL_TESTS=1`, so CI never skips.
pub fn tool_or_skip(tool: &str, test: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("EN_REQUIRE_ALL_TESTS").is_none(),
            "{test} needs `{tool}` (apt-get install {tool}); .ci/run installs it"
        );
        eprintln!("SKIPPED {test}: `{tool}` is not installed (apt-get install {tool})");
    }
    found
}

/// Keys of the `days` days before `now` and a confirmed case report for them.
pub fn signed_case(
    authority: &SigningKey,
    days: u32,
    now: UnixTime,
    seed: u64,
) -> (Vec<UploadKey>, Vec<u8>) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let keys = en_client::phone::phone_keys(days, now, &mut rng);
    let report = en_client::authority::case_report(
        AUTHORITY,
        "VN",
        authority,
        keys.clone(),
        ReportType::ConfirmedTest,
        None,
        now,
        &mut rng,
    )
    .unwrap();
    (keys, report)
}

/// The JSON body of `POST /v1/cases`.
pub fn case_body(report: &[u8]) -> Vec<u8> {
    use base64::Engine;
    serde_json::to_vec(&serde_json::json!({
        "report": base64::engine::general_purpose::STANDARD.encode(report)
    }))
    .unwrap()
}

/// 12:00 UTC today: uploads made then have yesterday's key out of its embargo.
pub fn noon() -> UnixTime {
    let t = en_client::now().0;
    UnixTime(t - t % 86_400 + 12 * 3600)
}
