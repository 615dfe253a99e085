//! Revision token (`ENRT` v1): what a server hands a phone with an upload of a revisable
//! report type (clinical diagnosis or self-report), so the phone can later revise the same
//! keys to `confirmed` or `revoked` (spec/wire-format.md, "Revision token").
//!
//! ```text
//! magic "ENRT" ‖ version 1 ‖ report_type u8 ‖ expires_at u64 ‖ nonce[16] ‖ mac[32]
//! mac = HMAC-SHA256(secret, "en/v1/revision-token\0" ‖ bytes[0..30] ‖ key_set_digest(keys))
//! ```
//!
//! The token is stateless and carries no key material, no authority and no certificate id:
//! it only shows that its holder uploaded a key set with the given type. The server keeps
//! no mapping from tokens to uploads; the MAC binds the token to the SHA-256 digest of the
//! canonical sorted key set, which the revision request must present again.

use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::key::UploadKey;
use super::{put_header, Reader, ReportType};
use crate::error::{DecodeError, Error, VerifyError};
use crate::time::UnixTime;

/// Magic of a revision token.
pub const MAGIC: &[u8; 4] = b"ENRT";
/// Encoded length of a revision token.
pub const ENCODED_LEN: usize = 5 + 1 + 8 + 16 + 32;
/// Length of the MAC-covered header and fields.
const BODY_LEN: usize = ENCODED_LEN - 32;
/// Domain separation of the token's MAC.
const MAC_LABEL: &[u8] = b"en/v1/revision-token\0";
/// Domain separation of the key-set digest.
const KEY_SET_LABEL: &[u8] = b"en/v1/revision-key-set\0";
/// Default validity of a token: 14 days.
pub const DEFAULT_LIFETIME_SECONDS: u64 = 14 * 86_400;

/// Whether keys of `t` may be revised (and so get a token at upload).
pub fn is_revisable(t: ReportType) -> bool {
    matches!(
        t,
        ReportType::ConfirmedClinicalDiagnosis | ReportType::SelfReport
    )
}

/// Whether a revision may set keys to `t`.
pub fn is_revision_target(t: ReportType) -> bool {
    matches!(t, ReportType::ConfirmedTest | ReportType::Revoked)
}

/// SHA-256 of the canonical key set: each key as `key[16] ‖ rolling_start u32 ‖
/// rolling_period u8`, sorted byte-wise, duplicates kept, behind a domain label. The
/// transmission risk is not part of the set (a revision may not change it, but a phone
/// need not remember it).
pub fn key_set_digest(keys: &[UploadKey]) -> [u8; 32] {
    let mut entries: Vec<[u8; 21]> = keys
        .iter()
        .map(|k| {
            let mut b = [0u8; 21];
            b[..16].copy_from_slice(k.key.as_bytes());
            b[16..20].copy_from_slice(&k.rolling_start.0.to_be_bytes());
            b[20] = k.rolling_period;
            b
        })
        .collect();
    entries.sort_unstable();
    let mut h = Sha256::new();
    h.update(KEY_SET_LABEL);
    h.update((entries.len() as u64).to_be_bytes());
    for e in &entries {
        h.update(e);
    }
    h.finalize().into()
}

/// The server secret that MACs revision tokens (`revision.key` in the data directory).
/// Its `Debug` never shows it; it is zeroized on drop.
#[derive(Clone)]
pub struct RevisionSecret(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for RevisionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevisionSecret(<secret>)")
    }
}

impl RevisionSecret {
    /// The secret from its 32 bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        RevisionSecret(Zeroizing::new(b))
    }

    fn mac(&self, body: &[u8], digest: &[u8; 32]) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256>>::new_from_slice(self.0.as_slice()).expect("any key length");
        m.update(MAC_LABEL);
        m.update(body);
        m.update(digest);
        m
    }

    /// Issues a token for an upload of `keys` with `report_type` at `now`, valid for
    /// `lifetime_seconds`. Fails for a type that cannot be revised.
    pub fn issue(
        &self,
        report_type: ReportType,
        keys: &[UploadKey],
        now: UnixTime,
        lifetime_seconds: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Result<RevisionToken, Error> {
        if !is_revisable(report_type) {
            return Err(Error::Usage(
                "only clinical and self-report uploads get a revision token",
            ));
        }
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        let mut t = RevisionToken {
            report_type,
            expires_at: now.plus(lifetime_seconds),
            nonce,
            mac: [0; 32],
        };
        let body = t.body();
        t.mac = self
            .mac(&body, &key_set_digest(keys))
            .finalize()
            .into_bytes()
            .into();
        Ok(t)
    }

    /// The token for an accepted upload, if its report type is revisable (`None` otherwise).
    pub fn issue_for(
        &self,
        upload: &crate::accept::AcceptedUpload,
        now: UnixTime,
        lifetime_seconds: u64,
        rng: &mut impl CryptoRngCore,
    ) -> Option<RevisionToken> {
        if !is_revisable(upload.report_type()) {
            return None;
        }
        let keys: Vec<UploadKey> = upload
            .keys()
            .iter()
            .map(|k| UploadKey {
                key: k.key.key.clone(),
                rolling_start: k.key.meta.rolling_start,
                rolling_period: k.key.meta.rolling_period,
                transmission_risk: k.key.meta.transmission_risk,
            })
            .collect();
        self.issue(upload.report_type(), &keys, now, lifetime_seconds, rng)
            .ok()
    }

    /// Checks `token` for `keys` at `now`: the MAC (constant time) over the key set, then
    /// the expiry. Returns the report type the keys were uploaded with.
    pub fn verify(
        &self,
        token: &RevisionToken,
        keys: &[UploadKey],
        now: UnixTime,
    ) -> Result<ReportType, Error> {
        self.mac(&token.body(), &key_set_digest(keys))
            .verify_slice(&token.mac)
            .map_err(|_| VerifyError::RevisionTokenMismatch)?;
        if now >= token.expires_at {
            return Err(VerifyError::RevisionTokenExpired.into());
        }
        Ok(token.report_type)
    }
}

/// A decoded revision token (unverified until [`RevisionSecret::verify`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionToken {
    /// The report type of the upload it was issued for (clinical or self-report).
    pub report_type: ReportType,
    /// First second at which it is no longer accepted.
    pub expires_at: UnixTime,
    /// Random; makes every token distinct (the single-use record is keyed on it).
    pub nonce: [u8; 16],
    /// The server's MAC.
    pub mac: [u8; 32],
}

impl RevisionToken {
    fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENCODED_LEN);
        put_header(&mut out, MAGIC);
        out.push(self.report_type.code());
        out.extend_from_slice(&self.expires_at.0.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        debug_assert_eq!(out.len(), BODY_LEN);
        out
    }

    /// Encodes the token (62 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.body();
        out.extend_from_slice(&self.mac);
        out
    }

    /// Strictly decodes a token: exact length, known version, a revisable report type.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC, "revision token")?;
        let report_type = ReportType::from_code(r.u8("report type")?)?;
        if !is_revisable(report_type) {
            return Err(DecodeError::OutOfRange("report type"));
        }
        let expires_at = UnixTime(r.u64("expires at")?);
        let nonce = r.array("nonce")?;
        let mac = r.array("mac")?;
        r.finish()?;
        Ok(RevisionToken {
            report_type,
            expires_at,
            nonce,
            mac,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::TemporaryExposureKey;
    use crate::time::IntervalNumber;
    use rand_chacha::rand_core::SeedableRng;

    fn keys() -> Vec<UploadKey> {
        (0..3u8)
            .map(|i| UploadKey {
                key: TemporaryExposureKey::from_bytes([i + 1; 16]),
                rolling_start: IntervalNumber(2_800_000 + 144 * u32::from(i)),
                rolling_period: 144,
                transmission_risk: i,
            })
            .collect()
    }

    #[test]
    fn issue_verify_round_trip_and_refusals() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let s = RevisionSecret::from_bytes([7; 32]);
        let now = UnixTime(1_700_000_000);
        let t = s
            .issue(ReportType::SelfReport, &keys(), now, 100, &mut rng)
            .unwrap();
        let bytes = t.encode();
        assert_eq!(bytes.len(), ENCODED_LEN);
        let d = RevisionToken::decode(&bytes).unwrap();
        assert_eq!(d, t);
        // Key order and transmission risk do not matter.
        let mut k = keys();
        k.reverse();
        k[0].transmission_risk = 8;
        assert_eq!(s.verify(&d, &k, now.plus(99)), Ok(ReportType::SelfReport));
        assert_eq!(
            s.verify(&d, &keys(), now.plus(100)).unwrap_err().code(),
            "revision_token_expired"
        );
        assert_eq!(
            s.verify(&d, &keys()[..2], now).unwrap_err().code(),
            "revision_token_mismatch"
        );
        let other = RevisionSecret::from_bytes([8; 32]);
        assert!(other.verify(&d, &keys(), now).is_err());
        let mut forged = d.clone();
        forged.expires_at = now.plus(1_000_000);
        assert!(s.verify(&forged, &keys(), now).is_err());
        assert!(s
            .issue(ReportType::ConfirmedTest, &keys(), now, 1, &mut rng)
            .is_err());
    }

    #[test]
    fn decoder_is_strict_and_debug_hides_the_secret() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let s = RevisionSecret::from_bytes([0x5a; 32]);
        assert_eq!(format!("{s:?}"), "RevisionSecret(<secret>)");
        let b = s
            .issue(
                ReportType::ConfirmedClinicalDiagnosis,
                &keys(),
                UnixTime(1),
                1,
                &mut rng,
            )
            .unwrap()
            .encode();
        assert!(RevisionToken::decode(&b[..b.len() - 1]).is_err());
        let mut long = b.clone();
        long.push(0);
        assert!(RevisionToken::decode(&long).is_err());
        let mut p = b.clone();
        p[5] = ReportType::ConfirmedTest.code();
        assert_eq!(
            RevisionToken::decode(&p),
            Err(DecodeError::OutOfRange("report type"))
        );
        let mut p = b.clone();
        p[4] = 2;
        assert!(RevisionToken::decode(&p).is_err());
    }
}
