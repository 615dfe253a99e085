//! [`Phone`]: the exported object. Each method locks the protocol phone, converts plain
//! arguments to protocol types, calls the matching sans-IO method and converts the result.
//! The only thing it adds is OS randomness (new daily keys), which the protocol crate takes
//! as an argument and never draws itself.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use en_api::json::JsonKey;
use en_protocol::derive::Metadata;
use en_protocol::keys::PublicKey;
use en_protocol::matching::Scan;
use en_protocol::phone::{self, FollowerConfig};
use en_protocol::verify::ExportKeys;
use en_protocol::wire::Region;
use en_protocol::{Error, UnixTime};
use rand_core::OsRng;
use zeroize::Zeroizing;

use crate::records::{BatchResult, Broadcast, ExposureDay, IndexUpdate, ResyncWarning};
use crate::PhoneError;

/// The Bluetooth metadata version byte the phone encrypts into its AEM (GAEN 1.0).
pub const METADATA_VERSION: u8 = 0x40;

/// One phone: its daily keys, what it heard, its place in the server's key chain, and its
/// exposures. Sans-IO: it never reads the clock, the network or storage. Pass `now` (Unix
/// seconds) to every call that needs it, hand it the bytes the server sent, and persist
/// [`Phone::save`]'s bytes yourself. Safe to share between threads: calls are serialised.
///
/// If a call ever panics (a bug), the phone refuses every later call; restore it from the
/// last [`Phone::save`].
#[derive(uniffi::Object)]
pub struct Phone {
    inner: Mutex<phone::Phone>,
}

/// What the app configures and never stores with the phone: the keys it trusts and its region.
pub(crate) fn follower_config(
    export_public_keys: &[String],
    region: &str,
) -> Result<FollowerConfig, PhoneError> {
    if export_public_keys.is_empty() {
        return Err(Error::Usage("at least one trusted export public key is needed").into());
    }
    let keys = export_public_keys
        .iter()
        .map(|k| PublicKey::from_hex(k))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FollowerConfig::new(
        ExportKeys::new(keys),
        Region::new(region)?,
    ))
}

fn array<const N: usize>(bytes: &[u8], usage: &'static str) -> Result<[u8; N], PhoneError> {
    bytes.try_into().map_err(|_| Error::Usage(usage).into())
}

impl Phone {
    pub(crate) fn lock(&self) -> MutexGuard<'_, phone::Phone> {
        self.inner
            .lock()
            .expect("an earlier call panicked: restore the phone from its last save()")
    }

    pub(crate) fn wrap(phone: phone::Phone) -> Arc<Self> {
        Arc::new(Phone {
            inner: Mutex::new(phone),
        })
    }
}

#[uniffi::export]
impl Phone {
    /// A new phone that trusts `export_public_keys` (the server's export keys, 64 hex
    /// characters each; several during a key rotation) and follows `region` (e.g. `"VN"`).
    /// Call [`Phone::tick`] next: the phone has no key yet.
    #[uniffi::constructor]
    pub fn new(export_public_keys: Vec<String>, region: String) -> Result<Arc<Self>, PhoneError> {
        let config = follower_config(&export_public_keys, &region)?;
        Ok(Self::wrap(phone::Phone::new(config)))
    }

    /// A phone restored from [`Phone::save`]'s bytes, with the same trusted keys and region
    /// as when it was created (they come from the app, not from storage; another region is
    /// refused with `usage`). Downloads in progress are not restored: handle a fresh index.
    #[uniffi::constructor]
    pub fn restore(
        state: Vec<u8>,
        export_public_keys: Vec<String>,
        region: String,
    ) -> Result<Arc<Self>, PhoneError> {
        let state = Zeroizing::new(state);
        let config = follower_config(&export_public_keys, &region)?;
        Ok(Self::wrap(phone::Phone::decode(&state, config)?))
    }

    /// Daily upkeep: draws today's key from the OS's random number generator if the phone
    /// has none, and drops keys, scans and exposures older than 14 days. Call it at start-up
    /// and again at the time it returns (the next UTC midnight, Unix seconds).
    pub fn tick(&self, now: u64) -> u64 {
        let mut phone = self.lock();
        let now = UnixTime(now);
        phone.handle_timeout(now, &mut OsRng);
        phone.poll_timeout(now).0
    }

    /// What to broadcast over Bluetooth during `now`'s 10-minute interval, with the radio's
    /// transmit power `tx_power` (dBm) encrypted into the metadata. Draws today's key first
    /// if [`Phone::tick`] has not.
    pub fn broadcast(&self, now: u64, tx_power: i8) -> Broadcast {
        let metadata = Metadata {
            version: METADATA_VERSION,
            tx_power,
        };
        self.lock()
            .broadcast(UnixTime(now), metadata, &mut OsRng)
            .into()
    }

    /// Records a sighting of another phone: its `rpi` (16 bytes) and `aem` (4 bytes), heard
    /// at `time` (Unix seconds) with signal strength `rssi` (dBm); `seconds` is how long the
    /// sighting stands for (the time since the previous scan). Refused with `usage` for
    /// other lengths, or once the phone holds its maximum of scans.
    pub fn record_scan(
        &self,
        rpi: Vec<u8>,
        aem: Vec<u8>,
        time: u64,
        rssi: i8,
        seconds: u16,
    ) -> Result<(), PhoneError> {
        let scan = Scan {
            rpi: array(&rpi, "an RPI is 16 bytes")?,
            aem: array(&aem, "an AEM is 4 bytes")?,
            time: UnixTime(time),
            rssi,
            seconds,
        };
        Ok(self.lock().record_scan(scan)?)
    }

    /// After a positive test: the phone's keys of the last 14 days and today's, as the JSON
    /// array the health authority uploads (`KEYS.json`:
    /// `[{"key", "rolling_start", "rolling_period", "transmission_risk"}]`, as read by
    /// `en-sim authority upload --keys`). Secret until published: send it only to the
    /// authority, and do not log or keep it.
    pub fn upload_keys_json(&self, now: u64) -> String {
        let keys = self.lock().upload_keys(UnixTime(now));
        let json: Vec<JsonKey> = keys.iter().map(JsonKey::from_upload_key).collect();
        serde_json::to_string_pretty(&json).expect("keys serialize")
    }

    /// Verifies the signed index (`GET /v1/index`) and plans which batches to download. An
    /// index older than one already accepted is refused (`index_rollback`), as are stale,
    /// future, forked, rolled-back and gapped chains (`chain_gap`: see [`Phone::resync`]).
    pub fn handle_index(&self, bytes: Vec<u8>, now: u64) -> Result<IndexUpdate, PhoneError> {
        Ok(self.lock().handle_index(&bytes, UnixTime(now))?.into())
    }

    /// The sequence number of the next batch to download (`GET /v1/batches/{sequence}`), or
    /// none when the phone is up to date with the last index.
    pub fn next_batch(&self) -> Option<u64> {
        self.lock().poll_fetch().map(|e| e.sequence)
    }

    /// The exact size in bytes the signed index announced for [`Phone::next_batch`]: stop
    /// downloading past it.
    pub fn next_batch_size(&self) -> Option<u64> {
        self.lock().poll_fetch().map(|e| e.size)
    }

    /// Verifies the batch [`Phone::next_batch`] named (its hash must be the index's, its
    /// signature trusted, and it must continue the chain), then matches its keys against the
    /// phone's scans and scores the exposures with the risk configuration in force.
    pub fn handle_batch(&self, bytes: Vec<u8>, now: u64) -> Result<BatchResult, PhoneError> {
        Ok(self.lock().handle_batch(&bytes, UnixTime(now))?.into())
    }

    /// Verifies the signed risk configuration (`GET /v1/config`) and scores later batches
    /// with it. Older than one already accepted: refused (`config_rollback`).
    pub fn handle_config(&self, bytes: Vec<u8>, now: u64) -> Result<(), PhoneError> {
        Ok(self.lock().handle_config(&bytes, UnixTime(now))?)
    }

    /// Bridges the chain gap the last [`Phone::handle_index`] refused with `chain_gap`:
    /// forgets the last verified batch and trusts the chain again from the first batch after
    /// the gap. The batches in the gap are never checked against this phone's scans, so only
    /// call it on purpose and show the returned warning to the user. Refused with `usage`
    /// unless the last index reported a gap.
    pub fn resync(&self) -> Result<ResyncWarning, PhoneError> {
        Ok(self.lock().resync_from_index()?.into())
    }

    /// Exposure results, by increasing day, each with the kind of report that caused it.
    pub fn exposures(&self) -> Vec<ExposureDay> {
        let phone = self.lock();
        phone
            .exposures()
            .iter()
            .map(|d| ExposureDay::of(&phone, d))
            .collect()
    }

    /// The UTC days (Unix seconds / 86400) whose exposure reaches the notification
    /// threshold of the risk configuration in force: notify the user if not empty.
    pub fn notify_days(&self) -> Vec<u64> {
        self.lock().notify_days()
    }

    /// Everything the phone must remember (spec/wire-format.md §9), for
    /// [`Phone::restore`]. Holds the phone's secret keys: keep it in the platform's
    /// protected storage, never in logs or backups that leave the device.
    pub fn save(&self) -> Vec<u8> {
        let mut state = self.lock().encode();
        // Moved out, not copied: the only copy left is the one handed to the app.
        std::mem::take(&mut *state)
    }
}

impl fmt::Debug for Phone {
    /// The protocol phone's redacted `Debug`: region, key days, counts; no key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.try_lock() {
            Ok(p) => fmt::Debug::fmt(&*p, f),
            Err(_) => f.write_str("Phone { <busy> }"),
        }
    }
}
