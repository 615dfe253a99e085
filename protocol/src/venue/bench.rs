//! Deterministic fixtures for measuring venue matching (benchmarks, the simulator, tests).
//! Nothing in the protocol uses them.

use aes::cipher::{KeyIvInit, StreamCipher};
use rand_core::{CryptoRng, RngCore};

use super::batch::{fake_trace, TraceBatch};
use super::checkin::CheckInStore;
use super::entry::EntryPayload;
use super::report::{TraceEntry, TraceReport};
use super::seal::SealingSecretKey;
use super::setup::{setup, TracingSecret};
use super::{labels, Hour};
use crate::keys::SigningKey;
use crate::time::{UnixTime, DAY_SECONDS};
use crate::verify::ExportKeys;
use crate::wire::batch::GENESIS_HASH;
use crate::wire::{AuthorityId, Region};

/// A seeded, deterministic CSPRNG: the AES-256-CTR keystream under
/// `SHA-256("en/v1/venue/bench-fixture" ‖ 0 ‖ u64(seed))`, counter from zero.
pub struct FixtureRng(ctr::Ctr128BE<aes::Aes256>);

impl FixtureRng {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> Self {
        let k = labels::sha256(b"en/v1/venue/bench-fixture", &[&seed.to_be_bytes()]);
        FixtureRng(ctr::Ctr128BE::new(&k.into(), &[0u8; 16].into()))
    }
}

impl RngCore for FixtureRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_be_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_be_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0);
        self.0.apply_keystream(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for FixtureRng {}

/// A heavy user's phone and one day of published traces.
pub struct HeavyUser {
    /// 14 days of 20 check-ins a day (about 460 hourly records).
    pub store: CheckInStore,
    /// The signed trace batch: one day of `traces` venue-hours, a few of them venues the
    /// user visited, the rest [`fake_trace`] padding (which costs a phone exactly what an
    /// unrelated venue's trace costs).
    pub batch: Vec<u8>,
    /// The export key that signed `batch`.
    pub export_keys: ExportKeys,
    /// The morning after the traced day.
    pub now: UnixTime,
    /// How many notifications matching `batch` against `store` must give.
    pub expected_notifications: usize,
}

/// First day of the fixture: 2026-01-01 (UTC).
pub const FIXTURE_DAY0: u64 = 1_767_225_600;
/// Venues the heavy user chooses from.
pub const FIXTURE_VENUES: usize = 60;

/// Builds the heavy-user fixture deterministically from `seed`.
///
/// The user checks in 20 times a day for 14 days, from 07:00 UTC: each visit starts 0–20
/// minutes after the previous one ended and lasts 10–50 minutes, at one of
/// [`FIXTURE_VENUES`] venues. On the last day two of the user's visits are traced for the
/// hours they overlap (through the real owner → authority flow); the remaining
/// `traces` − (those hours) entries are padding spread over 07:00–23:00 of that day.
pub fn heavy_user_fixture(seed: u64, traces: usize) -> HeavyUser {
    let mut rng = FixtureRng::new(seed);
    let ha = SealingSecretKey::generate(&mut rng);
    let export = SigningKey::generate(&mut rng);
    let venues: Vec<(EntryPayload, TracingSecret)> = (0..FIXTURE_VENUES)
        .map(|i| {
            setup(&mut rng, &format!("Venue {i}"), "", &ha.public_key()).expect("fixture venue")
        })
        .collect();
    let uniform = |rng: &mut FixtureRng, n: u64| rng.next_u64() % n;
    let mut store = CheckInStore::new();
    let mut last_day: Vec<(usize, UnixTime, UnixTime)> = Vec::new();
    for day in 0..14u64 {
        let mut t = FIXTURE_DAY0 + day * DAY_SECONDS + 7 * 3600;
        for _ in 0..20 {
            t += 60 * uniform(&mut rng, 21);
            let arrival = UnixTime(t);
            t += 60 * (10 + uniform(&mut rng, 41));
            let v = uniform(&mut rng, FIXTURE_VENUES as u64) as usize;
            store
                .insert_visit(&venues[v].0, arrival, UnixTime(t), &mut rng)
                .expect("fixture visit");
            if day == 13 {
                last_day.push((v, arrival, UnixTime(t)));
            }
        }
    }
    let traced_day = FIXTURE_DAY0 + 13 * DAY_SECONDS;
    let now = UnixTime(traced_day + DAY_SECONDS + 3600);
    let hours_of = |a: UnixTime, d: UnixTime| {
        (Hour::containing(a).0..=Hour::containing(d.minus(1)).0).map(Hour)
    };
    // Trace the venues of the 3rd and 12th visits of the last day, for those visits' hours.
    let mut traced: Vec<(usize, Hour)> = Vec::new();
    let mut entries: Vec<TraceEntry> = Vec::new();
    for &i in &[2usize, 11] {
        let (v, a, d) = last_day[i];
        let hours: Vec<Hour> = hours_of(a, d)
            .filter(|h| !traced.contains(&(v, *h)))
            .collect();
        if hours.is_empty() {
            continue;
        }
        let checked = venues[v]
            .1
            .trace_request(&hours)
            .and_then(|req| req.open(&ha, now))
            .expect("fixture trace");
        let report = TraceReport::new(
            &checked,
            "You visited a place where a case was present. Call 1900 9095.",
            AuthorityId::new("moh.vn").expect("id"),
            Region::new("VN").expect("region"),
            now,
            [0; 16],
            &mut rng,
        )
        .expect("fixture report");
        entries.extend(report.entries().iter().cloned());
        traced.extend(hours.into_iter().map(|h| (v, h)));
    }
    let expected_notifications = last_day
        .iter()
        .map(|&(v, a, d)| hours_of(a, d).filter(|h| traced.contains(&(v, *h))).count())
        .sum();
    let first = Hour::containing(UnixTime(traced_day + 7 * 3600)).0;
    while entries.len() < traces {
        let h = Hour(first + uniform(&mut rng, 16) as u32);
        entries.push(fake_trace(&mut rng, h));
    }
    let batch = TraceBatch {
        region: Region::new("VN").expect("region"),
        sequence: 1,
        window_start: UnixTime(traced_day + DAY_SECONDS),
        window_end: UnixTime(traced_day + 2 * DAY_SECONDS),
        prev_hash: GENESIS_HASH,
        entries,
    }
    .sign(&export)
    .expect("fixture batch");
    HeavyUser {
        store,
        batch,
        export_keys: export.public_key().into(),
        now,
        expected_notifications,
    }
}

/// One pairing `e(H1(id), mpk)`, the unit of a phone's matching cost, for a benchmark to time
/// beside matching on the same machine in the same run (this module never reads a clock).
pub struct PairingSample {
    h: blstrs::G1Affine,
    mpk: blstrs::G2Affine,
}

impl PairingSample {
    /// A sample drawn deterministically from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = FixtureRng::new(seed);
        let mut id = [0u8; 32];
        rng.fill_bytes(&mut id);
        PairingSample {
            h: super::curve::h1(&id),
            mpk: super::curve::g2_mul(&super::curve::random_scalar(&mut rng)),
        }
    }
    /// Computes the pairing once.
    pub fn run(&self) {
        std::hint::black_box(super::curve::pairing(
            std::hint::black_box(&self.h),
            std::hint::black_box(&self.mpk),
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::venue::{curve, ibe};

    /// Costs of the primitives on this machine (one core). A measurement, not a test:
    /// `cargo test --release -p en-protocol --lib venue::bench -- --ignored --nocapture`.
    #[test]
    #[ignore = "measurement: run with --release --ignored --nocapture"]
    fn primitive_costs() {
        let mut rng = FixtureRng::new(1);
        let n = 400;
        let msk = curve::random_scalar(&mut rng);
        let mpk = curve::g2_mul(&msk);
        let ids: Vec<[u8; 32]> = (0..n)
            .map(|_| {
                let mut b = [0u8; 32];
                rng.fill_bytes(&mut b);
                b
            })
            .collect();
        let time = |name: &str, f: &mut dyn FnMut(usize)| {
            let t = Instant::now();
            (0..n).for_each(&mut *f);
            println!("{name:<28} {:>9.1?}", t.elapsed() / n as u32);
        };
        let hs: Vec<_> = ids.iter().map(curve::h1).collect();
        time("hash to G1 (RFC 9380)", &mut |i| {
            std::hint::black_box(curve::h1(&ids[i]));
        });
        let sks: Vec<_> = ids.iter().map(|id| ibe::key_share(&msk, id)).collect();
        let g1: Vec<_> = sks.iter().map(|p| p.to_compressed()).collect();
        time("G1 decompress + subgroup", &mut |i| {
            curve::g1_decode(&g1[i], "k").unwrap();
        });
        time("G1 form check only", &mut |i| {
            curve::g1_check_form(&g1[i], "k").unwrap();
        });
        let g2: Vec<_> = (0..n)
            .map(|_| curve::g2_mul(&curve::random_scalar(&mut rng)).to_compressed())
            .collect();
        time("G2 decompress + subgroup", &mut |i| {
            curve::g2_decode(&g2[i], "c1").unwrap();
        });
        time("pairing", &mut |i| {
            std::hint::black_box(curve::pairing(&hs[i], &mpk));
        });
        let m = [0u8; ibe::PLAINTEXT_LEN];
        let cts: Vec<_> = ids
            .iter()
            .map(|id| ibe::encrypt(&mpk, id, &m, &mut rng))
            .collect();
        time("encrypt (one record)", &mut |i| {
            std::hint::black_box(ibe::encrypt(&mpk, &ids[i], &m, &mut rng));
        });
        time("failed decryption", &mut |i| {
            assert!(ibe::decrypt(&sks[(i + 1) % n], &ids[i], &cts[i]).is_err());
        });
        time("successful decryption", &mut |i| {
            assert!(ibe::decrypt(&sks[i], &ids[i], &cts[i]).is_ok());
        });
        time("authority key check", &mut |i| {
            assert!(ibe::key_fits(&sks[i], &ids[i], &mpk));
        });
        time("fake trace key (g1^s)", &mut |_| {
            std::hint::black_box(curve::random_g1(&mut rng));
        });
    }
}
