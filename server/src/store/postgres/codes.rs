//! The [`CodeStore`] on PostgreSQL: verification codes shared by every replica, so that a code
//! issued through one replica's console is redeemed through any other.
//!
//! Every write is one transaction committed synchronously before it returns, except counts
//! of accepted keys: those wait in memory and are written every [`KEY_COUNT_FLUSH`] and before
//! statistics are read (as the sled store's ride on its next group commit), so that a real
//! upload's answer takes no longer than a fake one's. Single use holds
//! across replicas: redeeming locks the issue's row (`FOR UPDATE`) and spending locks the
//! token's, so of two concurrent redeems one wins and the other sees the code used. The cap on
//! outstanding short codes is checked under a lock on the authority's `code_authorities` row,
//! so two replicas issuing at once cannot pass it together.

use std::sync::{Arc, Mutex};

use en_api::date::Day;
use en_api::verify::TestType;
use en_protocol::UnixTime;
use tokio_postgres::Transaction;

use super::migrate::Migration;
use super::pool::{describe, Database};
use crate::store::codes::{
    AuditAction, AuditEntry, Claims, CodeStore, CodeStoreError as E, DayStats, Hash, NewIssue,
    Purged, Refusal,
};

/// The migrations of the code store (feature `codes`).
pub const MIGRATIONS: &[Migration] = &[Migration {
    feature: "codes",
    version: 1,
    sql: include_str!("schema/codes-0001.sql"),
}];

fn err(e: tokio_postgres::Error) -> E {
    E::Io(describe(&e))
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Key counts waiting to be written: (UTC day, authority) → keys.
type KeyCounts = std::collections::BTreeMap<(u64, String), u64>;

/// How often counts of accepted keys are written (and before statistics are read): a crash
/// loses at most this much of them.
pub const KEY_COUNT_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// The PostgreSQL code store.
#[derive(Debug, Clone)]
pub struct PgCodeStore {
    db: Database,
    key_counts: Arc<Mutex<KeyCounts>>,
}

fn claims_of(row: &tokio_postgres::Row, from: usize) -> Result<Claims, E> {
    let test_type: i16 = row.get(from + 1);
    let test_date: i32 = row.get(from + 2);
    let onset: Option<i32> = row.get(from + 3);
    let day = |d: i32| {
        u32::try_from(d)
            .map(Day)
            .map_err(|_| E::Corrupt("a day".into()))
    };
    Ok(Claims {
        authority: row.get(from),
        test_type: u8::try_from(test_type)
            .ok()
            .and_then(TestType::from_code)
            .ok_or_else(|| E::Corrupt("a test type".into()))?,
        test_date: day(test_date)?,
        symptom_onset: onset.map(day).transpose()?,
    })
}

/// Adds to a statistics column of `(day, authority)` in `tx`.
async fn bump(
    tx: &Transaction<'_>,
    column: &str,
    day: u64,
    authority: &str,
    n: u64,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        &format!(
            "INSERT INTO code_stats (day, authority, {column}) VALUES ($1, $2, $3)
             ON CONFLICT (day, authority) DO UPDATE SET {column} = code_stats.{column} + $3"
        ),
        &[&i(day), &authority, &i(n)],
    )
    .await
    .map(|_| ())
}

impl PgCodeStore {
    /// Opens the code store on `db` (applying its migrations), and starts the task that
    /// writes key counts every [`KEY_COUNT_FLUSH`] (it ends with the last handle). Must run
    /// inside a tokio runtime.
    pub async fn open(db: Database) -> Result<Self, E> {
        db.migrate(MIGRATIONS)
            .await
            .map_err(|e| E::Io(e.to_string()))?;
        let s = PgCodeStore {
            db,
            key_counts: Arc::default(),
        };
        let weak = Arc::downgrade(&s.key_counts);
        let db = s.db.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEY_COUNT_FLUSH).await;
                let Some(counts) = weak.upgrade() else {
                    return;
                };
                if let Err(e) = flush_key_counts(&db, &counts).await {
                    tracing::warn!(error = %e, "could not write key counts; will retry");
                }
            }
        });
        Ok(s)
    }

    /// Writes the key counts waiting in memory now.
    pub async fn flush_key_counts(&self) -> Result<(), E> {
        flush_key_counts(&self.db, &self.key_counts).await
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, E> {
        self.db.client().await.map_err(|e| E::Io(e.to_string()))
    }
}

/// Writes the counts waiting in `counts` in one transaction; on failure they wait again.
async fn flush_key_counts(db: &Database, counts: &Mutex<KeyCounts>) -> Result<(), E> {
    let taken = std::mem::take(&mut *counts.lock().expect("key count lock"));
    if taken.is_empty() {
        return Ok(());
    }
    let write = async {
        let mut client = db.client().await.map_err(|e| E::Io(e.to_string()))?;
        let tx = client.transaction().await.map_err(err)?;
        for ((day, authority), n) in &taken {
            bump(&tx, "keys", *day, authority, *n).await.map_err(err)?;
        }
        commit(tx).await
    };
    let r = write.await;
    if r.is_err() {
        let mut c = counts.lock().expect("key count lock");
        for (k, n) in taken {
            *c.entry(k).or_default() += n;
        }
    }
    r
}

/// Commits `tx`: a broken connection during COMMIT leaves the outcome unknown.
async fn commit(tx: deadpool_postgres::Transaction<'_>) -> Result<(), E> {
    tx.commit().await.map_err(|e| {
        if e.as_db_error().is_some() {
            err(e)
        } else {
            E::Uncertain(describe(&e))
        }
    })
}

#[async_trait::async_trait]
impl CodeStore for PgCodeStore {
    async fn issue(
        &self,
        issues: &[NewIssue],
        audit: &AuditEntry,
        max_short: u64,
        now: UnixTime,
    ) -> Result<(), E> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(err)?;
        let mut new_short: std::collections::BTreeMap<&str, u64> = Default::default();
        for i in issues.iter().filter(|i| i.short.is_some()) {
            *new_short.entry(i.claims.authority.as_str()).or_default() += 1;
        }
        // In authority order: two issues lock the rows in the same order.
        for (authority, n) in &new_short {
            tx.execute(
                "INSERT INTO code_authorities (authority) VALUES ($1)
                 ON CONFLICT (authority) DO UPDATE SET authority = EXCLUDED.authority",
                &[authority],
            )
            .await
            .map_err(err)?;
            let held: i64 = tx
                .query_one(
                    "SELECT count(*) FROM code_issues
                     WHERE authority = $1 AND NOT used AND short_expiry > $2",
                    &[authority, &i(now.0)],
                )
                .await
                .map_err(err)?
                .get(0);
            if u(held) + n > max_short {
                tx.rollback().await.map_err(err)?;
                return Err(E::TooManyShortCodes);
            }
        }
        for issue in issues {
            let c = &issue.claims;
            let onset = c.symptom_onset.map(|d| d.0 as i32);
            tx.execute(
                "INSERT INTO code_issues (id, authority, test_type, test_date, symptom_onset, used,
                     short_hash, short_expiry, long_hash, long_expiry)
                 VALUES ($1, $2, $3, $4, $5, false, $6, $7, $8, $9)",
                &[
                    &&issue.id[..],
                    &c.authority,
                    &i16::from(c.test_type.code()),
                    &(c.test_date.0 as i32),
                    &onset,
                    &issue.short.map(|(h, _)| h.to_vec()),
                    &issue.short.map(|(_, e)| i(e.0)),
                    &&issue.long.0[..],
                    &i(issue.long.1 .0),
                ],
            )
            .await
            .map_err(err)?;
            for (h, e) in issue.short.iter().chain([&issue.long]) {
                let stored = tx
                    .execute(
                        "INSERT INTO codes (hash, issue, expiry) VALUES ($1, $2, $3)
                         ON CONFLICT (hash) DO NOTHING",
                        &[&&h[..], &&issue.id[..], &i(e.0)],
                    )
                    .await
                    .map_err(err)?;
                if stored == 0 {
                    tx.rollback().await.map_err(err)?;
                    return Err(E::Collision);
                }
            }
            bump(&tx, "issued", now.day(), &c.authority, 1)
                .await
                .map_err(err)?;
        }
        insert_audit(&tx, audit).await.map_err(err)?;
        commit(tx).await
    }

    async fn redeem(
        &self,
        code: &Hash,
        token: &Hash,
        token_expires: UnixTime,
        now: UnixTime,
    ) -> Result<Claims, E> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(err)?;
        let refuse = |r| Err(E::Refused(r));
        let Some(c) = tx
            .query_opt(
                "SELECT issue, expiry FROM codes WHERE hash = $1",
                &[&&code[..]],
            )
            .await
            .map_err(err)?
        else {
            return refuse(Refusal::Unknown);
        };
        let (id, expiry): (Vec<u8>, i64) = (c.get(0), c.get(1));
        let Some(r) = tx
            .query_opt(
                "SELECT authority, test_type, test_date, symptom_onset, used FROM code_issues
                 WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await
            .map_err(err)?
        else {
            return refuse(Refusal::Unknown);
        };
        if u(expiry) <= now.0 {
            return refuse(Refusal::Expired);
        }
        if r.get::<_, bool>(4) {
            return refuse(Refusal::Used);
        }
        let claims = claims_of(&r, 0)?;
        tx.execute("UPDATE code_issues SET used = true WHERE id = $1", &[&id])
            .await
            .map_err(err)?;
        tx.execute(
            "INSERT INTO code_tokens (token, authority, test_type, test_date, symptom_onset,
                 used, expiry)
             VALUES ($1, $2, $3, $4, $5, false, $6)",
            &[
                &&token[..],
                &claims.authority,
                &i16::from(claims.test_type.code()),
                &(claims.test_date.0 as i32),
                &claims.symptom_onset.map(|d| d.0 as i32),
                &i(token_expires.0),
            ],
        )
        .await
        .map_err(err)?;
        bump(&tx, "claimed", now.day(), &claims.authority, 1)
            .await
            .map_err(err)?;
        commit(tx).await?;
        Ok(claims)
    }

    async fn spend_token(&self, token: &Hash, now: UnixTime) -> Result<Claims, E> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(err)?;
        let Some(r) = tx
            .query_opt(
                "SELECT authority, test_type, test_date, symptom_onset, used, expiry
                 FROM code_tokens WHERE token = $1 FOR UPDATE",
                &[&&token[..]],
            )
            .await
            .map_err(err)?
        else {
            return Err(E::Refused(Refusal::Unknown));
        };
        if u(r.get(5)) <= now.0 {
            return Err(E::Refused(Refusal::Expired));
        }
        if r.get::<_, bool>(4) {
            return Err(E::Refused(Refusal::Used));
        }
        let claims = claims_of(&r, 0)?;
        tx.execute(
            "UPDATE code_tokens SET used = true WHERE token = $1",
            &[&&token[..]],
        )
        .await
        .map_err(err)?;
        bump(&tx, "certificates", now.day(), &claims.authority, 1)
            .await
            .map_err(err)?;
        commit(tx).await?;
        Ok(claims)
    }

    async fn count_failure(&self, hour: u64, authority: &str) -> Result<(), E> {
        self.client()
            .await?
            .execute(
                "INSERT INTO code_failures (hour, authority, failures) VALUES ($1, $2, 1)
                 ON CONFLICT (hour, authority) DO UPDATE SET failures = code_failures.failures + 1",
                &[&i(hour), &authority],
            )
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn failures(&self, hour: u64) -> Result<Vec<(String, u64)>, E> {
        Ok(self
            .client()
            .await?
            .query(
                "SELECT authority, failures FROM code_failures WHERE hour = $1 ORDER BY authority",
                &[&i(hour)],
            )
            .await
            .map_err(err)?
            .iter()
            .map(|r| (r.get(0), u(r.get(1))))
            .collect())
    }

    async fn count_keys(&self, authority: &str, day: Day, keys: u64) -> Result<(), E> {
        // The upload is already durable, and its answer must not wait for (or be slowed by)
        // a write that a fake upload would not make: its answer time would tell them apart.
        // The count waits in memory for the next flush ([`KEY_COUNT_FLUSH`]), as the sled
        // store's rides on its next group commit.
        *self
            .key_counts
            .lock()
            .expect("key count lock")
            .entry((u64::from(day.0), authority.to_string()))
            .or_default() += keys;
        Ok(())
    }

    async fn audit(&self, entry: &AuditEntry) -> Result<(), E> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(err)?;
        insert_audit(&tx, entry).await.map_err(err)?;
        commit(tx).await
    }

    async fn stats(&self, authority: &str, from: Day) -> Result<Vec<(Day, DayStats)>, E> {
        self.flush_key_counts().await?;
        self.client()
            .await?
            .query(
                "SELECT day, issued, claimed, expired, certificates, keys FROM code_stats
                 WHERE authority = $1 AND day >= $2 ORDER BY day",
                &[&authority, &i64::from(from.0)],
            )
            .await
            .map_err(err)?
            .iter()
            .map(|r| {
                let day: i64 = r.get(0);
                Ok((
                    Day(u32::try_from(day).map_err(|_| E::Corrupt("a day".into()))?),
                    DayStats {
                        issued: u(r.get(1)),
                        claimed: u(r.get(2)),
                        expired: u(r.get(3)),
                        certificates: u(r.get(4)),
                        keys: u(r.get(5)),
                    },
                ))
            })
            .collect()
    }

    async fn audit_log(&self, authority: &str, limit: usize) -> Result<Vec<AuditEntry>, E> {
        self.client()
            .await?
            .query(
                "SELECT at, authority, actor, action, count FROM audit_log
                 WHERE authority = $1 ORDER BY id DESC LIMIT $2",
                &[&authority, &i(limit as u64)],
            )
            .await
            .map_err(err)?
            .iter()
            .map(|r| {
                let action: i16 = r.get(3);
                Ok(AuditEntry {
                    at: UnixTime(u(r.get(0))),
                    authority: r.get(1),
                    actor: r.get(2),
                    action: u8::try_from(action)
                        .ok()
                        .and_then(AuditAction::from_code)
                        .ok_or_else(|| E::Corrupt("an audit action".into()))?,
                    count: u(r.get(4)),
                })
            })
            .collect()
    }

    async fn outstanding_short(&self, authority: &str, now: UnixTime) -> Result<u64, E> {
        let n: i64 = self
            .client()
            .await?
            .query_one(
                "SELECT count(*) FROM code_issues
                 WHERE authority = $1 AND NOT used AND short_expiry > $2",
                &[&authority, &i(now.0)],
            )
            .await
            .map_err(err)?
            .get(0);
        Ok(u(n))
    }

    async fn purge(&self, now: UnixTime, keep_from: Day) -> Result<Purged, E> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(err)?;
        let gone = tx
            .query(
                "DELETE FROM code_issues
                 WHERE GREATEST(long_expiry, COALESCE(short_expiry, 0)) <= $1
                 RETURNING id, authority, used",
                &[&i(now.0)],
            )
            .await
            .map_err(err)?;
        let ids: Vec<Vec<u8>> = gone.iter().map(|r| r.get(0)).collect();
        tx.execute("DELETE FROM codes WHERE issue = ANY($1)", &[&ids])
            .await
            .map_err(err)?;
        let mut expired: std::collections::BTreeMap<String, u64> = Default::default();
        for r in gone.iter().filter(|r| !r.get::<_, bool>(2)) {
            *expired.entry(r.get(1)).or_default() += 1;
        }
        for (authority, n) in &expired {
            bump(&tx, "expired", now.day(), authority, *n)
                .await
                .map_err(err)?;
        }
        let tokens = tx
            .execute("DELETE FROM code_tokens WHERE expiry <= $1", &[&i(now.0)])
            .await
            .map_err(err)?;
        let start = keep_from.start();
        for (sql, bound) in [
            (
                "DELETE FROM code_stats WHERE day < $1",
                u64::from(keep_from.0),
            ),
            ("DELETE FROM code_failures WHERE hour < $1", start / 3600),
            ("DELETE FROM audit_log WHERE at < $1", start),
        ] {
            tx.execute(sql, &[&i(bound)]).await.map_err(err)?;
        }
        commit(tx).await?;
        Ok(Purged {
            issues: gone.len() as u64,
            tokens,
        })
    }

    async fn chaff(&self, bytes: usize) -> Result<(), E> {
        // The shape of a redeem's or a spend's write after its lookup (a row locked, a row
        // written, a synchronous commit), so that a fake request costs what a real one does.
        let mut filler = vec![0u8; bytes];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut filler);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(err)?;
        tx.query("SELECT slot FROM code_chaff WHERE slot = 1 FOR UPDATE", &[])
            .await
            .map_err(err)?;
        tx.execute(
            "INSERT INTO code_chaff (slot, filler) VALUES (1, $1)
             ON CONFLICT (slot) DO UPDATE SET filler = EXCLUDED.filler",
            &[&filler],
        )
        .await
        .map_err(err)?;
        commit(tx).await
    }

    async fn fingerprint(&self) -> Result<[u8; 32], E> {
        self.flush_key_counts().await?;
        use sha2::Digest;
        let client = self.client().await?;
        let mut h = sha2::Sha256::new();
        for (table, columns) in [
            (
                "code_issues",
                "id, authority, test_type, test_date, symptom_onset, used, short_hash, \
                 short_expiry, long_hash, long_expiry",
            ),
            ("codes", "hash, issue, expiry"),
            (
                "code_tokens",
                "token, authority, test_type, test_date, symptom_onset, used, expiry",
            ),
            (
                "code_stats",
                "day, authority, issued, claimed, expired, certificates, keys",
            ),
        ] {
            h.update(table);
            let q = format!("SELECT row({columns})::text AS r FROM {table} ORDER BY r");
            for r in client.query(&q, &[]).await.map_err(err)? {
                let row: String = r.get(0);
                h.update((row.len() as u64).to_be_bytes());
                h.update(row);
            }
        }
        Ok(h.finalize().into())
    }
}

async fn insert_audit(tx: &Transaction<'_>, e: &AuditEntry) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "INSERT INTO audit_log (at, authority, actor, action, count) VALUES ($1, $2, $3, $4, $5)",
        &[
            &i(e.at.0),
            &e.authority,
            &e.actor,
            &i16::from(e.action.code()),
            &i(e.count),
        ],
    )
    .await
    .map(|_| ())
}
