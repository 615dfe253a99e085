//! The phones' side of a night: each app user's scans of the last 14 days, regenerated from
//! the sessions, matched against the new diagnosis keys and scored with the signed risk
//! configuration by the protocol's own code (`matching`, `risk`), on all threads.

use std::collections::BTreeSet;

use aes::cipher::BlockEncrypt;
use en_protocol::derive::{padded_data, KeySchedule, Metadata};
use en_protocol::matching::{DerivedKeys, Hit, Scan};
use en_protocol::risk::{assess, exposure_windows};
use en_protocol::wire::key::DiagnosisKey;
use en_protocol::UnixTime;

use super::ble::{self, mix};
use super::contacts::Session;
use super::keys::{day_of, tek};
use super::population::MODELS;
use super::world::World;
use super::{EPOCH, SCAN_INTERVAL};

impl World {
    /// Every app user's matching against the night's keys: (phone, the cases that caused its
    /// notification) for each phone notified, in person order.
    pub(super) fn match_phones(&self, today: u32, keys: &[DiagnosisKey]) -> Vec<(u32, Vec<u32>)> {
        let derived = DerivedKeys::new(keys);
        let users: Vec<u32> = (0..self.pop.people.len() as u32)
            .filter(|&p| self.pop.people[p as usize].app)
            .collect();
        let chunk = users.len().div_ceil(self.cfg.threads.max(1)).max(1);
        std::thread::scope(|sc| {
            let handles: Vec<_> = users
                .chunks(chunk)
                .map(|part| {
                    let derived = &derived;
                    sc.spawn(move || {
                        part.iter()
                            .map(|&p| (p, self.phone_assessment(p, today, derived, keys)))
                            .filter(|(_, s)| !s.is_empty())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("matcher thread"))
                .collect()
        })
    }

    /// The scans phone `me` recorded of phone `other` during session `s` (id `sid`), each
    /// passed to `f` with its sender and day.
    fn scans_of(&self, me: u32, s: &Session, sid: u64, mut f: impl FnMut(Scan, u32, i64)) {
        let other = if s.a == me { s.b } else { s.a };
        if !self.pop.people[other as usize].app {
            return;
        }
        let distance = f64::from(s.distance_cm) / 100.0;
        if distance > ble::MAX_RANGE_M {
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
            let Some(cipher) = self.ciphers.get(other, day) else {
                continue;
            };
            let mut block = padded_data(UnixTime(sender_time).interval()).into();
            cipher.encrypt_block(&mut block);
            let rssi = ble::rssi(
                tx,
                distance,
                rx_offset,
                self.cfg.noise_db,
                mix(sid ^ (u64::from(k) << 48) ^ u64::from(me)),
            );
            f(
                Scan {
                    rpi: block.into(),
                    aem: [0; 4],
                    time: UnixTime(t),
                    rssi,
                    seconds: seconds as u16,
                },
                other,
                day,
            );
        }
    }

    /// One phone's matching and scoring against the day's new keys: the cases (ground
    /// truth, by key owner) behind the days it is notified for.
    fn phone_assessment(
        &self,
        me: u32,
        today: u32,
        derived: &DerivedKeys,
        keys: &[DiagnosisKey],
    ) -> Vec<u32> {
        let mut scans: Vec<Scan> = Vec::new();
        let mut hits: Vec<Hit> = Vec::new();
        for d in today.saturating_sub(13)..=today {
            let Some(ds) = self.sessions.get(&d) else {
                continue;
            };
            for (i, s) in ds.of(me).enumerate() {
                let sid = mix((u64::from(d) << 40)
                    ^ (u64::from(s.a) << 20)
                    ^ u64::from(s.b)
                    ^ ((i as u64) << 56));
                self.scans_of(me, s, sid, |mut scan, sender, day| {
                    let before = hits.len();
                    derived.probe(&scan, scans.len() as u32, &mut hits);
                    if hits.len() > before {
                        // A hit: record the AEM the sender broadcast with this RPI.
                        let ks = KeySchedule::new(&tek(self.cfg.seed, sender, day));
                        let tx = MODELS[self.pop.people[sender as usize].model as usize].0;
                        scan.aem = ks
                            .aem(
                                &scan.rpi,
                                &Metadata {
                                    version: 0x40,
                                    tx_power: tx,
                                }
                                .to_bytes(),
                            )
                            .try_into()
                            .expect("4 bytes");
                        scans.push(scan);
                    }
                });
            }
        }
        if hits.is_empty() {
            return Vec::new();
        }
        let a = assess(exposure_windows(&hits, keys, &scans), &self.rc);
        if a.notify_days.is_empty() {
            return Vec::new();
        }
        // Which cases caused it (ground truth bookkeeping only).
        let mut sources: BTreeSet<u32> = BTreeSet::new();
        for w in &a.windows {
            if a.notify_days.contains(&w.window.day) {
                if let Some(&p) = self
                    .tek_owner
                    .get(keys[w.window.key as usize].key.as_bytes())
                {
                    sources.insert(p);
                }
            }
        }
        sources.into_iter().collect()
    }
}
