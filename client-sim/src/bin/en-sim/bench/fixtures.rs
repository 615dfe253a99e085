//! What the server measurements share: an in-process server (the one embedded helper) with a
//! registered authority, and pending keys filled the honest way: case reports signed by the
//! authority, verified and accepted by `en-protocol`, stored through the `Store` trait.

use std::collections::BTreeMap;

use en_protocol::accept::AcceptedUpload;
use en_protocol::keys::{SigningKey, TemporaryExposureKey};
use en_protocol::verify::AuthorityInfo;
use en_protocol::wire::case_report::{CaseReport, SignedCaseReport};
use en_protocol::wire::key::UploadKey;
use en_protocol::wire::{AuthorityId, Region, ReportType};
use en_protocol::{IntervalNumber, UnixTime};
use en_server::embedded::{Embedded, Options};
use rand::{Rng, SeedableRng};

/// The authority the benchmarks sign as.
pub const AUTHORITY: &str = "bench";

/// A running in-process server and its authority's key.
pub struct BenchServer {
    /// The server.
    pub server: Embedded,
    /// The authority's signing key.
    pub authority: SigningKey,
}

/// Starts a server whose clock reads `now`, without the batch worker, on the default store
/// (sled).
pub async fn bench_server(now: UnixTime) -> anyhow::Result<BenchServer> {
    bench_server_on(now, en_server::config::StoreSetting::default()).await
}

/// Like [`bench_server`], on `store`.
pub async fn bench_server_on(
    now: UnixTime,
    store: en_server::config::StoreSetting,
) -> anyhow::Result<BenchServer> {
    let mut config = en_server::config::Config::default();
    config.store = store;
    config.authority_daily_upload_quota = u64::MAX / 2;
    config.limits.max_connections = 4096;
    let authority = SigningKey::from_seed(&[42; 32]);
    let server = Embedded::start(Options {
        config,
        authority: (AUTHORITY.into(), authority.public_key(), None),
        clock: en_server::Clock::virtual_at(now),
        transport: en_server::Transport::Tls,
        batch_worker: false,
        padding_seed: None,
    })
    .await?;
    Ok(BenchServer { server, authority })
}

/// The case reports of `cases` confirmed cases, signed at `now`: 14 daily keys each ending
/// yesterday, with the report types, transmission risks and onsets of [`daily_case`].
pub fn case_reports(
    authority: &SigningKey,
    cases: usize,
    now: UnixTime,
    seed: u64,
) -> Vec<Vec<u8>> {
    let today = now.interval().day();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = cases.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed + t as u64);
                    (t * per..((t + 1) * per).min(cases))
                        .map(|case| {
                            let (report_type, risk, onset_age) = daily_case(case);
                            let keys = (1..=14u32)
                                .map(|age| UploadKey {
                                    key: TemporaryExposureKey::from_bytes(rng.gen()),
                                    rolling_start: IntervalNumber((today - age) * 144),
                                    rolling_period: 144,
                                    transmission_risk: risk,
                                })
                                .collect();
                            CaseReport {
                                authority: AuthorityId::new(AUTHORITY).expect("valid id"),
                                region: Region::new("VN").expect("valid region"),
                                report_type,
                                symptom_onset: Some(IntervalNumber((today - onset_age) * 144)),
                                issued_at: now,
                                nonce: rng.gen(),
                                keys,
                            }
                            .sign(authority)
                            .expect("signs")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signing thread"))
            .collect()
    })
}

/// Case `i`'s report type, transmission risk and onset (days before today): a mix of the
/// three report types, so batches have realistic metadata tables.
pub fn daily_case(i: usize) -> (ReportType, u8, u32) {
    (
        [
            ReportType::ConfirmedTest,
            ReportType::ConfirmedClinicalDiagnosis,
            ReportType::SelfReport,
        ][i % 3],
        [2, 4, 5][i % 3],
        (i % 7) as u32 + 2,
    )
}

/// Stores the keys of `cases` cases as pending uploads (setup, not timed): each report is
/// verified and accepted exactly as the upload path does, then stored a thousand at a time.
pub async fn fill_pending(s: &BenchServer, cases: usize, now: UnixTime) -> anyhow::Result<()> {
    let registry = BTreeMap::from([(
        AuthorityId::new(AUTHORITY).expect("valid id"),
        AuthorityInfo {
            public_key: s.authority.public_key(),
            region: None,
            revoked: false,
        },
    )]);
    let state = &s.server.state;
    let accepted: Vec<AcceptedUpload> = case_reports(&s.authority, cases, now, 5)
        .iter()
        .map(|r| {
            SignedCaseReport::decode(r)
                .map_err(en_protocol::Error::from)
                .and_then(|r| r.verify(&registry))
                .and_then(|r| r.accept(&state.policy, now))
        })
        .collect::<Result<_, _>>()?;
    for chunk in accepted.chunks(1000) {
        state.store.insert(chunk, u64::MAX).await?;
    }
    Ok(())
}
