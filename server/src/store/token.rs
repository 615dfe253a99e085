//! Keyed hashes of single-use tokens, shared by every store.
//!
//! A case report's nonce or a certificate's id could tie keys to a patient (the authority
//! knows who got which), so no store keeps a token: it keeps HMAC-SHA256 of the token under
//! a server secret (`replay.key` in the data directory, never in the database), beside a
//! keyed digest of the upload's keys that recognises a retry. Replicas that share a database
//! must share the secret, or one replica would not see another's tokens:
//! [`TokenHasher::check_value`] lets a shared store refuse a replica whose secret differs.

use en_protocol::accept::AcceptedUpload;
use en_protocol::revise::AcceptedRevision;
use en_protocol::venue::AcceptedTrace;
use en_protocol::wire::key::DiagnosisKey;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// A keyed hash of a single-use token.
pub type TokenHash = [u8; 32];

/// Hashes tokens and key sets under the server's replay secret.
#[derive(Clone)]
pub struct TokenHasher {
    secret: std::sync::Arc<Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHasher(<secret>)")
    }
}

impl TokenHasher {
    /// A hasher under `secret` (the data directory's `replay.key`).
    pub fn new(secret: [u8; 32]) -> Self {
        TokenHasher {
            secret: std::sync::Arc::new(Zeroizing::new(secret)),
        }
    }

    fn mac(&self, label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut m = <Hmac<Sha256>>::new_from_slice(self.secret.as_slice()).expect("any key length");
        m.update(label);
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// The keyed hash of an upload's token, and the keyed digest of its keys (key and
    /// metadata, in sorted order: the same keys give the same digest).
    pub fn replay_of(&self, u: &AcceptedUpload) -> (TokenHash, [u8; 32]) {
        let token = self.mac(b"en/v1/replay-token", &[&u.token().to_bytes()]);
        (token, self.keys_digest(u.keys().iter().map(|k| &k.key)))
    }

    /// The keyed hashes of a revision's two single-use tokens (certificate id, revision
    /// token nonce), each with the keyed digest of the revised keys (a retry sends the same).
    pub fn revision_replays_of(&self, r: &AcceptedRevision) -> [(TokenHash, [u8; 32]); 2] {
        let digest = self.keys_digest(r.keys().iter());
        r.tokens()
            .clone()
            .map(|(t, _)| (self.mac(b"en/v1/replay-token", &[&t.to_bytes()]), digest))
    }

    /// A keyed digest of a set of keys with their metadata (order-independent).
    fn keys_digest<'a>(&self, keys: impl Iterator<Item = &'a DiagnosisKey>) -> [u8; 32] {
        let mut keys: Vec<[u8; 24]> = keys
            .map(|k| {
                let mut b = [0u8; 24];
                b[..16].copy_from_slice(k.key.as_bytes());
                b[16..].copy_from_slice(&k.meta.to_bytes());
                b
            })
            .collect();
        keys.sort_unstable();
        let flat: Vec<u8> = keys.concat();
        self.mac(b"en/v1/replay-keys", &[&flat])
    }

    /// The keyed hash of a venue trace report's token (domain-separated from a case
    /// report's by the token itself), and the keyed digest of what it traced.
    pub fn trace_replay_of(&self, t: &AcceptedTrace) -> (TokenHash, [u8; 32]) {
        let token = self.mac(b"en/v1/replay-token", &[&t.token().to_bytes()]);
        let entries: Vec<u8> = t.entries().iter().flat_map(|e| e.encode()).collect();
        (token, self.mac(b"en/v1/replay-trace", &[&entries]))
    }

    /// A value that identifies the secret without revealing it (a shared store records it
    /// and refuses a replica whose secret gives another).
    pub fn check_value(&self) -> [u8; 32] {
        self.mac(b"en/v1/replay-key-check", &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_value_depends_on_the_secret_and_debug_hides_it() {
        let (a, b) = (TokenHasher::new([1; 32]), TokenHasher::new([2; 32]));
        assert_eq!(a.check_value(), TokenHasher::new([1; 32]).check_value());
        assert_ne!(a.check_value(), b.check_value());
        assert_eq!(format!("{a:?}"), "TokenHasher(<secret>)");
    }
}
