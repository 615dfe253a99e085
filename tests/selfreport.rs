//! Self-reports end to end (spec/self-report.md): a test-kit code is exchanged for a blinded
//! VOPRF token, the token is redeemed for a verification code of type self-report, the code
//! for a certificate through the ordinary verification flow, and the keys are published as
//! `self-report`. Every refusal is a 4xx with its stable code; a phone refuses an evaluation
//! whose proof does not verify for the key it holds.

mod common;

use common::*;
use en_api::self_report::{encode_b64, RedeemRequest, TokenRequest};
use en_api::verify::TestType;
use en_client::Error;
use en_protocol::selfreport::server::SelfReportKey;
use en_protocol::selfreport::{phone, Token};
use en_protocol::wire::ReportType;
use en_server::selfreport::kits;

async fn started() -> TestServer {
    let mut cfg = test_config();
    cfg.console.self_report_authority = AUTHORITY.into();
    let s = TestServer::start_with(cfg).await;
    s.hold_authority_key();
    s
}

async fn kit_codes(s: &TestServer, n: usize) -> Vec<String> {
    kits::create(&s.state.verification, n, now()).await.unwrap()
}

/// The error code of a refusal.
fn code_of(e: &Error) -> String {
    match e {
        Error::SelfReport(e) => e.code().to_string(),
        Error::Refused(r) => r.code.clone(),
        e => format!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kit_code_becomes_a_published_self_report() {
    let mut s = started().await;
    let kit = kit_codes(&s, 1).await.remove(0);
    let key = en_client::selfreport::public_key(&s.client).await.unwrap();
    assert_eq!(key, s.state.self_report.public_key());
    // Typed leniently: upper case, spaces for dashes.
    let typed = kit.to_uppercase().replace('-', " ");
    let token = en_client::selfreport::get_token(&s.client, &key, &typed, &mut s.rng)
        .await
        .unwrap();
    let answer = en_client::selfreport::redeem(&s.client, &token)
        .await
        .unwrap();
    assert_eq!(answer.authority, AUTHORITY);
    let keys = s.keys(5);
    let up = en_client::verify::upload_with_code(
        &s.client,
        Some(&answer.authority),
        &answer.code,
        &keys,
        &mut s.rng,
    )
    .await
    .unwrap();
    assert_eq!((up.verified, up.accepted_keys), (TestType::SelfReport, 5));
    s.wait_for_window_past(now()).await;
    let mut follower = s.phone();
    let synced = s.sync(&mut follower).await;
    let published: std::collections::BTreeMap<[u8; 16], _> = synced
        .batches
        .iter()
        .flat_map(|(b, _)| b.keys().iter().map(|k| (*k.key.as_bytes(), k.meta)))
        .collect();
    for k in &keys {
        let m = published
            .get(k.key.as_bytes())
            .expect("a self-reported key is missing");
        assert_eq!(m.report_type, ReportType::SelfReport);
    }
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_has_its_code() {
    let mut s = started().await;
    let codes = kit_codes(&s, 3).await;
    let key = en_client::selfreport::public_key(&s.client).await.unwrap();

    // A reused kit code.
    let token = en_client::selfreport::get_token(&s.client, &key, &codes[0], &mut s.rng)
        .await
        .unwrap();
    let e = en_client::selfreport::get_token(&s.client, &key, &codes[0], &mut s.rng)
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), "kit_code_used");
    // Unknown and malformed kit codes; a bad blinded element does not spend the kit code.
    let e =
        en_client::selfreport::get_token(&s.client, &key, "0000-0000-0000-0000-0000", &mut s.rng)
            .await
            .unwrap_err();
    assert_eq!(code_of(&e), "unknown_kit_code");
    let e = en_client::selfreport::get_token(&s.client, &key, "0000", &mut s.rng)
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), "malformed_kit_code");
    let bad = TokenRequest {
        kit_code: codes[1].clone(),
        blinded: encode_b64(&[0xff; 32]),
    };
    let (status, b, _) = post_json(
        &s,
        "/v1/self-report/tokens",
        &serde_json::to_value(&bad).unwrap(),
    )
    .await;
    assert_eq!(
        (status, b["error"].as_str().unwrap()),
        (400, "invalid_blinded_element")
    );

    // A wrong key: the phone refuses the evaluation (its proof is for the server's key).
    let other = SelfReportKey::generate(&mut s.rng).public_key();
    let e = en_client::selfreport::get_token(&s.client, &other, &codes[1], &mut s.rng)
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), "bad_proof");

    // A forged token, a malformed one, then a reused one.
    let mut forged = Token::from_slices(token.input.as_bytes(), &token.output).unwrap();
    forged.output[0] ^= 1;
    let e = en_client::selfreport::redeem(&s.client, &forged)
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), "invalid_self_report_token");
    let short = RedeemRequest {
        input: encode_b64(&[1; 31]),
        output: encode_b64(&[1; 64]),
    };
    let (status, b, _) = post_json(
        &s,
        "/v1/self-report/redeem",
        &serde_json::to_value(&short).unwrap(),
    )
    .await;
    assert_eq!(
        (status, b["error"].as_str().unwrap()),
        (400, "malformed_self_report_token")
    );
    en_client::selfreport::redeem(&s.client, &token)
        .await
        .unwrap();
    let e = en_client::selfreport::redeem(&s.client, &token)
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), "self_report_token_used");

    // A token of another key (a rotated one) does not verify.
    let rotated = SelfReportKey::generate(&mut s.rng);
    let (p, b) = phone::blind(&mut s.rng);
    let t = p
        .finalize(&rotated.evaluate(&mut s.rng, &b), &rotated.public_key())
        .unwrap();
    let e = en_client::selfreport::redeem(&s.client, &t)
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), "invalid_self_report_token");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_quota_bounds_self_reports_and_a_disabled_server_refuses() {
    let mut cfg = test_config();
    cfg.console.self_report_authority = AUTHORITY.into();
    cfg.console.self_report_daily_codes = 1;
    let mut s = TestServer::start_with(cfg).await;
    s.hold_authority_key();
    let codes = kit_codes(&s, 2).await;
    let key = en_client::selfreport::public_key(&s.client).await.unwrap();
    let mut tokens = Vec::new();
    for c in &codes {
        tokens.push(
            en_client::selfreport::get_token(&s.client, &key, c, &mut s.rng)
                .await
                .unwrap(),
        );
    }
    en_client::selfreport::redeem(&s.client, &tokens[0])
        .await
        .unwrap();
    let e = en_client::selfreport::redeem(&s.client, &tokens[1])
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), "self_report_quota_exceeded");
    s.stop().await.unwrap();

    let s = TestServer::start_with(test_config()).await;
    let e = en_client::selfreport::public_key(&s.client)
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), "self_report_disabled");
    s.stop().await.unwrap();
}

/// What the server can link: at issuance it sees only the kit code and the blinded element;
/// at redemption only (x, y). This checks the structural half of unlinkability: nothing the
/// server stores or answers at issuance depends on x beyond the blinded element (two phones
/// with the same input get different blinded elements, and the server's issuance answers
/// finalize to the same token), and the server's state after the issuance of a token holds
/// no entry the redemption's keyed hash of x would find (a redemption of that token succeeds
/// once: the used set had nothing for x before). The algebraic half (the blinded element is
/// uniform in the group whatever x is) is a property of the blinding, tested statistically in
/// protocol/tests/self_report_vectors.rs, not something a server test can show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuance_sees_nothing_of_the_input() {
    let mut s = started().await;
    let codes = kit_codes(&s, 2).await;
    let key = en_client::selfreport::public_key(&s.client).await.unwrap();
    let input = en_protocol::selfreport::TokenInput::from_slice(&[9; 32]).unwrap();
    let mut tokens = Vec::new();
    let mut blinded = Vec::new();
    for c in &codes {
        let (p, b) = phone::blind_input(input.clone(), &mut s.rng);
        let req = TokenRequest {
            kit_code: c.clone(),
            blinded: encode_b64(&b.to_bytes()),
        };
        let (status, a, _) = post_json(
            &s,
            "/v1/self-report/tokens",
            &serde_json::to_value(&req).unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{a}");
        let dec = |k: &str, n| en_api::self_report::decode_b64(a[k].as_str().unwrap(), n).unwrap();
        let ev = en_protocol::selfreport::Evaluation::from_slices(
            &dec("evaluated", 32),
            &dec("proof", 64),
        )
        .unwrap();
        tokens.push(p.finalize(&ev, &key).unwrap());
        blinded.push(b.to_bytes());
    }
    assert_ne!(
        blinded[0], blinded[1],
        "the same input blinds to different elements"
    );
    assert_eq!(
        tokens[0], tokens[1],
        "and both issuances give the same token"
    );
    // The used set holds nothing for x after two issuances: the first redemption succeeds,
    // the second is refused.
    en_client::selfreport::redeem(&s.client, &tokens[0])
        .await
        .unwrap();
    let e = en_client::selfreport::redeem(&s.client, &tokens[1])
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), "self_report_token_used");
    s.stop().await.unwrap();
}
