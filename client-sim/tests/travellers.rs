//! Travellers against two real servers of two regions (in process, over TLS): a phone at home
//! in VN-HN met one case there and another in VN-KG. Following both regions (`en-sim phone
//! sync --follow`, and the library underneath) it gets keys from both servers, matches both
//! cases and keeps each region's chain state; following home only, it misses the VN-KG case.

use std::process::Command;

use en_client::regions::{sync_regions, RegionSource};
use en_protocol::derive::Metadata;
use en_protocol::keys::SigningKey;
use en_protocol::matching::Scan;
use en_protocol::phone::Phone;
use en_protocol::wire::Region;
use en_protocol::{IntervalNumber, UnixTime};
use en_sim::sim::server::SimServer;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const DAY: u64 = 86_400;

/// Alice records `n` sightings of `other`'s broadcasts, 5 minutes apart from `at`.
fn hear(alice: &mut Phone, other: &mut Phone, at: u64, n: u64, rng: &mut ChaCha20Rng) {
    for i in 0..n {
        let t = UnixTime(at + 300 * i);
        let b = other.broadcast(
            t,
            Metadata {
                version: 0x40,
                tx_power: -10,
            },
            rng,
        );
        alice
            .record_scan(Scan {
                rpi: b.rpi,
                aem: b.aem,
                time: t,
                rssi: -60,
                seconds: 300,
            })
            .unwrap();
    }
}

fn source(s: &SimServer, region: &str) -> RegionSource {
    RegionSource {
        region: Region::new(region).unwrap(),
        client: s.client.clone(),
        trusted: s.export.clone(),
    }
}

#[test]
fn a_phone_following_two_regions_gets_keys_from_both_servers() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(14);
    let now = en_client::now().0;
    let met = (now / DAY - 2) * DAY + 9 * 3600; // two days ago, 09:00 UTC
    let (hn_key, kg_key) = (
        SigningKey::from_seed(&[1; 32]),
        SigningKey::from_seed(&[2; 32]),
    );
    let (mut hn, mut kg) = rt.block_on(async {
        let hn = SimServer::in_process_for("VN-HN", UnixTime(now), hn_key, 1, 3600).await;
        let kg = SimServer::in_process_for("VN-KG", UnixTime(now), kg_key, 2, 3600).await;
        (hn.unwrap(), kg.unwrap())
    });

    // Alice (home VN-HN) meets Bob at home and, two hours later, Carol in VN-KG.
    let mut alice = Phone::new(hn.follower_config());
    let mut bob = Phone::new(hn.follower_config());
    let mut carol = Phone::new(kg.follower_config());
    for p in [&mut alice, &mut bob, &mut carol] {
        p.handle_timeout(UnixTime(met), &mut rng);
    }
    hear(&mut alice, &mut bob, met, 6, &mut rng);
    hear(&mut alice, &mut carol, met + 7200, 6, &mut rng);
    let mut home_only = Phone::decode(&alice.encode(), hn.follower_config()).unwrap();
    alice
        .visit_region(kg.follower_config(), UnixTime(met + 7200))
        .unwrap();

    // Bob's keys go to VN-HN's server, Carol's to VN-KG's; each closes a batch.
    let onset = Some(IntervalNumber((met / DAY * 144) as u32));
    let boundary = UnixTime((now / 3600 + 1) * 3600);
    rt.block_on(async {
        let up = UnixTime(now);
        hn.upload(bob.upload_keys(up), onset, up, true, &mut rng)
            .await
            .unwrap();
        kg.upload(carol.upload_keys(up), onset, up, true, &mut rng)
            .await
            .unwrap();
        for s in [&mut hn, &mut kg] {
            s.set_time(boundary).unwrap();
            s.close_window(boundary).await.unwrap();
        }
    });
    let sources = [source(&hn, "VN-HN"), source(&kg, "VN-KG")];
    let at = UnixTime(now + 60);

    let synced = rt
        .block_on(sync_regions(&mut alice, &sources, at, false))
        .unwrap();
    let got: Vec<(&str, usize, usize)> = synced
        .iter()
        .map(|s| (s.region.as_str(), s.batches, s.hits))
        .collect();
    assert_eq!(got, [("VN-HN", 1, 6), ("VN-KG", 1, 6)]);
    assert_eq!(alice.notify_days(), vec![met / DAY]);
    let both = alice.exposures()[0].windows;
    assert_eq!(both, 2, "one exposure window per case");

    // Home only: the VN-KG case is missed.
    let synced = rt
        .block_on(sync_regions(&mut home_only, &sources, at, false))
        .unwrap();
    assert_eq!(synced.len(), 1);
    assert_eq!((synced[0].batches, synced[0].hits), (1, 6));
    assert_eq!(home_only.exposures()[0].windows, 1);

    // Per-region state: each region's head is its own chain's, and survives a restart.
    let (hn_head, kg_head) = (
        *alice
            .follower_of(&sources[0].region)
            .unwrap()
            .head()
            .unwrap(),
        *alice
            .follower_of(&sources[1].region)
            .unwrap()
            .head()
            .unwrap(),
    );
    assert_ne!(hn_head.hash, kg_head.hash);
    let back = Phone::decode_with(
        &alice.encode(),
        hn.follower_config(),
        &[kg.follower_config()],
    )
    .unwrap();
    assert_eq!(
        back.follower_of(&sources[1].region).unwrap().head(),
        Some(&kg_head)
    );

    // The same through the CLI: a fresh phone state following both regions.
    let d = tempfile::tempdir().unwrap();
    let bundle = d.path().join("ca.pem");
    let pem = |s: &SimServer| std::fs::read(s.ca_path().unwrap()).unwrap();
    std::fs::write(&bundle, [pem(&hn), pem(&kg)].concat()).unwrap();
    let state = d.path().join("phone.state");
    let key = |s: &SimServer| s.export.keys()[0].to_hex();
    let args = |visit: bool| {
        let mut a = vec![
            "phone".to_string(),
            "sync".into(),
            "--state".into(),
            state.to_str().unwrap().into(),
            "--home".into(),
            format!("VN-HN={}", hn.url().unwrap()),
            "--follow".into(),
            format!("VN-KG={}", kg.url().unwrap()),
            "--public-key".into(),
            format!("VN-HN={}", key(&hn)),
            "--public-key".into(),
            format!("VN-KG={}", key(&kg)),
            "--ca".into(),
            bundle.to_str().unwrap().into(),
        ];
        if visit {
            a.extend(["--visit".into(), "VN-KG".into()]);
        }
        a
    };
    let run = |visit: bool| {
        let out = Command::new(env!("CARGO_BIN_EXE_en-sim"))
            .args(args(visit))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let out = run(true);
    assert!(out.contains("VN-HN: 1 new batch(es)"), "{out}");
    assert!(out.contains("VN-KG: 1 new batch(es)"), "{out}");
    assert!(out.contains("following 2 region(s)"), "{out}");
    // Run again: each region continues from its stored head (nothing new, no --visit needed).
    let out = run(false);
    assert!(
        out.contains("VN-HN: 0 new batch(es)") && out.contains("last verified batch: 1"),
        "{out}"
    );
    assert!(out.contains("VN-KG: 0 new batch(es)"), "{out}");
    let stored = std::fs::read(&state).unwrap();
    assert_eq!(&stored[..4], en_protocol::phone::STATE_MAGIC);
    assert_eq!(stored[4], en_protocol::phone::STATE_VERSION);
    rt.block_on(async {
        hn.stop().await.unwrap();
        kg.stop().await.unwrap();
    });
}
