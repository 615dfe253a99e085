//! The [`CodeStore`] on the server's sled database, sharing its group commit.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `code_issues` | issue id (16) | [`IssueRecord`]: claims, used, both codes' hashes and expiries |
//! | `codes` | keyed hash of a code (32) | issue id ‖ expiry |
//! | `code_tokens` | keyed hash of a token (32) | [`TokenRecord`] |
//! | `code_stats` | UTC day u64 ‖ authority | [`DayStats`] |
//! | `code_failures` | clock hour u64 ‖ authority | failed short-code attempts u64 |
//! | `audit` | sled id u64 (monotonic) | [`AuditEntry`] |
//! | `code_chaff` | `c` | what the last fake request wrote |
//!
//! Redeeming and spending are sled transactions (serializable: of two concurrent redeems of
//! one code, one wins), followed by the group commit. The count of each authority's
//! outstanding short codes is an in-memory index rebuilt from `code_issues` at open; issuing
//! holds its lock across the check and the write, so the cap cannot be overshot.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use en_api::date::Day;
use en_protocol::UnixTime;
use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError as Conflict, TransactionError};
use sled::{Transactional, Tree};

use super::code_records::{
    decode_audit, decode_code, decode_stats, encode_audit, encode_code, encode_stats, period_key,
    split_period_key, IssueRecord, TokenRecord,
};
use super::commit::Committer;
use crate::store::codes::{
    AuditEntry, Claims, CodeStore, CodeStoreError as E, DayStats, Hash, NewIssue, Purged, Refusal,
};

/// Unused short codes per authority: (expiry, issue id).
type ShortIndex = HashMap<String, BTreeSet<(u64, [u8; 16])>>;

/// The sled code store (opened with `SledStore::code_store`).
#[derive(Clone)]
pub struct SledCodeStore {
    issues: Tree,
    codes: Tree,
    tokens: Tree,
    stats: Tree,
    failures: Tree,
    audit: Tree,
    chaff: Tree,
    db: sled::Db,
    committer: Committer,
    short: Arc<Mutex<ShortIndex>>,
}

fn corrupt(what: &str) -> E {
    E::Corrupt(what.into())
}

fn tx_error(e: TransactionError<Refusal>) -> E {
    match e {
        TransactionError::Abort(r) => E::Refused(r),
        TransactionError::Storage(e) => e.into(),
    }
}

/// Adds `f` to the statistics of `(day, authority)` inside a transaction.
fn bump(
    t: &sled::transaction::TransactionalTree,
    day: u64,
    authority: &str,
    f: impl Fn(&mut DayStats),
) -> Result<(), Conflict<Refusal>> {
    let key = period_key(day, authority);
    let mut s = t
        .get(&key)?
        .and_then(|v| decode_stats(&v))
        .unwrap_or_default();
    f(&mut s);
    t.insert(key, encode_stats(&s).to_vec())?;
    Ok(())
}

impl SledCodeStore {
    /// Opens the code trees of `db` and rebuilds the short-code index.
    pub fn open(db: &sled::Db, committer: Committer) -> Result<Self, E> {
        let s = SledCodeStore {
            issues: db.open_tree("code_issues")?,
            codes: db.open_tree("codes")?,
            tokens: db.open_tree("code_tokens")?,
            stats: db.open_tree("code_stats")?,
            failures: db.open_tree("code_failures")?,
            audit: db.open_tree("audit")?,
            chaff: db.open_tree("code_chaff")?,
            db: db.clone(),
            committer,
            short: Arc::default(),
        };
        let mut index = ShortIndex::default();
        for kv in s.issues.iter() {
            let (k, v) = kv?;
            let id: [u8; 16] = k.as_ref().try_into().map_err(|_| corrupt("issue id"))?;
            let r = IssueRecord::decode(&v).ok_or_else(|| corrupt("issue"))?;
            if let (false, Some((e, _))) = (r.used, r.short) {
                index
                    .entry(r.claims.authority)
                    .or_default()
                    .insert((e.0, id));
            }
        }
        *s.short.lock().expect("short index lock") = index;
        Ok(s)
    }

    async fn durable(&self) -> Result<(), E> {
        self.committer.durable().await.map_err(E::Uncertain)
    }

    fn forget_short(&self, authority: &str, r: &IssueRecord, id: &[u8; 16]) {
        if let Some((e, _)) = r.short {
            if let Some(set) = self
                .short
                .lock()
                .expect("short index lock")
                .get_mut(authority)
            {
                set.remove(&(e.0, *id));
            }
        }
    }
}

#[async_trait::async_trait]
impl CodeStore for SledCodeStore {
    async fn issue(
        &self,
        issues: &[NewIssue],
        audit: &AuditEntry,
        max_short: u64,
        now: UnixTime,
    ) -> Result<(), E> {
        let audit_key = self.db.generate_id()?.to_be_bytes();
        let audit_value = encode_audit(audit);
        {
            let mut index = self.short.lock().expect("short index lock");
            let mut new_short: HashMap<&str, u64> = HashMap::new();
            for i in issues.iter().filter(|i| i.short.is_some()) {
                *new_short.entry(i.claims.authority.as_str()).or_default() += 1;
            }
            for (authority, n) in &new_short {
                let set = index.entry((*authority).to_string()).or_default();
                set.retain(|(e, _)| *e > now.0);
                if set.len() as u64 + n > max_short {
                    return Err(E::TooManyShortCodes);
                }
            }
            let records: Vec<IssueRecord> = issues
                .iter()
                .map(|i| IssueRecord {
                    claims: i.claims.clone(),
                    used: false,
                    short: i.short.map(|(h, e)| (e, h)),
                    long: (i.long.1, i.long.0),
                })
                .collect();
            (&self.issues, &self.codes, &self.stats, &self.audit)
                .transaction(|(it, ct, st, at)| {
                    for (i, r) in issues.iter().zip(&records) {
                        for (h, e) in i.short.iter().chain([&i.long]) {
                            if ct
                                .insert(h.as_slice(), encode_code(&i.id, *e).to_vec())?
                                .is_some()
                            {
                                return Err(Conflict::Abort(Refusal::Used));
                            }
                        }
                        it.insert(i.id.as_slice(), r.encode())?;
                        bump(st, now.day(), &i.claims.authority, |s| s.issued += 1)?;
                    }
                    at.insert(audit_key.as_slice(), audit_value.as_slice())?;
                    Ok(())
                })
                .map_err(|e| match tx_error(e) {
                    E::Refused(_) => E::Collision,
                    other => other,
                })?;
            for i in issues {
                if let Some((_, e)) = i.short {
                    index
                        .entry(i.claims.authority.clone())
                        .or_default()
                        .insert((e.0, i.id));
                }
            }
        }
        self.durable().await
    }

    async fn redeem(
        &self,
        code: &Hash,
        token: &Hash,
        token_expires: UnixTime,
        now: UnixTime,
    ) -> Result<Claims, E> {
        let (claims, record, id) = (&self.codes, &self.issues, &self.tokens, &self.stats)
            .transaction(|(ct, it, tt, st)| {
                let refuse = |r| Err(Conflict::Abort(r));
                let Some((id, expiry)) = ct.get(code.as_slice())?.and_then(|v| decode_code(&v))
                else {
                    return refuse(Refusal::Unknown);
                };
                let Some(mut r) = it.get(id.as_slice())?.and_then(|v| IssueRecord::decode(&v))
                else {
                    return refuse(Refusal::Unknown);
                };
                if expiry <= now {
                    return refuse(Refusal::Expired);
                }
                if r.used {
                    return refuse(Refusal::Used);
                }
                r.used = true;
                it.insert(id.as_slice(), r.encode())?;
                let t = TokenRecord {
                    claims: r.claims.clone(),
                    used: false,
                    expires_at: token_expires,
                };
                tt.insert(token.as_slice(), t.encode())?;
                bump(st, now.day(), &r.claims.authority, |s| s.claimed += 1)?;
                Ok((r.claims.clone(), r, id))
            })
            .map_err(tx_error)?;
        self.forget_short(&claims.authority, &record, &id);
        self.durable().await?;
        Ok(claims)
    }

    async fn spend_token(&self, token: &Hash, now: UnixTime) -> Result<Claims, E> {
        let claims = (&self.tokens, &self.stats)
            .transaction(|(tt, st)| {
                let Some(mut t) = tt
                    .get(token.as_slice())?
                    .and_then(|v| TokenRecord::decode(&v))
                else {
                    return Err(Conflict::Abort(Refusal::Unknown));
                };
                if t.expires_at <= now {
                    return Err(Conflict::Abort(Refusal::Expired));
                }
                if t.used {
                    return Err(Conflict::Abort(Refusal::Used));
                }
                t.used = true;
                tt.insert(token.as_slice(), t.encode())?;
                bump(st, now.day(), &t.claims.authority, |s| s.certificates += 1)?;
                Ok(t.claims)
            })
            .map_err(tx_error)?;
        self.durable().await?;
        Ok(claims)
    }

    async fn count_failure(&self, hour: u64, authority: &str) -> Result<(), E> {
        self.failures
            .update_and_fetch(period_key(hour, authority), |old| {
                let n = old
                    .and_then(|v| v.try_into().ok())
                    .map_or(0, u64::from_be_bytes);
                Some((n + 1).to_be_bytes().to_vec())
            })?;
        self.durable().await
    }

    async fn failures(&self, hour: u64) -> Result<Vec<(String, u64)>, E> {
        let mut out = Vec::new();
        for kv in self.failures.scan_prefix(hour.to_be_bytes()) {
            let (k, v) = kv?;
            let (_, authority) = split_period_key(&k).ok_or_else(|| corrupt("failure key"))?;
            let n = v
                .as_ref()
                .try_into()
                .map_err(|_| corrupt("failure count"))?;
            out.push((authority, u64::from_be_bytes(n)));
        }
        Ok(out)
    }

    async fn count_keys(&self, authority: &str, day: Day, keys: u64) -> Result<(), E> {
        // Not awaited: the upload is already durable, and its answer must not wait for a
        // second commit that a fake upload would not make. The next commit takes it along.
        self.stats
            .update_and_fetch(period_key(u64::from(day.0), authority), |old| {
                let mut s = old.and_then(decode_stats).unwrap_or_default();
                s.keys += keys;
                Some(encode_stats(&s).to_vec())
            })?;
        Ok(())
    }

    async fn audit(&self, entry: &AuditEntry) -> Result<(), E> {
        let key = self.db.generate_id()?.to_be_bytes();
        self.audit.insert(key, encode_audit(entry))?;
        self.durable().await
    }

    async fn stats(&self, authority: &str, from: Day) -> Result<Vec<(Day, DayStats)>, E> {
        let mut out = Vec::new();
        for kv in self.stats.range(u64::from(from.0).to_be_bytes()..) {
            let (k, v) = kv?;
            let (day, a) = split_period_key(&k).ok_or_else(|| corrupt("stats key"))?;
            if a == authority {
                let s = decode_stats(&v).ok_or_else(|| corrupt("stats"))?;
                out.push((Day(u32::try_from(day).unwrap_or(u32::MAX)), s));
            }
        }
        Ok(out)
    }

    async fn audit_log(&self, authority: &str, limit: usize) -> Result<Vec<AuditEntry>, E> {
        let mut out = Vec::new();
        for kv in self.audit.iter().rev() {
            let (_, v) = kv?;
            let e = decode_audit(&v).ok_or_else(|| corrupt("audit entry"))?;
            if e.authority == authority {
                out.push(e);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn outstanding_short(&self, authority: &str, now: UnixTime) -> Result<u64, E> {
        let mut index = self.short.lock().expect("short index lock");
        Ok(index.get_mut(authority).map_or(0, |set| {
            set.retain(|(e, _)| *e > now.0);
            set.len() as u64
        }))
    }

    async fn purge(&self, now: UnixTime, keep_from: Day) -> Result<Purged, E> {
        let mut purged = Purged::default();
        for kv in self.issues.iter() {
            let (k, v) = kv?;
            let r = IssueRecord::decode(&v).ok_or_else(|| corrupt("issue"))?;
            if r.expires_at() > now {
                continue;
            }
            let id: [u8; 16] = k.as_ref().try_into().map_err(|_| corrupt("issue id"))?;
            (&self.issues, &self.codes, &self.stats)
                .transaction(|(it, ct, st)| {
                    it.remove(k.as_ref())?;
                    for (_, h) in r.short.iter().chain([&r.long]) {
                        ct.remove(h.as_slice())?;
                    }
                    if !r.used {
                        bump(st, now.day(), &r.claims.authority, |s| s.expired += 1)?;
                    }
                    Ok(())
                })
                .map_err(tx_error)?;
            self.forget_short(&r.claims.authority, &r, &id);
            purged.issues += 1;
        }
        for kv in self.tokens.iter() {
            let (k, v) = kv?;
            let t = TokenRecord::decode(&v).ok_or_else(|| corrupt("token"))?;
            if t.expires_at <= now {
                self.tokens.remove(k)?;
                purged.tokens += 1;
            }
        }
        let hour_from = keep_from.start() / 3600;
        for (tree, from) in [
            (&self.stats, u64::from(keep_from.0)),
            (&self.failures, hour_from),
        ] {
            for kv in tree.range(..from.to_be_bytes()) {
                tree.remove(kv?.0)?;
            }
        }
        for kv in self.audit.iter() {
            let (k, v) = kv?;
            match decode_audit(&v) {
                Some(e) if e.at.0 >= keep_from.start() => break,
                _ => {
                    self.audit.remove(k)?;
                }
            }
        }
        self.durable().await?;
        Ok(purged)
    }

    async fn chaff(&self, bytes: usize) -> Result<(), E> {
        let mut filler = vec![0u8; bytes];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut filler);
        self.chaff.insert("c", filler)?;
        self.durable().await
    }

    async fn fingerprint(&self) -> Result<[u8; 32], E> {
        let mut h = Sha256::new();
        for t in [&self.issues, &self.codes, &self.tokens, &self.stats] {
            h.update(t.name());
            for kv in t.iter() {
                let (k, v) = kv?;
                h.update((k.len() as u64).to_be_bytes());
                h.update(&k);
                h.update((v.len() as u64).to_be_bytes());
                h.update(&v);
            }
        }
        Ok(h.finalize().into())
    }
}
