//! A phone's side of verification codes (spec/api.md, "Verification codes"): a code for a
//! token (`POST /v1/verify`), the token and the tekmac for a certificate
//! (`POST /v1/certificate`), then the certified upload ([`crate::phone::upload`]).
//!
//! Every request is padded to [`PHONE_REQUEST_BYTES`]; fake (chaff) requests have the same
//! shape, a well-formed random code or token and `"fake": true`, and are answered like real
//! ones.

use base64::Engine;
use en_api::verify::{
    padded, parse_code_input, CertificateAnswer, CertificateRequest, VerifyAnswer, VerifyRequest,
    PHONE_REQUEST_BYTES, SHORT_CODE_DIGITS,
};
use en_protocol::wire::key::UploadKey;
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::transport::Client;
use crate::Error;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn pad<T: serde::Serialize>(body: &T) -> Result<Vec<u8>, Error> {
    padded(body, PHONE_REQUEST_BYTES).ok_or_else(|| {
        Error::Invalid(format!(
            "the request does not fit in {PHONE_REQUEST_BYTES} bytes (an authority id or code that long is not valid)"
        ))
    })
}

/// Exchanges `code` (as the patient typed it, or the link it came as) for a token. The
/// authority is the link's if it names one, else `authority`.
pub async fn redeem(
    client: &Client,
    authority: Option<&str>,
    code: &str,
) -> Result<VerifyAnswer, Error> {
    let input = parse_code_input(code);
    let authority = input
        .authority
        .as_deref()
        .or(authority)
        .ok_or_else(|| {
            Error::Invalid("a bare code needs the authority that issued it (--authority)".into())
        })?
        .to_string();
    let body = VerifyRequest {
        authority,
        code: input.code,
        fake: false,
        padding: None,
    };
    client.post_raw("/v1/verify", pad(&body)?).await
}

/// Exchanges a token and the tekmac of the keys to upload for a certificate (its bytes).
pub async fn certificate(
    client: &Client,
    token: &str,
    tekmac: &[u8; 32],
) -> Result<Vec<u8>, Error> {
    let body = CertificateRequest {
        token: token.to_string(),
        tekmac: B64.encode(tekmac),
        fake: false,
        padding: None,
    };
    let a: CertificateAnswer = client.post_raw("/v1/certificate", pad(&body)?).await?;
    B64.decode(a.certificate.as_bytes())
        .map_err(|_| Error::BadAnswer("the certificate is not base64"))
}

/// What [`upload_with_code`] did.
#[derive(Debug, Clone)]
pub struct CodeUpload {
    /// The test result the code was issued for.
    pub verified: en_api::verify::TestType,
    /// Keys the server stored.
    pub accepted_keys: usize,
}

/// The whole flow: redeems `code`, draws an HMAC key, gets a certificate for the tekmac of
/// `keys`, and uploads them.
pub async fn upload_with_code(
    client: &Client,
    authority: Option<&str>,
    code: &str,
    keys: &[UploadKey],
    rng: &mut impl CryptoRngCore,
) -> Result<CodeUpload, Error> {
    upload_with_code_visiting(client, authority, code, keys, &[], rng).await
}

/// [`upload_with_code`], naming the regions the person visited in the last 14 days (see
/// [`crate::phone::upload_visiting`]).
pub async fn upload_with_code_visiting(
    client: &Client,
    authority: Option<&str>,
    code: &str,
    keys: &[UploadKey],
    visited: &[en_protocol::wire::Region],
    rng: &mut impl CryptoRngCore,
) -> Result<CodeUpload, Error> {
    let v = redeem(client, authority, code).await?;
    let mut hk = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(hk.as_mut());
    let mac = en_protocol::tekmac::tekmac(hk.as_ref(), keys, true);
    let cert = certificate(client, &v.token, &mac).await?;
    let (cert, hk) = (B64.encode(cert), B64.encode(hk.as_ref()));
    let n = crate::phone::upload_visiting(client, keys, &cert, &hk, visited).await?;
    Ok(CodeUpload {
        verified: v.test_type,
        accepted_keys: n,
    })
}

/// A fake `POST /v1/verify` for `authority`: a random short code, `"fake": true`, the same
/// size as a real request. The server answers like a real redeem and changes nothing.
pub async fn chaff_verify(
    client: &Client,
    authority: &str,
    rng: &mut impl CryptoRngCore,
) -> Result<(), Error> {
    let code: String = (0..SHORT_CODE_DIGITS)
        .map(|_| char::from(b'0' + (rng.next_u32() % 10) as u8))
        .collect();
    let body = VerifyRequest {
        authority: authority.to_string(),
        code,
        fake: true,
        padding: None,
    };
    let _: VerifyAnswer = client.post_raw("/v1/verify", pad(&body)?).await?;
    Ok(())
}

/// A fake `POST /v1/certificate`: a random token and tekmac, `"fake": true`.
pub async fn chaff_certificate(client: &Client, rng: &mut impl CryptoRngCore) -> Result<(), Error> {
    let mut token = [0u8; 32];
    rng.fill_bytes(&mut token);
    let mut mac = [0u8; 32];
    rng.fill_bytes(&mut mac);
    let body = CertificateRequest {
        token: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token),
        tekmac: B64.encode(mac),
        fake: true,
        padding: None,
    };
    let _: CertificateAnswer = client.post_raw("/v1/certificate", pad(&body)?).await?;
    Ok(())
}
