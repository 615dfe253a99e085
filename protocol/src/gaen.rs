//! GAEN export files (`export.bin` + `export.sig` inside `export.zip`), so researchers can
//! replay real published keys through our matcher.
//!
//! `export.bin` = the 16-byte header `"EK Export v1    "` + a protobuf
//! `TemporaryExposureKeyExport`; `export.sig` = a protobuf `TEKSignatureList` whose signatures
//! are ECDSA P-256 / SHA-256 (DER) over the whole `export.bin`. The zip container is IO-side
//! (the caller unpacks it); this module only parses bytes.
//!
//! Protobuf is not a canonical encoding (field order, default values, unknown fields), so
//! decoding here is strict about wire types and lengths but, like protobuf, skips unknown
//! fields; the property that holds is `decode(encode(decode(x))) == decode(x)`.

use p256::ecdsa::signature::Verifier;
use p256::pkcs8::DecodePublicKey;

use crate::error::{DecodeError, Error, VerifyError};
use crate::keys::TemporaryExposureKey;
use crate::wire::key::{DiagnosisKey, KeyMetadata};
use crate::wire::ReportType;
use crate::IntervalNumber;

/// The 16-byte header of `export.bin`.
pub const HEADER: &[u8; 16] = b"EK Export v1    ";
/// Most keys accepted in one file (GAEN phones cap a file at 1,000,000).
pub const MAX_KEYS: usize = 1_000_000;
/// Largest `export.bin` accepted (keys are ~30 bytes each).
pub const MAX_EXPORT_LEN: usize = 64 << 20;

/// One key of an export file, as GAEN encodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaenKey {
    /// 16 bytes.
    pub key_data: Vec<u8>,
    /// Deprecated transmission risk.
    pub transmission_risk_level: Option<i32>,
    /// Rolling start interval.
    pub rolling_start_interval_number: Option<i32>,
    /// Rolling period (default 144).
    pub rolling_period: Option<i32>,
    /// Report type (0 unknown .. 5 revoked).
    pub report_type: Option<i32>,
    /// Days since onset (sint32).
    pub days_since_onset_of_symptoms: Option<i32>,
}

/// `SignatureInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignatureInfo {
    /// Key version.
    pub verification_key_version: Option<String>,
    /// Key id.
    pub verification_key_id: Option<String>,
    /// Algorithm OID.
    pub signature_algorithm: Option<String>,
}

/// `TemporaryExposureKeyExport`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Export {
    /// Window start (Unix seconds).
    pub start_timestamp: Option<u64>,
    /// Window end.
    pub end_timestamp: Option<u64>,
    /// Region.
    pub region: Option<String>,
    /// Batch number.
    pub batch_num: Option<i32>,
    /// Batch size.
    pub batch_size: Option<i32>,
    /// Signature infos.
    pub signature_infos: Vec<SignatureInfo>,
    /// Keys.
    pub keys: Vec<GaenKey>,
    /// Revised keys.
    pub revised_keys: Vec<GaenKey>,
}

/// One `TEKSignature`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TekSignature {
    /// Which key signed.
    pub signature_info: Option<SignatureInfo>,
    /// Batch number.
    pub batch_num: Option<i32>,
    /// Batch size.
    pub batch_size: Option<i32>,
    /// DER ECDSA signature.
    pub signature: Vec<u8>,
}

// ---- protobuf primitives -------------------------------------------------------------

struct Pb<'a> {
    b: &'a [u8],
}

enum Val<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    /// A 32-bit fixed field; no known field uses it, so its value is skipped.
    Fixed32,
}

impl<'a> Pb<'a> {
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&c, rest) = self
                .b
                .split_first()
                .ok_or(DecodeError::Truncated("varint"))?;
            self.b = rest;
            if i == 9 && c > 1 {
                return Err(DecodeError::OutOfRange("varint"));
            }
            v |= u64::from(c & 0x7f) << (7 * i);
            if c & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::OutOfRange("varint"))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.b.len() < n {
            return Err(DecodeError::Truncated("protobuf field"));
        }
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        Ok(a)
    }
    fn next(&mut self) -> Result<Option<(u64, Val<'a>)>, DecodeError> {
        if self.b.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let field = tag >> 3;
        if field == 0 {
            return Err(DecodeError::OutOfRange("protobuf field number"));
        }
        let v = match tag & 7 {
            0 => Val::Varint(self.varint()?),
            1 => Val::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().expect("8"))),
            2 => {
                let n = self.varint()?;
                let n = usize::try_from(n).map_err(|_| DecodeError::OutOfRange("length"))?;
                Val::Bytes(self.take(n)?)
            }
            5 => {
                self.take(4)?;
                Val::Fixed32
            }
            _ => return Err(DecodeError::OutOfRange("protobuf wire type")),
        };
        Ok(Some((field, v)))
    }
}

fn int32(v: &Val<'_>) -> Result<i32, DecodeError> {
    match v {
        // int32 is sign-extended to 64 bits on the wire.
        Val::Varint(x) => Ok(*x as i64 as i32),
        _ => Err(DecodeError::OutOfRange("int32 wire type")),
    }
}
fn bytes<'a>(v: &Val<'a>) -> Result<&'a [u8], DecodeError> {
    match v {
        Val::Bytes(b) => Ok(b),
        _ => Err(DecodeError::OutOfRange("bytes wire type")),
    }
}
fn string(v: &Val<'_>) -> Result<String, DecodeError> {
    String::from_utf8(bytes(v)?.to_vec()).map_err(|_| DecodeError::BadText("UTF-8"))
}
fn fixed64(v: &Val<'_>) -> Result<u64, DecodeError> {
    match v {
        Val::Fixed64(x) => Ok(*x),
        _ => Err(DecodeError::OutOfRange("fixed64 wire type")),
    }
}

fn decode_sig_info(b: &[u8]) -> Result<SignatureInfo, DecodeError> {
    let mut p = Pb { b };
    let mut s = SignatureInfo::default();
    while let Some((f, v)) = p.next()? {
        match f {
            3 => s.verification_key_version = Some(string(&v)?),
            4 => s.verification_key_id = Some(string(&v)?),
            5 => s.signature_algorithm = Some(string(&v)?),
            _ => {}
        }
    }
    Ok(s)
}

fn decode_key(b: &[u8]) -> Result<GaenKey, DecodeError> {
    let mut p = Pb { b };
    let mut k = GaenKey {
        key_data: Vec::new(),
        transmission_risk_level: None,
        rolling_start_interval_number: None,
        rolling_period: None,
        report_type: None,
        days_since_onset_of_symptoms: None,
    };
    while let Some((f, v)) = p.next()? {
        match f {
            1 => k.key_data = bytes(&v)?.to_vec(),
            2 => k.transmission_risk_level = Some(int32(&v)?),
            3 => k.rolling_start_interval_number = Some(int32(&v)?),
            4 => k.rolling_period = Some(int32(&v)?),
            5 => k.report_type = Some(int32(&v)?),
            6 => {
                let Val::Varint(x) = v else {
                    return Err(DecodeError::OutOfRange("sint32 wire type"));
                };
                let z = x as u32;
                k.days_since_onset_of_symptoms = Some(((z >> 1) as i32) ^ -((z & 1) as i32));
            }
            _ => {}
        }
    }
    Ok(k)
}

impl Export {
    /// Parses `export.bin` (header + protobuf).
    pub fn decode(bin: &[u8]) -> Result<Self, DecodeError> {
        if bin.len() > MAX_EXPORT_LEN {
            return Err(DecodeError::TooMany {
                what: "export bytes",
                count: bin.len() as u64,
                max: MAX_EXPORT_LEN as u64,
            });
        }
        if bin.len() < HEADER.len() {
            return Err(DecodeError::Truncated("export header"));
        }
        if &bin[..16] != HEADER {
            return Err(DecodeError::BadMagic("GAEN export (EK Export v1)"));
        }
        let mut p = Pb { b: &bin[16..] };
        let mut e = Export::default();
        while let Some((f, v)) = p.next()? {
            match f {
                1 => e.start_timestamp = Some(fixed64(&v)?),
                2 => e.end_timestamp = Some(fixed64(&v)?),
                3 => e.region = Some(string(&v)?),
                4 => e.batch_num = Some(int32(&v)?),
                5 => e.batch_size = Some(int32(&v)?),
                6 => e.signature_infos.push(decode_sig_info(bytes(&v)?)?),
                7 | 8 => {
                    if e.keys.len() + e.revised_keys.len() >= MAX_KEYS {
                        return Err(DecodeError::TooMany {
                            what: "keys",
                            count: MAX_KEYS as u64 + 1,
                            max: MAX_KEYS as u64,
                        });
                    }
                    let k = decode_key(bytes(&v)?)?;
                    if f == 7 {
                        e.keys.push(k)
                    } else {
                        e.revised_keys.push(k)
                    }
                }
                _ => {}
            }
        }
        Ok(e)
    }

    /// Encodes `export.bin` (fields in GAEN's order, absent optionals omitted).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = HEADER.to_vec();
        if let Some(v) = self.start_timestamp {
            put_tag(&mut out, 1, 1);
            out.extend_from_slice(&v.to_le_bytes());
        }
        if let Some(v) = self.end_timestamp {
            put_tag(&mut out, 2, 1);
            out.extend_from_slice(&v.to_le_bytes());
        }
        if let Some(r) = &self.region {
            put_bytes(&mut out, 3, r.as_bytes());
        }
        put_int(&mut out, 4, self.batch_num);
        put_int(&mut out, 5, self.batch_size);
        for s in &self.signature_infos {
            put_bytes(&mut out, 6, &encode_sig_info(s));
        }
        for (f, keys) in [(7, &self.keys), (8, &self.revised_keys)] {
            for k in keys {
                let mut m = Vec::new();
                put_bytes(&mut m, 1, &k.key_data);
                put_int(&mut m, 2, k.transmission_risk_level);
                put_int(&mut m, 3, k.rolling_start_interval_number);
                put_int(&mut m, 4, k.rolling_period);
                put_int(&mut m, 5, k.report_type);
                if let Some(d) = k.days_since_onset_of_symptoms {
                    put_tag(&mut m, 6, 0);
                    put_varint(&mut m, u64::from(((d << 1) ^ (d >> 31)) as u32));
                }
                put_bytes(&mut out, f, &m);
            }
        }
        out
    }

    /// Converts the keys to diagnosis keys; keys GAEN phones would ignore (wrong length,
    /// out-of-range fields, unknown report type) are skipped and counted.
    pub fn diagnosis_keys(&self) -> (Vec<DiagnosisKey>, usize) {
        let mut out = Vec::with_capacity(self.keys.len());
        let mut skipped = 0;
        for k in &self.keys {
            let conv = (|| {
                let key: [u8; 16] = k.key_data.clone().try_into().ok()?;
                let report_type = match k.report_type.unwrap_or(1) {
                    0 | 1 => ReportType::ConfirmedTest,
                    2 => ReportType::ConfirmedClinicalDiagnosis,
                    3 => ReportType::SelfReport,
                    5 => ReportType::Revoked,
                    _ => return None,
                };
                let meta = KeyMetadata {
                    rolling_start: IntervalNumber(
                        u32::try_from(k.rolling_start_interval_number.unwrap_or(0)).ok()?,
                    ),
                    rolling_period: u8::try_from(k.rolling_period.unwrap_or(144)).ok()?,
                    transmission_risk: u8::try_from(k.transmission_risk_level.unwrap_or(0)).ok()?,
                    report_type,
                    days_since_onset: k
                        .days_since_onset_of_symptoms
                        .and_then(|d| i8::try_from(d).ok()),
                };
                meta.check().ok()?;
                Some(DiagnosisKey {
                    key: TemporaryExposureKey::from_bytes(key),
                    meta,
                })
            })();
            match conv {
                Some(d) => out.push(d),
                None => skipped += 1,
            }
        }
        (out, skipped)
    }
}

fn encode_sig_info(s: &SignatureInfo) -> Vec<u8> {
    let mut m = Vec::new();
    for (f, v) in [
        (3, &s.verification_key_version),
        (4, &s.verification_key_id),
        (5, &s.signature_algorithm),
    ] {
        if let Some(v) = v {
            put_bytes(&mut m, f, v.as_bytes());
        }
    }
    m
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
fn put_tag(out: &mut Vec<u8>, field: u64, wire: u64) {
    put_varint(out, field << 3 | wire);
}
fn put_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    put_tag(out, field, 2);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}
fn put_int(out: &mut Vec<u8>, field: u64, v: Option<i32>) {
    if let Some(v) = v {
        put_tag(out, field, 0);
        put_varint(out, v as i64 as u64);
    }
}

/// Parses `export.sig`.
pub fn decode_signatures(sig: &[u8]) -> Result<Vec<TekSignature>, DecodeError> {
    let mut p = Pb { b: sig };
    let mut out = Vec::new();
    while let Some((f, v)) = p.next()? {
        if f != 1 {
            continue;
        }
        if out.len() >= 16 {
            return Err(DecodeError::TooMany {
                what: "signatures",
                count: 17,
                max: 16,
            });
        }
        let mut q = Pb { b: bytes(&v)? };
        let mut s = TekSignature::default();
        while let Some((g, w)) = q.next()? {
            match g {
                1 => s.signature_info = Some(decode_sig_info(bytes(&w)?)?),
                2 => s.batch_num = Some(int32(&w)?),
                3 => s.batch_size = Some(int32(&w)?),
                4 => s.signature = bytes(&w)?.to_vec(),
                _ => {}
            }
        }
        out.push(s);
    }
    Ok(out)
}

/// A GAEN export whose `export.bin` verified under the given public key.
#[derive(Debug, Clone)]
pub struct VerifiedExport {
    /// The parsed content.
    pub export: Export,
    /// Which signature (by key id) verified.
    pub key_id: Option<String>,
}

/// Verifies `export.bin` against `export.sig` with a P-256 public key in PEM (SPKI) form:
/// at least one ECDSA-SHA256 signature in the list must verify over the whole `export.bin`.
pub fn verify_export(
    bin: &[u8],
    sig: &[u8],
    public_key_pem: &str,
) -> Result<VerifiedExport, Error> {
    let export = Export::decode(bin)?;
    let sigs = decode_signatures(sig)?;
    let vk = p256::ecdsa::VerifyingKey::from_public_key_pem(public_key_pem)
        .map_err(|_| DecodeError::BadText("P-256 public key PEM"))?;
    for s in &sigs {
        let Ok(der) = p256::ecdsa::DerSignature::from_bytes(&s.signature) else {
            continue;
        };
        let Ok(sig) = p256::ecdsa::Signature::from_der(der.as_bytes()) else {
            continue;
        };
        if vk.verify(bin, &sig).is_ok() {
            return Ok(VerifiedExport {
                export,
                key_id: s
                    .signature_info
                    .as_ref()
                    .and_then(|i| i.verification_key_id.clone()),
            });
        }
    }
    Err(VerifyError::BadSignature.into())
}
