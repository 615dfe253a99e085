//! Who may sign what, and the shared signature check for authority-signed formats.
//!
//! A `Verified*` type can only be obtained from a `verify` method, so code that holds one
//! knows the check happened (rustls' habit: a check that happened is a type).

use crate::error::VerifyError;
use crate::keys::{KeyId, PublicKey};
use crate::wire::{AuthorityId, Region};

/// What the verifier needs to know about a registered health authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityInfo {
    /// The authority's ed25519 public key.
    pub public_key: PublicKey,
    /// If set, the only region the authority may report for.
    pub region: Option<Region>,
    /// A revoked authority's signatures are no longer accepted.
    pub revoked: bool,
}

/// The registry of health authorities whose signatures are accepted.
pub trait AuthorityRegistry {
    /// Looks up an authority by id.
    fn authority(&self, id: &AuthorityId) -> Option<AuthorityInfo>;
}

impl AuthorityRegistry for std::collections::BTreeMap<AuthorityId, AuthorityInfo> {
    fn authority(&self, id: &AuthorityId) -> Option<AuthorityInfo> {
        self.get(id).cloned()
    }
}

/// Checks that `id` is a registered, unrevoked authority allowed in `region` (if given) and
/// that `sig` is its signature over `context || 0 || body`.
///
/// The signature is checked before the region so that a forger learns nothing about the
/// registry's region settings.
pub(crate) fn verify_authority(
    registry: &impl AuthorityRegistry,
    id: &AuthorityId,
    region: Option<&Region>,
    context: &[u8],
    body: &[u8],
    sig: &[u8; 64],
) -> Result<AuthorityInfo, VerifyError> {
    let info = registry
        .authority(id)
        .ok_or(VerifyError::UnknownAuthority)?;
    if info.revoked {
        return Err(VerifyError::RevokedAuthority);
    }
    info.public_key.verify(context, body, sig)?;
    if let (Some(allowed), Some(claimed)) = (&info.region, region) {
        if allowed != claimed {
            return Err(VerifyError::WrongRegion);
        }
    }
    Ok(info)
}

/// The export public keys a phone trusts (several during a rotation).
#[derive(Debug, Clone, Default)]
pub struct ExportKeys(Vec<PublicKey>);

impl ExportKeys {
    /// Trusts exactly these keys.
    pub fn new(keys: Vec<PublicKey>) -> Self {
        ExportKeys(keys)
    }
    /// The trusted key with this id.
    pub fn get(&self, id: &KeyId) -> Result<&PublicKey, VerifyError> {
        self.0
            .iter()
            .find(|k| k.key_id() == *id)
            .ok_or(VerifyError::UnknownExportKey)
    }
    /// All trusted keys.
    pub fn keys(&self) -> &[PublicKey] {
        &self.0
    }
}

impl From<PublicKey> for ExportKeys {
    fn from(k: PublicKey) -> Self {
        ExportKeys(vec![k])
    }
}

/// Checks the trailing 64-byte signature of an export-signed message (batch, index, risk
/// configuration) with the trusted key named by `key_id`.
pub(crate) fn verify_export(
    trusted: &ExportKeys,
    key_id: &KeyId,
    context: &[u8],
    bytes: &[u8],
) -> Result<(), VerifyError> {
    let pk = trusted.get(key_id)?;
    let (body, sig) = bytes.split_at(
        bytes
            .len()
            .checked_sub(64)
            .ok_or(VerifyError::BadSignature)?,
    );
    pk.verify(context, body, sig.try_into().expect("64 bytes"))
}
