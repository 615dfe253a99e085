//! The Bluetooth sniffer adversary on a real world: what it links of a person who never
//! uploaded is one stay at one place heard without a break (or, without linking across
//! rotations, one RPI interval); a case's published keys link whole days, a Bluezone-like
//! base ID all of them.

use en_sim::sim::server::SimServer;
use en_sim::sim::{Linkage, SimConfig, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_case_is_never_linked_beyond_one_continuous_stay() {
    let mut cfg = SimConfig::new(9, 3000, 10, 0.6);
    cfg.epidemic.beta = 0.006;
    let all = u32::MAX;
    for continuity in [true, false] {
        cfg.sniffer.link_across_rotation = continuity;
        let mut server = SimServer::for_config(&cfg).await.unwrap();
        let mut w = World::new(cfg.clone(), &mut server).await.unwrap();
        for _ in 0..cfg.days {
            w.step_day(Some(&mut server)).await.unwrap();
        }
        server.stop().await.unwrap();
        let (mut non_case_tracks, mut long, mut case_days) = (0, 0, 0);
        for p in 0..cfg.phones as u32 {
            if !w.runs_app(p) {
                assert!(w.sniffer_tracks(p, all, Linkage::All).unwrap().is_empty());
                continue;
            }
            if w.uploaded(p) {
                let days = w.sniffer_tracks(p, all, Linkage::ByDay).unwrap();
                case_days += days.iter().filter(|t| t.pieces.len() > 1).count();
                continue;
            }
            for t in w.sniffer_tracks(p, all, Linkage::Continuity).unwrap() {
                non_case_tracks += 1;
                let one = t.pieces[0];
                assert!(t.is_one_stay(), "person {p}: {t:?}");
                if continuity {
                    long += usize::from(one.last > one.first);
                } else {
                    assert_eq!(t.intervals(), 1, "person {p}: {t:?}");
                }
            }
        }
        assert!(non_case_tracks > 1000, "{non_case_tracks}");
        assert!(
            !continuity || long > 100,
            "no stay spans a rotation: {long}"
        );
        assert!(case_days > 0, "no case's day links several stays");
    }
}
