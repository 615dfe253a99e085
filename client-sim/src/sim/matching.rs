//! A phone's matching when it fetches: its scans of the last 14 days, regenerated from the
//! sessions, matched against the batches it downloaded and scored with the signed risk
//! configuration by the protocol's own code (`matching`, `risk`).
//!
//! Pruning, and why it is exact: a scan can only match a diagnosis key derived from the TEK
//! of the phone that broadcast it (the protocol compares 16-byte RPIs; padding keys are
//! random). So only phones that met an owner of a batch's real keys are given the batch,
//! and they regenerate only their scans of those owners. The scans they regenerate, the
//! hits, windows, scores and notifications are exactly those of matching every scan of
//! every phone against every batch; `exhaustive_matching = true` does that, and a test
//! checks that both give the same report.

use std::collections::BTreeSet;

use aes::cipher::BlockEncrypt;
use en_protocol::derive::{padded_data, KeySchedule, Metadata};
use en_protocol::matching::{DerivedKeys, Hit, Scan};
use en_protocol::risk::{assess, exposure_windows, ExposureWindow};
use en_protocol::wire::key::DiagnosisKey;
use en_protocol::UnixTime;

use super::ble;
use super::contacts::Session;
use super::keys::{day_of, tek, Ciphers};
use super::population::MODELS;
use super::streams::{hash, Stream};
use super::world::World;
use super::{EPOCH, SCAN_INTERVAL};

/// A published batch, ready for the phones that will fetch it.
pub(super) struct Published {
    /// Its keys (real and padding).
    pub keys: Vec<DiagnosisKey>,
    /// Their RPIs, derived once for all phones.
    pub derived: DerivedKeys,
    /// Owners of its real keys (ground truth, for pruning; all app users' batches in
    /// exhaustive mode keep this too).
    pub owners: BTreeSet<u32>,
    /// Phones that have still to fetch it.
    pub waiting: usize,
}

impl World {
    /// The scans phone `me` recorded of phone `other` during session `s`, each passed to
    /// `f` with its sender and the sender's day.
    fn scans_of(
        &self,
        me: u32,
        s: &Session,
        ciphers: &mut Ciphers,
        mut f: impl FnMut(Scan, u32, i64),
    ) {
        let other = if s.a == me { s.b } else { s.a };
        let distance = f64::from(s.distance_cm) / 100.0;
        if !self.pop.people[other as usize].app || distance > ble::MAX_RANGE_M {
            return;
        }
        let (tx, _) = MODELS[self.pop.people[other as usize].model as usize];
        let rx_offset =
            MODELS[self.pop.people[me as usize].model as usize].1 * self.cfg.calibration_scale;
        let skew = i64::from(self.pop.people[other as usize].skew);
        let n = s.duration.div_ceil(SCAN_INTERVAL);
        for k in 0..n {
            let t = EPOCH + u64::from(s.start) + u64::from(k * SCAN_INTERVAL);
            let seconds = if k + 1 == n {
                s.duration - k * SCAN_INTERVAL
            } else {
                SCAN_INTERVAL
            };
            let sender_time = t.saturating_add_signed(skew);
            let day = day_of(sender_time);
            let mut block = padded_data(UnixTime(sender_time).interval()).into();
            ciphers.get(other, day).encrypt_block(&mut block);
            let noise = hash(
                self.cfg.seed,
                Stream::Radio,
                (u64::from(s.start) << 32) | u64::from(me),
                (u64::from(other) << 32) | u64::from(k),
            );
            let rssi = ble::rssi(tx, distance, rx_offset, self.cfg.noise_db, noise);
            let scan = Scan {
                rpi: block.into(),
                aem: [0; 4],
                time: UnixTime(t),
                rssi,
                seconds: seconds as u16,
            };
            f(scan, other, day);
        }
    }

    /// Phone `me`'s matching and scoring, on `today`, against the batches it fetched: the
    /// cases (ground truth, by key owner) behind the days it is notified for, if any.
    /// Scans of days up to yesterday count (see `day`); in pruned mode only those of the
    /// batches' key owners are regenerated.
    pub(super) fn phone_assessment(&self, me: u32, today: u32, batches: &[&Published]) -> Vec<u32> {
        let app = self.app.as_ref().expect("phones match with the app");
        let exhaustive = self.cfg.exhaustive_matching;
        let owners: BTreeSet<u32> = batches
            .iter()
            .flat_map(|b| b.owners.iter().copied())
            .collect();
        let mut ciphers = Ciphers::new(self.cfg.seed);
        let mut scans: Vec<Scan> = Vec::new();
        let mut hits: Vec<Vec<Hit>> = vec![Vec::new(); batches.len()];
        for d in today.saturating_sub(14)..today {
            let Some(ds) = self.sessions.get(&d) else {
                continue;
            };
            for s in ds.of(me) {
                let other = if s.a == me { s.b } else { s.a };
                if !exhaustive && !owners.contains(&other) {
                    continue;
                }
                self.scans_of(me, s, &mut ciphers, |mut scan, sender, day| {
                    let mut hit = false;
                    for (b, h) in batches.iter().zip(&mut hits) {
                        let before = h.len();
                        b.derived.probe(&scan, scans.len() as u32, h);
                        hit |= h.len() > before;
                    }
                    if hit {
                        // A hit: record the AEM the sender broadcast with this RPI.
                        let ks = KeySchedule::new(&tek(self.cfg.seed, sender, day));
                        let tx = MODELS[self.pop.people[sender as usize].model as usize].0;
                        let meta = Metadata {
                            version: 0x40,
                            tx_power: tx,
                        };
                        scan.aem = ks
                            .aem(&scan.rpi, &meta.to_bytes())
                            .try_into()
                            .expect("4 bytes");
                        scans.push(scan);
                    }
                });
            }
        }
        if hits.iter().all(Vec::is_empty) {
            return Vec::new();
        }
        // Windows per batch, with key indices made global (batch offset + index).
        let mut windows: Vec<ExposureWindow> = Vec::new();
        let mut offsets = Vec::with_capacity(batches.len());
        let mut offset = 0u32;
        for (b, h) in batches.iter().zip(&hits) {
            offsets.push(offset);
            for mut w in exposure_windows(h, &b.keys, &scans) {
                w.key += offset;
                windows.push(w);
            }
            offset += b.keys.len() as u32;
        }
        let a = assess(windows, &app.rc);
        if a.notify_days.is_empty() {
            return Vec::new();
        }
        // Which cases caused it (ground truth bookkeeping only).
        let mut sources: BTreeSet<u32> = BTreeSet::new();
        for w in &a.windows {
            if a.notify_days.contains(&w.window.day) {
                let b = offsets.partition_point(|&o| o <= w.window.key) - 1;
                let key = &batches[b].keys[(w.window.key - offsets[b]) as usize];
                if let Some(&p) = app.tek_owner.get(key.key.as_bytes()) {
                    sources.insert(p);
                }
            }
        }
        sources.into_iter().collect()
    }
}
