//! `spec/vectors/phone_state.json`: the phone's stored state (wire-format §9), made by the real
//! phone API in the vectors' fixed world, and must-fail variants each naming its error code.

use en_protocol::matching::Scan;
use en_protocol::phone::{FollowerConfig, Phone};
use en_protocol::validate::to_diagnosis_keys;
use en_protocol::wire::batch::{Batch, SignedBatch, GENESIS_HASH};
use en_protocol::wire::config::RiskConfig;
use en_protocol::wire::index::{Index, IndexEntry};
use en_protocol::wire::{Region, ReportType};
use en_protocol::{IntervalNumber, UnixTime};
use serde_json::{json, Value};

use super::common::hear;
use super::{common_negatives, describe_config, err, ok, World, NOW};

const DAY: u64 = 86_400;

pub fn config(export: en_protocol::verify::ExportKeys) -> FollowerConfig {
    FollowerConfig::new(export, Region::new("VN").unwrap())
}

/// The visited region a vector may store (trusting the same export key, for brevity).
pub fn visited(export: en_protocol::verify::ExportKeys) -> Vec<FollowerConfig> {
    vec![FollowerConfig::new(export, Region::new("TH").unwrap())]
}

/// Decodes with the vectors' configurations.
pub fn decode(
    bytes: &[u8],
    export: en_protocol::verify::ExportKeys,
) -> Result<Phone, en_protocol::Error> {
    Phone::decode_with(bytes, config(export.clone()), &visited(export))
}

/// Every field of a phone state; scans in the stored order (their records' byte order).
pub fn describe(p: &Phone) -> Value {
    let s = p.follower().state();
    let mut scans = p.scans().scans().to_vec();
    scans.sort_by_key(|s| (s.time, s.rpi, s.aem, s.rssi as u8, s.seconds));
    json!({
        "region": p.region().as_str(),
        "head": s.head.map(|h| json!({"sequence": h.sequence, "hash": en_protocol::hex::encode(&h.hash),
                                       "window_end": h.window_end.0})),
        "index_generated_at": s.index_generated_at.map(|t| t.0),
        "risk_config": p.risk_config().map(describe_config),
        "keys": p.keys().iter().map(|(day, k)| json!({"day": day, "key": en_protocol::hex::encode(k.as_bytes())}))
            .collect::<Vec<_>>(),
        "scans": scans.iter().map(|s| json!({"time": s.time.0, "rpi": en_protocol::hex::encode(&s.rpi),
            "aem": en_protocol::hex::encode(&s.aem), "rssi": s.rssi, "seconds": s.seconds})).collect::<Vec<_>>(),
        "exposures": p.exposures().iter().map(|e| json!({"day": e.day, "score_sum": e.score_sum,
            "score_sum_bits": format!("{:016x}", e.score_sum.to_bits()), "windows": e.windows,
            "report_types": e.report_types.iter().map(|t| t.name()).collect::<Vec<_>>(),
            "newest_batch": e.newest_batch})).collect::<Vec<_>>(),
        "matched_keys": p.matched_keys().iter().map(|m| json!({"key": en_protocol::hex::encode(m.key.as_bytes()),
            "metadata": en_protocol::hex::encode(&m.meta.to_bytes()), "batch": m.batch,
            "days": m.days.iter().map(|c| json!({"day": c.day, "score_bits": format!("{:016x}", c.score.to_bits()),
                "windows": c.windows})).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        "visited_regions": p.visited_regions().map(|(r, day)| {
            let s = p.follower_of(r).unwrap().state();
            json!({"region": r.as_str(), "last_visit_day": day,
                   "head": s.head.map(|h| json!({"sequence": h.sequence, "hash": en_protocol::hex::encode(&h.hash),
                                                  "window_end": h.window_end.0})),
                   "index_generated_at": s.index_generated_at.map(|t| t.0)})
        }).collect::<Vec<_>>(),
    })
}

/// Offsets of the parts of a state with region "VN", a head, an index time and a risk
/// configuration (every optional present).
struct Layout {
    head: usize,
    risk: usize,
    key_count: usize,
    scan_count: usize,
    exposure_count: usize,
}

/// Encoded length of a matched key before its contributions, and of one contribution.
const MATCHED_LEN: usize = 16 + 8 + 8 + 1;
const CONTRIBUTION_LEN: usize = 8 + 8 + 4;

fn layout(keys: usize, scans: usize) -> Layout {
    let head = 5 + 3;
    let risk = head + 49 + 9;
    let key_count = risk + 1 + 67;
    let scan_count = key_count + 1 + keys * 20;
    Layout {
        head,
        risk,
        key_count,
        scan_count,
        exposure_count: scan_count + 4 + scans * 31,
    }
}

pub fn vectors(w: &mut World) -> Vec<Value> {
    let export: en_protocol::verify::ExportKeys = w.export.public_key().into();
    let mut alice = Phone::new(config(export.clone()));
    let mut bob = Phone::new(config(export.clone()));
    let empty = alice.encode().to_vec();
    let now = UnixTime(NOW);
    for d in [2, 1, 0] {
        alice.handle_timeout(now.minus(d * DAY), &mut w.rng);
    }
    // Alice hears Bob three times, 5 minutes apart, yesterday; and two strangers.
    let met = UnixTime((NOW / DAY - 1) * DAY + 9 * 3600);
    hear(&mut alice, &mut bob, met, 3, -60, &mut w.rng);
    for i in 0..2u64 {
        let rpi: [u8; 16] = w.bytes();
        alice
            .record_scan(Scan {
                rpi,
                aem: w.bytes(),
                time: met.minus(3600 * (i + 1)),
                rssi: -85,
                seconds: 240,
            })
            .unwrap();
    }
    // Bob's key of yesterday is published in batch 1; Alice syncs.
    let onset = Some(IntervalNumber((met.0 / DAY * 144) as u32));
    let keys = to_diagnosis_keys(&bob.upload_keys(now)[..1], ReportType::ConfirmedTest, onset);
    let batch = Batch {
        region: Region::new("VN").unwrap(),
        sequence: 1,
        window_start: UnixTime(NOW - DAY),
        window_end: UnixTime(NOW - 3600),
        prev_hash: GENESIS_HASH,
        keys,
    }
    .sign(&w.export)
    .unwrap();
    let h = SignedBatch::decode(&batch).unwrap().header().clone();
    let index = Index {
        region: Region::new("VN").unwrap(),
        generated_at: now,
        entries: vec![IndexEntry {
            sequence: 1,
            window_start: h.window_start,
            window_end: h.window_end,
            hash: h.hash,
            size: h.size,
        }],
    }
    .sign(&w.export)
    .unwrap();
    let rc = RiskConfig {
        issued_at: now.minus(600),
        ..RiskConfig::default()
    }
    .sign(&w.export)
    .unwrap();
    alice.handle_config(&rc, now).unwrap();
    alice.handle_index(&index, now).unwrap();
    let m = alice.handle_batch(&batch, now).unwrap();
    assert_eq!((m.hits, m.windows), (3, 1));
    let full = alice.encode().to_vec();
    let (nkeys, nscans) = (alice.keys().len(), alice.scans().len());
    assert_eq!((nkeys, nscans, alice.exposures().len()), (3, 5, 1));

    let l = layout(nkeys, nscans);
    // Where the visited-region count sits (after the exposure days), in "valid" and in the
    // traveller's state (same keys, scans and exposures).
    let visited_at = l.exposure_count + 2 + 29;
    // One matched key with one contribution: the section "valid" ends with.
    let matched_len = 2 + MATCHED_LEN + CONTRIBUTION_LEN;
    assert_eq!(full.len(), visited_at + 1 + matched_len);
    // Version 2 (before matched keys): the same fields without the matched-key section; still
    // read (no matched keys), re-encoded as version 3 with an empty section.
    let v2 = |v3: &[u8]| {
        let mut b = v3[..v3.len() - matched_len].to_vec();
        b[4] = 2;
        b
    };
    // Version 1 (before visited regions): no visited-region count either.
    let v1 = |v3: &[u8]| {
        let mut b = v3[..visited_at].to_vec();
        b[4] = 1;
        b
    };
    // What an older version re-encodes as: version 3 with empty trailing sections.
    let reencoded = |old: &[u8], sections: &[u8]| {
        let mut b = old.to_vec();
        b[4] = 3;
        b.extend_from_slice(sections);
        en_protocol::hex::encode(&b)
    };
    let without_matched = |mut d: Value| {
        d["matched_keys"] = json!([]);
        d
    };
    // A traveller: the same phone also following TH, visited today, with no batch yet.
    let mut traveller = Phone::decode(&full, config(export.clone())).unwrap();
    traveller
        .visit_region(visited(export.clone()).remove(0), now)
        .unwrap();
    let travelling = traveller.encode().to_vec();
    let mut v = vec![
        ok("valid-new", "a phone that has done nothing yet: no head, no index, no configuration, no keys, scans or exposures", &empty, describe(&Phone::decode(&empty, config(export.clone())).unwrap())),
        ok("valid", "three days of keys, five scans (three of a published key), head at batch 1, the configuration in force, one exposure day", &full, describe(&alice)),
        ok("valid-visited", "\"valid\" also following visited region TH (last visit today, no head or index yet; decoded with TH trusting the same export key)", &travelling, describe(&traveller)),
    ];
    let mut old = ok("valid-v1", "\"valid\" in version 1 (no visited regions, no matched keys): still read, with no matched keys; re-encoded as version 3 (`reencoded`)", &v1(&full), without_matched(describe(&alice)));
    old["reencoded"] = json!(reencoded(&v1(&full), &[0, 0, 0]));
    v.push(old);
    let mut old = ok("valid-v2", "\"valid-visited\" in version 2 (visited regions, no matched keys): still read, with no matched keys; re-encoded as version 3 (`reencoded`)", &v2(&travelling), without_matched(describe(&traveller)));
    old["reencoded"] = json!(reencoded(&v2(&travelling), &[0, 0]));
    v.push(old);
    v.extend(common_negatives(&full, b"", &w.export, false));
    // Version 3 is this format's current version: the shared wrong-version case uses 4.
    for n in v.iter_mut().filter(|n| n["name"] == "wrong-version") {
        let mut b = full.clone();
        b[4] = 4;
        n["hex"] = json!(en_protocol::hex::encode(&b));
        n["description"] = json!("version byte 4: unknown versions are rejected");
    }
    let tv = visited_at; // the visited count
    let tpatch = |at: usize, bytes: &[u8]| {
        let mut p = travelling.clone();
        p[at..at + bytes.len()].copy_from_slice(bytes);
        p
    };
    v.push(err(
        "visited-count-too-high",
        "17 visited regions claimed (at most 16)",
        &tpatch(tv, &[17]),
        "too_many",
    ));
    v.push(err(
        "visited-count-past-end",
        "16 visited regions claimed, 1 present: rejected before allocating",
        &tpatch(tv, &[16]),
        "truncated",
    ));
    v.push(err(
        "visited-home-region",
        "the visited region is the home region VN",
        &tpatch(tv + 2, b"VN"),
        "out_of_range",
    ));
    v.push(err(
        "visited-unconfigured",
        "a visited region (TG) the app gave no configuration for",
        &tpatch(tv + 2, b"TG"),
        "usage",
    ));
    v.push(err(
        "visited-v1-trailer",
        "version 1 with version 2's visited-region count: trailing byte",
        &{
            let mut b = full[..visited_at + 1].to_vec();
            b[4] = 1;
            b
        },
        "trailing_bytes",
    ));
    v.push(err(
        "matched-v2-trailer",
        "version 2 with version 3's matched-key section: trailing bytes",
        &{
            let mut b = full.clone();
            b[4] = 2;
            b
        },
        "trailing_bytes",
    ));
    v.push(err(
        "matched-v3-missing",
        "version 3 without its matched-key count",
        &{
            let mut b = v2(&full);
            b[4] = 3;
            b
        },
        "truncated",
    ));
    let patch = |at: usize, bytes: &[u8]| {
        let mut p = full.clone();
        p[at..at + bytes.len()].copy_from_slice(bytes);
        p
    };
    let swap = |a: usize, b: usize, len: usize| {
        let mut p = full.clone();
        let (x, y) = (full[a..a + len].to_vec(), full[b..b + len].to_vec());
        p[a..a + len].copy_from_slice(&y);
        p[b..b + len].copy_from_slice(&x);
        p
    };
    let scans0 = l.scan_count + 4;
    v.push(err(
        "scans-unordered",
        "the first two scan records swapped",
        &swap(scans0, scans0 + 31, 31),
        "non_canonical",
    ));
    let keys0 = l.key_count + 1;
    v.push(err(
        "keys-unordered",
        "the first two keys swapped",
        &swap(keys0, keys0 + 20, 20),
        "non_canonical",
    ));
    v.push(err(
        "key-count-too-high",
        "33 keys claimed (at most 32)",
        &patch(l.key_count, &[33]),
        "too_many",
    ));
    v.push(err(
        "scan-count-too-high",
        "2,000,001 scans claimed (at most 2,000,000): rejected before allocating",
        &patch(l.scan_count, &2_000_001u32.to_be_bytes()),
        "too_many",
    ));
    v.push(err(
        "scan-count-past-end",
        "1,000,000 scans claimed, 5 present: rejected before allocating",
        &patch(l.scan_count, &1_000_000u32.to_be_bytes()),
        "truncated",
    ));
    v.push(err(
        "exposure-count-too-high",
        "65 exposure days claimed (at most 64)",
        &patch(l.exposure_count, &65u16.to_be_bytes()),
        "too_many",
    ));
    v.push(err(
        "head-flag-2",
        "the head's presence flag is 2",
        &patch(l.head, &[2]),
        "out_of_range",
    ));
    v.push(err(
        "head-sequence-zero",
        "the head's sequence is 0",
        &patch(l.head + 1, &0u64.to_be_bytes()),
        "out_of_range",
    ));
    v.push(err(
        "key-day-too-late",
        "a key day whose last interval does not fit a u32 (29,826,161)",
        &patch(keys0 + 40, &29_826_161u32.to_be_bytes()),
        "out_of_range",
    ));
    v.push(err(
        "risk-weight-too-high",
        "the stored configuration's immediate weight is 2.51",
        &patch(l.risk + 1 + 8 + 3, &251u16.to_be_bytes()),
        "out_of_range",
    ));
    let e0 = l.exposure_count + 2;
    v.push(err(
        "exposure-score-nan",
        "the exposure score is a NaN",
        &patch(e0 + 8, &f64::NAN.to_bits().to_be_bytes()),
        "out_of_range",
    ));
    v.push(err(
        "exposure-score-negative-zero",
        "the exposure score is -0.0 (only +0.0 is canonical)",
        &patch(e0 + 8, &(-0.0f64).to_bits().to_be_bytes()),
        "out_of_range",
    ));
    v.push(err(
        "exposure-report-types",
        "report-type bit 3 set (only bits 0-2 name types)",
        &patch(e0 + 20, &[0x09]),
        "out_of_range",
    ));
    let mc = visited_at + 1; // the matched-key count
    v.push(err(
        "matched-count-too-high",
        "4,097 matched keys claimed (at most 4,096)",
        &patch(mc, &4097u16.to_be_bytes()),
        "too_many",
    ));
    v.push(err(
        "matched-count-past-end",
        "2 matched keys claimed, 1 present",
        &patch(mc, &2u16.to_be_bytes()),
        "truncated",
    ));
    let m0 = mc + 2;
    v.push(err(
        "matched-key-too-many-days",
        "a matched key claiming 5 contributions (at most 4)",
        &patch(m0 + 16 + 8 + 8, &[5]),
        "out_of_range",
    ));
    v.push(err(
        "matched-key-revoked",
        "a matched key stored with report type revoked (revoked keys never contribute)",
        &patch(m0 + 16 + 6, &[5]),
        "out_of_range",
    ));
    v.push(err(
        "matched-key-no-days",
        "a matched key with zero contributions",
        &patch(m0 + 16 + 8 + 8, &[0]),
        "out_of_range",
    ));
    v.push(err(
        "matched-key-score-nan",
        "a matched key's contribution score is a NaN",
        &patch(m0 + 33 + 8, &f64::NAN.to_bits().to_be_bytes()),
        "out_of_range",
    ));
    v.push(err(
        "wrong-region",
        "a state for TH decoded by a phone configured for VN",
        &patch(6, b"TH"),
        "usage",
    ));
    v
}

#[test]
fn layout_matches_the_encoder() {
    // The offsets above are those of the "valid" vector: its counts sit where they say.
    let mut w = World::new();
    let v = vectors(&mut w);
    let full = en_protocol::hex::decode(v[1]["hex"].as_str().unwrap()).unwrap();
    let l = layout(3, 5);
    assert_eq!(full[l.head], 1);
    assert_eq!(full[l.risk], 1);
    assert_eq!(full[l.key_count], 3);
    assert_eq!(&full[l.scan_count..l.scan_count + 4], &5u32.to_be_bytes());
    assert_eq!(
        &full[l.exposure_count..l.exposure_count + 2],
        &1u16.to_be_bytes()
    );
    // No visited regions, then one matched key (Bob's) that contributed to one day.
    let visited = l.exposure_count + 2 + 29;
    assert_eq!(full[visited], 0, "no visited regions");
    let m0 = visited + 1;
    assert_eq!(&full[m0..m0 + 2], &1u16.to_be_bytes());
    assert_eq!(full.len(), m0 + 2 + MATCHED_LEN + CONTRIBUTION_LEN);
}
