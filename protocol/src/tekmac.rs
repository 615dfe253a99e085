//! GAEN's "tekmac": an HMAC-SHA256 over the canonical list of a phone's keys.
//!
//! The phone picks a random HMAC key, sends only the MAC to its health authority, and later
//! uploads keys + HMAC key + the authority's certificate (which carries the MAC). The
//! authority never sees the keys; the server can check the keys are the ones certified.
//!
//! Cleartext: keys sorted byte-wise by their base64 (standard, padded) string, each written
//! `b64.rollingStart.rollingPeriod.transmissionRisk`, joined with `,`. A form without the
//! `.transmissionRisk` segment is also accepted, but only when every risk is 0 (as GAEN does).

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::wire::key::UploadKey;

/// The canonical cleartext. `with_risk = false` omits the transmission-risk segment.
pub fn cleartext(keys: &[UploadKey], with_risk: bool) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut parts: Vec<String> = keys
        .iter()
        .map(|k| {
            let mut s = format!(
                "{}.{}.{}",
                b64.encode(k.key.as_bytes()),
                k.rolling_start.0,
                k.rolling_period
            );
            if with_risk {
                s.push_str(&format!(".{}", k.transmission_risk));
            }
            s
        })
        .collect();
    parts.sort_unstable();
    parts.join(",")
}

/// HMAC-SHA256(hmac_key, cleartext(keys, with_risk)).
pub fn tekmac(hmac_key: &[u8], keys: &[UploadKey], with_risk: bool) -> [u8; 32] {
    let mut m = <Hmac<Sha256>>::new_from_slice(hmac_key).expect("HMAC accepts any key length");
    m.update(cleartext(keys, with_risk).as_bytes());
    m.finalize().into_bytes().into()
}

/// Checks `mac` in constant time against both accepted cleartext forms.
pub fn check(hmac_key: &[u8], keys: &[UploadKey], mac: &[u8; 32]) -> bool {
    let verify = |with_risk: bool| {
        let mut m = <Hmac<Sha256>>::new_from_slice(hmac_key).expect("HMAC accepts any key length");
        m.update(cleartext(keys, with_risk).as_bytes());
        m.verify_slice(mac).is_ok()
    };
    verify(true) || (keys.iter().all(|k| k.transmission_risk == 0) && verify(false))
}
