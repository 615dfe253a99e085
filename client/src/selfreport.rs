//! A phone's side of self-reports (spec/self-report.md): fetch the self-report public key,
//! exchange a test-kit code for a token (blinded, so the server cannot link the two), and
//! later redeem the token for a verification code, which [`crate::verify`] turns into a
//! certificate.
//!
//! The phone should keep the token and redeem it after a random delay (spec/threat-model.md
//! §9: uniform over 1 to 12 hours), so that issuance and redemption cannot be linked by time.

use en_api::self_report::{
    decode_b64, encode_b64, RedeemAnswer, RedeemRequest, SelfReportKeyAnswer, TokenAnswer,
    TokenRequest, SUITE,
};
use en_protocol::selfreport::{phone, Evaluation, SelfReportPublicKey, Token};
use rand_core::CryptoRngCore;

use crate::transport::Client;
use crate::Error;

/// `GET /v1/self-report/key`: the server's self-report public key. A phone keeps the key it
/// first saw and shows any change to the user before using another.
pub async fn public_key(client: &Client) -> Result<SelfReportPublicKey, Error> {
    let b = client.get("/v1/self-report/key").await?;
    let a: SelfReportKeyAnswer = serde_json::from_slice(&b)
        .map_err(|_| Error::BadAnswer("not the JSON the API promises"))?;
    if a.suite != SUITE {
        return Err(Error::BadAnswer("an unknown self-report suite"));
    }
    let k = decode_b64(&a.public_key, 32).ok_or(Error::BadAnswer("the key is not 32 bytes"))?;
    Ok(SelfReportPublicKey::from_slice(&k)?)
}

/// Exchanges `kit_code` for a token: blinds a fresh random input, sends it with the code
/// (which the server spends), checks the server's proof against `key` and unblinds. A proof
/// that does not verify is refused ([`Error::SelfReport`] with `bad_proof`).
pub async fn get_token(
    client: &Client,
    key: &SelfReportPublicKey,
    kit_code: &str,
    rng: &mut impl CryptoRngCore,
) -> Result<Token, Error> {
    let (pending, blinded) = phone::blind(rng);
    let req = TokenRequest {
        kit_code: kit_code.to_string(),
        blinded: encode_b64(&blinded.to_bytes()),
    };
    let a: TokenAnswer = client.post_json("/v1/self-report/tokens", &req).await?;
    let (e, p) = (
        decode_b64(&a.evaluated, 32).ok_or(Error::BadAnswer("the evaluation is not 32 bytes"))?,
        decode_b64(&a.proof, 64).ok_or(Error::BadAnswer("the proof is not 64 bytes"))?,
    );
    let evaluation = Evaluation::from_slices(&e, &p)?;
    Ok(pending.finalize(&evaluation, key)?)
}

/// Redeems `token` (once) for a verification code of type self-report.
pub async fn redeem(client: &Client, token: &Token) -> Result<RedeemAnswer, Error> {
    let req = RedeemRequest {
        input: encode_b64(token.input.as_bytes()),
        output: encode_b64(&token.output),
    };
    client.post_json("/v1/self-report/redeem", &req).await
}
