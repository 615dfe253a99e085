//! Test-kit codes: 20 characters of the verification-code alphabet (Crockford's base32,
//! lower case: 100 bits), printed in groups of four, typed case-insensitively with or without
//! dashes and spaces; `o` reads as `0`, `i` and `l` as `1`. Created by
//! `en-server selfreport kits`, stored only as keyed hashes with an expiry.

use en_api::date::Day;
use en_api::verify::{TestType, LONG_CODE_ALPHABET};
use en_protocol::UnixTime;
use rand::Rng;
use zeroize::Zeroizing;

use super::KIT_AUTHORITY;
use crate::store::codes::{AuditAction, AuditEntry, Claims, CodeStoreError, NewIssue};
use crate::verification::Verification;

/// Characters of a kit code.
pub const KIT_CODE_LEN: usize = 20;
/// Most kit codes stored in one transaction.
const PER_ISSUE: usize = 1000;

/// A random kit code (normalized form), uniform over 32²⁰ = 2¹⁰⁰.
pub fn draw(rng: &mut impl Rng) -> Zeroizing<String> {
    Zeroizing::new(
        (0..KIT_CODE_LEN)
            .map(|_| LONG_CODE_ALPHABET[rng.gen_range(0..LONG_CODE_ALPHABET.len())] as char)
            .collect(),
    )
}

/// The printed form: groups of four joined by dashes.
pub fn grouped(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The normalized code of what a person typed; `None` if it is not a kit code.
pub fn normalize(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(KIT_CODE_LEN);
    for c in typed.chars() {
        let c = match c.to_ascii_lowercase() {
            '-' | ' ' => continue,
            'o' => '0',
            'i' | 'l' => '1',
            c => c,
        };
        if !c.is_ascii() || !LONG_CODE_ALPHABET.contains(&(c as u8)) || out.len() == KIT_CODE_LEN {
            return None;
        }
        out.push(c);
    }
    (out.len() == KIT_CODE_LEN).then_some(out)
}

/// Creates `count` kit codes valid for `kit_code_lifetime_days` from `now`, stores their
/// keyed hashes, and returns them (grouped; shown once).
pub async fn create(
    v: &Verification,
    count: usize,
    now: UnixTime,
) -> Result<Vec<String>, CodeStoreError> {
    let until = now.plus(v.settings.kit_code_lifetime_days.saturating_mul(86_400));
    let mut out = Vec::with_capacity(count);
    let mut rng = rand::rngs::OsRng;
    let mut left = count;
    while left > 0 {
        let n = left.min(PER_ISSUE);
        let mut attempt = 0;
        loop {
            let codes: Vec<_> = (0..n).map(|_| draw(&mut rng)).collect();
            let issues: Vec<NewIssue> = codes
                .iter()
                .map(|c| NewIssue {
                    id: rng.gen(),
                    claims: Claims {
                        authority: KIT_AUTHORITY.into(),
                        test_type: TestType::SelfReport,
                        test_date: Day::of_unix(now.0),
                        symptom_onset: None,
                    },
                    short: None,
                    long: (v.hasher.kit(c), until),
                })
                .collect();
            let audit = AuditEntry {
                at: now,
                authority: KIT_AUTHORITY.into(),
                actor: "cli".into(),
                action: AuditAction::IssuedBulk,
                count: n as u64,
            };
            match v.store.issue(&issues, &audit, u64::MAX, now).await {
                Err(CodeStoreError::Collision) if attempt < 3 => attempt += 1,
                Err(e) => return Err(e),
                Ok(()) => {
                    out.extend(codes.iter().map(|c| grouped(c)));
                    break;
                }
            }
        }
        left -= n;
    }
    Ok(out)
}

/// `en-server selfreport kits`: opens the configured code store, creates `count` kit codes
/// and writes them, one per line, to `out` (created 0600, never overwritten). With sled, the
/// server must not be running (sled locks its database); PostgreSQL is shared.
pub async fn create_file(
    cfg: &crate::config::Resolved,
    count: usize,
    out: &std::path::Path,
    now: UnixTime,
) -> Result<usize, crate::error::Error> {
    use crate::error::Error;
    if count == 0 || count > 1_000_000 {
        return Err(Error::Config {
            file: out.to_path_buf(),
            message: "--count must be 1 to 1000000".into(),
        });
    }
    if out.exists() {
        return Err(Error::Config {
            file: out.to_path_buf(),
            message: "exists; kit codes are never overwritten".into(),
        });
    }
    let (_, codes) = crate::store::open::open(cfg).await?;
    let d = crate::datadir::DataDir::new(&cfg.data_dir);
    crate::datadir::create_secret(&d.codes_key())?;
    let v = Verification::new(
        codes,
        crate::datadir::read_replay_key(&d.codes_key())?,
        &d.authority_keys(),
        cfg.config.console.clone(),
        now,
    )
    .await?;
    let kits = create(&v, count, now).await?;
    let text = Zeroizing::new(kits.join("\n") + "\n");
    en_api::keyfile::write_new(out, text.as_bytes(), true)?;
    Ok(kits.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typed_leniently_and_strictly_checked() {
        let c = draw(&mut rand::rngs::OsRng);
        assert_eq!(c.len(), KIT_CODE_LEN);
        let printed = grouped(&c);
        assert_eq!(printed.len(), KIT_CODE_LEN + 4);
        assert_eq!(normalize(&printed).as_deref(), Some(c.as_str()));
        assert_eq!(
            normalize(&printed.to_uppercase().replace('-', " ")).as_deref(),
            Some(c.as_str())
        );
        assert_eq!(
            normalize("OIL0-1234-5678-9abc-defg").as_deref(),
            Some("0110123456789abcdefg")
        );
        for bad in [
            "",
            "0123",
            "0123456789abcdefghj",
            "0123456789abcdefghjkm",
            "0123456789abcdefghju",
            "0123456789abcdefghé1",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}
