//! Venue tracing, the owner's and the health authority's sides: the owner's trace request for
//! a span of hours, the authority's trace report (the request opened with its sealing key,
//! every key pairing-checked, the message to visitors added, signed), and its upload to
//! `POST /v1/traces`.

use base64::Engine;
use en_api::json::{TraceAccepted, TraceUpload};
use en_protocol::keys::SigningKey;
use en_protocol::venue::trace::MAX_TRACE_HOURS;
use en_protocol::venue::{
    Hour, SealingSecretKey, TraceReport, TraceRequest, TracingSecret, HOUR_SECONDS,
};
use en_protocol::wire::Region;
use en_protocol::UnixTime;
use rand_core::CryptoRngCore;

use crate::authority::authority_id;
use crate::transport::Client;
use crate::Error;

/// The hours a span `[from, to)` overlaps (what the owner and the authority trace).
pub fn hours_between(from: UnixTime, to: UnixTime) -> Result<Vec<Hour>, Error> {
    if to <= from {
        return Err(Error::Invalid("--to must be after --from".into()));
    }
    let (first, last) = (Hour::containing(from).0, Hour::containing(to.minus(1)).0);
    if (last - first) as usize >= MAX_TRACE_HOURS {
        return Err(Error::Invalid(format!(
            "a trace covers at most {MAX_TRACE_HOURS} hours (14 days); this span has {}",
            (to.0 - from.0).div_ceil(HOUR_SECONDS)
        )));
    }
    Ok((first..=last).map(Hour).collect())
}

/// The owner's side: the trace request for the hours `[from, to)` overlaps, computed from
/// the tracing secret (partial keys only: the owner's share never leaves the owner).
pub fn trace_request(
    secret: &TracingSecret,
    from: UnixTime,
    to: UnixTime,
) -> Result<TraceRequest, Error> {
    secret
        .trace_request(&hours_between(from, to)?)
        .map_err(|e| Error::protocol("the trace request", e))
}

/// A signed trace report and what it traces, for the authority's operator to check.
pub struct SignedTrace {
    /// The report's wire bytes (spec/venue.md §8.6).
    pub report: Vec<u8>,
    /// The venue's description, from the owner's payload: compare it with the venue the
    /// case named before uploading.
    pub venue: String,
    /// The traced hours, increasing.
    pub hours: Vec<Hour>,
}

/// The authority's side: opens `request` with the sealing key at `now` (hours in the
/// 14 days before now, every completed key pairing-checked), encrypts `message` for the
/// venue's visitors, and signs the report as `authority` for `region`.
#[allow(clippy::too_many_arguments)]
pub fn trace_report(
    request: &TraceRequest,
    sealing: &SealingSecretKey,
    message: &str,
    authority: &str,
    region: &str,
    key: &SigningKey,
    now: UnixTime,
    rng: &mut impl CryptoRngCore,
) -> Result<SignedTrace, Error> {
    let checked = request
        .open(sealing, now)
        .map_err(|e| Error::protocol("the trace request", e))?;
    let mut nonce = [0u8; 16];
    rng.fill_bytes(&mut nonce);
    let region = Region::new(region)
        .map_err(|_| Error::Invalid("--region must be 1-16 of A-Z 0-9 -".into()))?;
    let report = TraceReport::new(
        &checked,
        message,
        authority_id(authority)?,
        region,
        now,
        nonce,
        rng,
    )
    .map_err(|e| Error::protocol("the trace report", e))?;
    Ok(SignedTrace {
        report: report
            .sign(key)
            .map_err(|e| Error::protocol("the trace report", e))?,
        venue: checked.payload().description().to_string(),
        hours: checked.hours().collect(),
    })
}

/// Uploads a signed trace report (`POST /v1/traces`); returns the hours stored. A retry of
/// a stored report is answered as stored.
pub async fn upload(client: &Client, report: &[u8]) -> Result<usize, Error> {
    let body = TraceUpload {
        report: base64::engine::general_purpose::STANDARD.encode(report),
        padding: None,
    };
    let r: TraceAccepted = client.post_json("/v1/traces", &body).await?;
    Ok(r.accepted_hours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_covers_the_hours_it_overlaps() {
        let t = |h: u64, m: u64| UnixTime(1_767_225_600 + h * 3600 + m * 60);
        let hours = hours_between(t(9, 40), t(10, 20)).unwrap();
        assert_eq!(
            hours,
            vec![Hour::containing(t(9, 0)), Hour::containing(t(10, 0))]
        );
        assert_eq!(hours_between(t(9, 0), t(10, 0)).unwrap().len(), 1);
        assert!(hours_between(t(10, 0), t(10, 0)).is_err());
        assert_eq!(hours_between(t(0, 0), t(336, 0)).unwrap().len(), 336);
        assert!(hours_between(t(0, 0), t(336, 1)).is_err());
    }
}
