//! The outbox: which recorded runs are waiting for the collector, which it
//! acknowledged, which it refused for good, and the sync bookkeeping
//! (`sync_state`: batch sequence, last success, last error, counters).
//!
//! The tables come from `migrations/0002_outbox.sql`. A run's pending row
//! is written by [`crate::store::Store::record_run`] in the run's own
//! transaction ([`INSERT_PENDING_SQL`]), and deleting a run counts a
//! pending row as dropped (`count_dropped`) in the deleting transaction;
//! everything else about the outbox lives here.
//!
//! State changes happen only in [`apply_answer`], after the collector's
//! answer, in one transaction. This module never talks to the network.

use serde::Serialize;
use sqlx::SqliteConnection;

use crate::config::TelemetryLevel;
use crate::store::{Store, StoreError, now_ms};

/// Adds a run's pending outbox row (binds: execution id, level, now in ms);
/// part of the run's own transaction in `Store::record_run`.
pub const INSERT_PENDING_SQL: &str =
    "INSERT OR IGNORE INTO outbox (execution_id, level, created_at_ms) VALUES (?, ?, ?);";

/// The outbox level of a run recorded at `telemetry_level`, or `None` when
/// the run never leaves the machine (`off`, `local`, anything unknown).
pub fn sendable_level(telemetry_level: &str) -> Option<&'static str> {
    match telemetry_level {
        "anonymous" => Some("anonymous"),
        "full" => Some("full"),
        _ => None,
    }
}

/// Why pending runs were deleted before the collector had them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropCause {
    /// Older than `retention_days`.
    Expired,
    /// Oldest first, to bring the database under `max_db_size_mb`.
    SizeCap,
    /// `earlyexit clear-data`.
    Cleared,
}

impl DropCause {
    fn column(self) -> &'static str {
        match self {
            DropCause::Expired => "dropped_expired",
            DropCause::SizeCap => "dropped_size_cap",
            DropCause::Cleared => "dropped_cleared",
        }
    }
}

/// Adds `count` pending runs deleted for `cause` to the counters, inside
/// the deleting transaction.
pub(crate) async fn count_dropped(
    conn: &mut SqliteConnection,
    cause: DropCause,
    count: i64,
) -> Result<(), sqlx::Error> {
    if count > 0 {
        let column = cause.column();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE sync_state SET {column} = {column} + ? WHERE id = 1"
        )))
        .bind(count)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// One pending record, oldest first by `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Insertion order in the outbox.
    pub seq: i64,
    /// The run.
    pub execution_id: String,
    /// The level the run was recorded at (`anonymous` or `full`).
    pub level: TelemetryLevel,
}

/// Up to `limit` pending records after `after_seq`, oldest first.
pub async fn pending_after(
    store: &Store,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<Pending>, StoreError> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT seq, execution_id, level FROM outbox \
         WHERE state = 'pending' AND seq > ? ORDER BY seq LIMIT ?",
    )
    .bind(after_seq)
    .bind(limit)
    .fetch_all(&store.pool)
    .await
    .map_err(store.sql_err())?;
    Ok(rows
        .into_iter()
        .map(|(seq, execution_id, level)| Pending {
            seq,
            execution_id,
            level: if level == "full" {
                TelemetryLevel::Full
            } else {
                TelemetryLevel::Anonymous
            },
        })
        .collect())
}

/// Pending records now.
pub async fn pending_count(store: &Store) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE state = 'pending'")
        .fetch_one(&store.pool)
        .await
        .map_err(store.sql_err())?;
    Ok(count.max(0) as u64)
}

/// The next `PushRequest.batch_seq` (persisted, so it keeps increasing
/// across runs of the agent).
pub async fn next_batch_seq(store: &Store) -> Result<u64, StoreError> {
    let seq: i64 = sqlx::query_scalar(
        "UPDATE sync_state SET batch_seq = batch_seq + 1 WHERE id = 1 RETURNING batch_seq",
    )
    .fetch_one(&store.pool)
    .await
    .map_err(store.sql_err())?;
    Ok(seq.max(0) as u64)
}

/// What the collector said about one batch, record by record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// Stored now or already stored: acknowledged.
    pub acknowledged: Vec<String>,
    /// Refused for good, with the reason: never sent again.
    pub rejected: Vec<(String, String)>,
    /// Refused for now, with the reason: stays pending.
    pub retry: Vec<(String, String)>,
    /// The collector's count of newly stored records.
    pub accepted: u64,
    /// The collector's count of records it already had.
    pub duplicates: u64,
}

/// Records the collector's answer for one batch in one transaction: states,
/// attempts, totals and the time of the last success.
pub async fn apply_answer(store: &Store, answer: &Answer) -> Result<(), StoreError> {
    let err = store.sql_err();
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let ids = serde_json::to_string(&answer.acknowledged).unwrap_or_default();
    sqlx::query(
        "UPDATE outbox SET state = 'acknowledged', attempts = attempts + 1, \
         updated_at_ms = ?, reason = NULL \
         WHERE state = 'pending' AND execution_id IN (SELECT value FROM json_each(?))",
    )
    .bind(now)
    .bind(&ids)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    for (state, list) in [("rejected", &answer.rejected), ("pending", &answer.retry)] {
        for (id, reason) in list {
            sqlx::query(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, updated_at_ms = ?, \
                 reason = ? WHERE state = 'pending' AND execution_id = ?",
            )
            .bind(state)
            .bind(now)
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
    }
    sqlx::query(
        "UPDATE sync_state SET acknowledged_total = acknowledged_total + ?, \
         duplicates_total = duplicates_total + ?, rejected_total = rejected_total + ?, \
         last_success_ms = ?, last_attempt_ms = ? WHERE id = 1",
    )
    .bind(answer.accepted as i64)
    .bind(answer.duplicates as i64)
    .bind(answer.rejected.len() as i64)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(err)?;
    tx.commit().await.map_err(err)
}

/// Marks records as refused for good by this agent itself (a record too
/// large for any message), with the reason.
pub async fn reject_locally(
    store: &Store,
    rejected: &[(String, String)],
) -> Result<(), StoreError> {
    let answer = Answer {
        rejected: rejected.to_vec(),
        ..Answer::default()
    };
    let err = store.sql_err();
    let mut tx = store.pool.begin().await.map_err(err)?;
    for (id, reason) in &answer.rejected {
        sqlx::query(
            "UPDATE outbox SET state = 'rejected', updated_at_ms = ?, reason = ? \
             WHERE state = 'pending' AND execution_id = ?",
        )
        .bind(now_ms())
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    }
    sqlx::query("UPDATE sync_state SET rejected_total = rejected_total + ? WHERE id = 1")
        .bind(rejected.len() as i64)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    tx.commit().await.map_err(err)
}

/// Remembers why the last sync failed (shown by `sync --status`).
pub async fn record_error(store: &Store, message: &str) -> Result<(), StoreError> {
    let now = now_ms();
    sqlx::query(
        "UPDATE sync_state SET last_error = ?, last_error_ms = ?, last_attempt_ms = ? WHERE id = 1",
    )
    .bind(message)
    .bind(now)
    .bind(now)
    .execute(&store.pool)
    .await
    .map_err(store.sql_err())?;
    Ok(())
}

/// Forgets the last error after a sync that left nothing behind.
pub async fn clear_error(store: &Store) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sync_state SET last_error = NULL, last_error_ms = NULL, last_attempt_ms = ? \
         WHERE id = 1",
    )
    .bind(now_ms())
    .execute(&store.pool)
    .await
    .map_err(store.sql_err())?;
    Ok(())
}

/// Pending runs deleted before they were sent, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// By `retention_days`.
    pub expired: u64,
    /// By `max_db_size_mb` (oldest first).
    pub size_cap: u64,
    /// By `earlyexit clear-data`.
    pub cleared: u64,
}

impl Dropped {
    /// All causes together.
    pub fn total(&self) -> u64 {
        self.expired + self.size_cap + self.cleared
    }
}

/// A rejected record and why (for `sync --status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// The run.
    pub execution_id: String,
    /// The collector's reason.
    pub reason: String,
}

/// The numbers behind `earlyexit sync --status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Records waiting to be sent.
    pub pending: u64,
    /// Runs in the database the collector has (stored or duplicate).
    pub acknowledged: u64,
    /// Runs in the database the collector refused for good.
    pub rejected: u64,
    /// Pending runs deleted before they were sent, by cause (ever).
    pub dropped: Dropped,
    /// Records the collector newly stored (ever, from this database).
    pub acknowledged_total: u64,
    /// Records the collector already had (ever).
    pub duplicates_total: u64,
    /// Records refused for good (ever).
    pub rejected_total: u64,
    /// The last batch sequence number used.
    pub batch_seq: u64,
    /// The last time the collector answered a push, ms since the epoch.
    pub last_success_ms: Option<i64>,
    /// The last time a sync ran, ms since the epoch.
    pub last_attempt_ms: Option<i64>,
    /// Why the last sync failed; `None` when it succeeded.
    pub last_error: Option<String>,
    /// When that was, ms since the epoch.
    pub last_error_ms: Option<i64>,
    /// Up to [`RECENT_REJECTIONS`] most recent rejections.
    pub recent_rejections: Vec<Rejected>,
}

/// Rejections listed by `sync --status`.
pub const RECENT_REJECTIONS: i64 = 5;

/// Reads the outbox counts and the sync bookkeeping.
pub async fn status(store: &Store) -> Result<Status, StoreError> {
    let err = store.sql_err();
    let (pending, acknowledged, rejected): (i64, i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'acknowledged'), 0), \
         coalesce(sum(state = 'rejected'), 0) FROM outbox",
    )
    .fetch_one(&store.pool)
    .await
    .map_err(err)?;
    #[allow(clippy::type_complexity)]
    let row: (
        i64,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<i64>,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT batch_seq, last_success_ms, last_attempt_ms, last_error, last_error_ms, \
         acknowledged_total, duplicates_total, rejected_total, dropped_expired, \
         dropped_size_cap, dropped_cleared FROM sync_state WHERE id = 1",
    )
    .fetch_one(&store.pool)
    .await
    .map_err(err)?;
    let recent: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT execution_id, reason FROM outbox WHERE state = 'rejected' \
         ORDER BY updated_at_ms DESC, seq DESC LIMIT ?",
    )
    .bind(RECENT_REJECTIONS)
    .fetch_all(&store.pool)
    .await
    .map_err(err)?;
    let n = |v: i64| v.max(0) as u64;
    Ok(Status {
        pending: n(pending),
        acknowledged: n(acknowledged),
        rejected: n(rejected),
        dropped: Dropped {
            expired: n(row.8),
            size_cap: n(row.9),
            cleared: n(row.10),
        },
        acknowledged_total: n(row.5),
        duplicates_total: n(row.6),
        rejected_total: n(row.7),
        batch_seq: n(row.0),
        last_success_ms: row.1,
        last_attempt_ms: row.2,
        last_error: row.3,
        last_error_ms: row.4,
        recent_rejections: recent
            .into_iter()
            .map(|(execution_id, reason)| Rejected {
                execution_id,
                reason: reason.unwrap_or_default(),
            })
            .collect(),
    })
}

#[cfg(test)]
#[path = "tests/outbox.rs"]
mod tests;
