//! Verification certificate: an authority's permission for one patient's phone to upload
//! the keys whose tekmac it carries.

use super::key::UploadKey;
use super::{
    put_header, put_opt_interval, read_opt_interval, split_signature, Audience, AuthorityId,
    Reader, Region, ReportType,
};
use crate::error::{DecodeError, Error, VerifyError};
use crate::keys::{context, SigningKey};
use crate::time::{IntervalNumber, UnixTime};
use crate::verify::{verify_authority, AuthorityRegistry};

/// Magic of a verification certificate.
pub const MAGIC: &[u8; 4] = b"ENVC";

/// The content of a verification certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Who issues.
    pub authority: AuthorityId,
    /// How the case was established.
    pub report_type: ReportType,
    /// When symptoms began, if known.
    pub symptom_onset: Option<IntervalNumber>,
    /// When issued.
    pub issued_at: UnixTime,
    /// First second at which the certificate is no longer valid; after `issued_at`.
    pub expires_at: UnixTime,
    /// The server that may accept it.
    pub audience: Audience,
    /// Random id; a server accepts each certificate once.
    pub id: [u8; 16],
    /// HMAC-SHA256 of the keys, see [`crate::tekmac`].
    pub tekmac: [u8; 32],
}

impl Certificate {
    /// Signs and encodes the certificate.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, Error> {
        if self.expires_at <= self.issued_at {
            return Err(Error::Usage("a certificate must expire after it is issued"));
        }
        let mut out = Vec::with_capacity(256);
        put_header(&mut out, MAGIC);
        self.authority.write(&mut out);
        out.push(self.report_type.code());
        put_opt_interval(&mut out, self.symptom_onset);
        out.extend_from_slice(&self.issued_at.0.to_be_bytes());
        out.extend_from_slice(&self.expires_at.0.to_be_bytes());
        self.audience.write(&mut out);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.tekmac);
        let sig = key.sign(context::CERTIFICATE, &out);
        out.extend_from_slice(&sig);
        Ok(out)
    }
}

/// A decoded, unverified certificate.
#[derive(Debug, Clone)]
pub struct SignedCertificate {
    cert: Certificate,
    bytes: Vec<u8>,
}

impl SignedCertificate {
    /// Strictly decodes a certificate.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (body, _) = split_signature(bytes, "certificate")?;
        let mut r = Reader::new(body);
        r.header(MAGIC, "verification certificate")?;
        let authority = AuthorityId::read(&mut r)?;
        let report_type = ReportType::from_code(r.u8("report type")?)?;
        let symptom_onset = read_opt_interval(&mut r, "symptom onset")?;
        let issued_at = UnixTime(r.u64("issued at")?);
        let expires_at = UnixTime(r.u64("expires at")?);
        if expires_at <= issued_at {
            return Err(DecodeError::OutOfRange("expires at"));
        }
        let audience = Audience::read(&mut r)?;
        let id = r.array("certificate id")?;
        let tekmac = r.array("tekmac")?;
        r.finish()?;
        Ok(SignedCertificate {
            cert: Certificate {
                authority,
                report_type,
                symptom_onset,
                issued_at,
                expires_at,
                audience,
                id,
                tekmac,
            },
            bytes: bytes.to_vec(),
        })
    }

    /// The wire bytes as decoded.
    pub fn encode(&self) -> &[u8] {
        &self.bytes
    }

    /// The claimed issuer (unauthenticated).
    pub fn claimed_authority(&self) -> &AuthorityId {
        &self.cert.authority
    }

    /// Checks signature, issuer, audience and validity at `now` (allowing `skew` seconds of
    /// clock difference for `issued_at`).
    pub fn verify(
        self,
        registry: &impl AuthorityRegistry,
        audience: &Audience,
        now: UnixTime,
        skew: u64,
    ) -> Result<VerifiedCertificate, Error> {
        let (body, sig) = split_signature(&self.bytes, "certificate")?;
        let info = verify_authority(
            registry,
            &self.cert.authority,
            None,
            context::CERTIFICATE,
            body,
            &sig,
        )?;
        if &self.cert.audience != audience {
            return Err(VerifyError::WrongAudience.into());
        }
        if now >= self.cert.expires_at {
            return Err(VerifyError::Expired.into());
        }
        if self.cert.issued_at > now.plus(skew) {
            return Err(VerifyError::NotYetValid.into());
        }
        Ok(VerifiedCertificate {
            cert: self.cert,
            authority_region: info.region,
        })
    }
}

/// A certificate that verified; [`VerifiedCertificate::bind`] ties it to the uploaded keys.
#[derive(Debug, Clone)]
pub struct VerifiedCertificate {
    cert: Certificate,
    /// The only region the issuing authority may report for, if it is restricted.
    authority_region: Option<Region>,
}

impl VerifiedCertificate {
    /// The verified content.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// Checks that `keys` are exactly the keys the certificate's tekmac covers.
    pub fn bind(self, keys: Vec<UploadKey>, hmac_key: &[u8]) -> Result<CertifiedUpload, Error> {
        if !crate::tekmac::check(hmac_key, &keys, &self.cert.tekmac) {
            return Err(VerifyError::TekmacMismatch.into());
        }
        Ok(CertifiedUpload {
            cert: self.cert,
            authority_region: self.authority_region,
            keys,
        })
    }
}

/// Keys a phone uploaded, proven to be the ones its authority certified.
#[derive(Debug, Clone)]
pub struct CertifiedUpload {
    cert: Certificate,
    authority_region: Option<Region>,
    keys: Vec<UploadKey>,
}

impl CertifiedUpload {
    /// The only region the issuing authority may report for, if it is restricted.
    pub fn authority_region(&self) -> Option<&Region> {
        self.authority_region.as_ref()
    }
    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }
    /// The keys.
    pub fn keys(&self) -> &[UploadKey] {
        &self.keys
    }
}
