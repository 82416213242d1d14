//! Storing run records: the hot path of ingest.
//!
//! Each writer task holds a [`RecordWriter`]. A group commit is one
//! transaction, and the writer learns, per row, whether it was new or a
//! duplicate of a record already stored.
//!
//! SQLite:
//! - Rows go in as multi-row INSERTs of a few fixed shapes
//!   ([`statement_sizes`]), so every statement stays prepared. Values are
//!   bound by value: a record's body moves into the statement, not copied.
//! - Almost every batch is new, so the first try is a plain
//!   `INSERT … ON CONFLICT DO NOTHING`, checking that each statement
//!   inserted as many rows as it sent. Only when a count falls short (a
//!   re-send, or one key twice in a batch) is the transaction rolled back
//!   and done again with `RETURNING`, which names the new rows. With
//!   `RETURNING` SQLite collects every inserted key and sqlx sends each back
//!   as a row: the same 500-row inserts ran at 125 k rows/s with it and
//!   157–182 k without (docs/BENCHMARKS.md).
//! - The writer keeps one connection for itself. In WAL mode a connection
//!   drops its page cache when another connection has changed the database,
//!   so a writer taking turns with pooled connections would read the
//!   B-tree's upper pages back at every commit.
//! - That connection never checkpoints inside its commits
//!   (`wal_autocheckpoint = 0`). SQLite's automatic checkpoint runs in the
//!   `COMMIT` that takes the WAL past its size, so that batch and every
//!   batch queued behind it waited for the WAL to be copied and synced;
//!   on a shared disk that made the slowest 1 % of acknowledgements
//!   80–400 ms (docs/BENCHMARKS.md). The writer task calls
//!   [`RecordWriter::checkpoint`] after answering a group instead, and it
//!   runs only when no batch is waiting (or the WAL is over a hard limit).
//!   Durability is unchanged: a commit is durable once its WAL frames are
//!   synced (`synchronous=FULL`); a checkpoint only moves durable pages
//!   into the main file. A checkpoint on a second connection beside the
//!   commits was tried: it competed with the writer for the two cores
//!   (ingest 15 % slower, 6 µs more CPU per record).
//!
//! PostgreSQL: one `INSERT … SELECT FROM UNNEST(…) … RETURNING` per group,
//! a parameter per column, each an array. A single statement is its own
//! transaction, and with `synchronous_commit` on it is flushed when it
//! returns.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteArguments, SqliteConnection};
use sqlx::{Arguments as _, Connection as _, Row as _};

use super::{SQLITE_CHECKPOINT_BYTES, SQLITE_CHECKPOINT_LIMIT_BYTES, Store, StoreError};

/// Rows per SQLite INSERT statement: the agents' batch size, so a batch is
/// one statement. SQLite allows 32,766 bound parameters; a row binds
/// [`RECORD_COLUMNS`]. What is left over is cut into power-of-two
/// statements, so only ten shapes exist and all stay prepared.
const ROWS_PER_STATEMENT: usize = 500;
const RECORD_COLUMNS: usize = 19;
const _: () = assert!(ROWS_PER_STATEMENT * RECORD_COLUMNS < 32_766);

/// One record ready to store: key, a few columns to query by, and the
/// (re-scrubbed) protobuf body.
#[derive(Debug, Clone)]
pub struct RecordRow {
    /// Owning org.
    pub org_id: i64,
    /// Sending agent (shared by the rows of a batch).
    pub agent_id: Arc<str>,
    /// The run's id, unique per agent.
    pub execution_id: Arc<str>,
    /// When the run started, milliseconds since the epoch.
    pub started_at_ms: i64,
    /// When the collector received it.
    pub received_at_ms: i64,
    /// Why the run ended (`match`, `timeout`, `completed`, …).
    pub exit_reason: String,
    /// Detected command category (`build`, `test`, …).
    pub command_category: String,
    /// Privacy level the agent sent it at (`anonymous` or `full`).
    pub telemetry_level: String,
    /// Fields the collector's scrubber changed (what the agent missed).
    pub scrub_hits: i32,
    /// The encoded `earlyexit.v1.RunRecord`.
    pub body: Vec<u8>,
    /// The columns operators query by (migration 0004).
    pub query: QueryColumns,
}

/// The query columns of a record (migration 0004), taken from its decoded
/// `Execution`; see docs/OPERATIONS.md for what each means. `None` is
/// NULL: a field the record does not carry (an empty string, an unset
/// optional).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryColumns {
    /// The program's name (never the full command line).
    pub program: Option<String>,
    /// Detected project type.
    pub project_type: Option<String>,
    /// The child's own exit code.
    pub child_exit_code: Option<i64>,
    /// Wall-clock seconds.
    pub runtime_s: Option<f64>,
    /// Seconds to the first match.
    pub first_match_s: Option<f64>,
    /// Matching lines.
    pub match_count: Option<i64>,
    /// Output bytes read.
    pub bytes: Option<i64>,
    /// Bundles the run used (`patterns:7,models:3`).
    pub bundle_version: Option<String>,
    /// The agent's earlyexit version.
    pub agent_version: Option<String>,
}

impl QueryColumns {
    /// The columns of `e`.
    pub fn of(e: &earlyexit_proto::v1::Execution) -> QueryColumns {
        let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        QueryColumns {
            program: e.program.as_deref().and_then(text),
            project_type: text(&e.project_type),
            child_exit_code: e.child_exit_code,
            runtime_s: Some(e.total_runtime),
            first_match_s: e.time_to_first_match,
            match_count: Some(e.match_count),
            bytes: Some(e.bytes_processed),
            bundle_version: e.bundle_version.as_deref().and_then(text),
            agent_version: text(&e.earlyexit_version),
        }
    }

    fn text_bytes(&self) -> usize {
        [
            &self.program,
            &self.project_type,
            &self.bundle_version,
            &self.agent_version,
        ]
        .iter()
        .map(|s| s.as_ref().map_or(0, String::len))
        .sum()
    }
}

/// A record's key: (org, agent, execution).
type Key = (i64, Arc<str>, Arc<str>);

impl RecordRow {
    /// About what the row adds to the database: its body, key and columns.
    fn stored_bytes(&self) -> usize {
        self.body.len()
            + self.agent_id.len()
            + self.execution_id.len()
            + self.exit_reason.len()
            + self.command_category.len()
            + self.telemetry_level.len()
            + self.query.text_bytes()
            + 8 * std::mem::size_of::<i64>()
    }

    fn key(&self) -> Key {
        (
            self.org_id,
            Arc::clone(&self.agent_id),
            Arc::clone(&self.execution_id),
        )
    }
}

/// Inserts records for one writer task; see the module documentation.
#[derive(Debug)]
pub struct RecordWriter {
    store: Store,
    /// SQLite: the writer's own connection, taken out of the pool at the
    /// first insert (it does not checkpoint, so it never goes back) and
    /// closed after an error (the next insert opens a fresh one).
    sqlite: Option<SqliteConnection>,
    /// SQLite: bytes of rows committed since the last checkpoint.
    uncheckpointed: u64,
    /// How long the last insert's commit took (see [`RecordWriter::last_commit`]).
    last_commit: Duration,
}

impl Store {
    /// A writer for records; keep it across inserts.
    pub fn record_writer(&self) -> RecordWriter {
        RecordWriter {
            store: self.clone(),
            sqlite: None,
            uncheckpointed: 0,
            last_commit: Duration::ZERO,
        }
    }

    /// Stores `rows` in one transaction; see [`RecordWriter::insert`]. For
    /// one-off inserts: a writer task keeps a [`RecordWriter`] instead.
    pub async fn insert_records(&self, rows: Vec<RecordRow>) -> Result<Vec<bool>, StoreError> {
        self.record_writer().insert(rows).await
    }
}

impl RecordWriter {
    /// Stores `rows` in one transaction and returns, per row, whether it
    /// was new (`true`) or a duplicate of a stored record (`false`). A key
    /// that appears twice in `rows` is new once. Returns after the commit
    /// is durable; on an error nothing of `rows` is stored.
    pub async fn insert(&mut self, rows: Vec<RecordRow>) -> Result<Vec<bool>, StoreError> {
        self.last_commit = Duration::ZERO;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        match &self.store {
            Store::Sqlite(pool) => {
                let conn = match &mut self.sqlite {
                    Some(conn) => conn,
                    None => self.sqlite.insert(writer_connection(pool).await?),
                };
                let bytes: usize = rows.iter().map(RecordRow::stored_bytes).sum();
                let result = insert_sqlite(conn, rows, &mut self.last_commit).await;
                match &result {
                    Ok(_) => self.uncheckpointed += bytes as u64,
                    Err(_) => self.sqlite = None,
                }
                result
            }
            Store::Postgres(pool) => insert_postgres(pool, &rows).await,
        }
    }

    /// SQLite: copies the WAL into the database (a passive checkpoint) when
    /// [`SQLITE_CHECKPOINT_BYTES`] of rows went in since the last one and
    /// `idle` (no batch is waiting), or when over
    /// [`SQLITE_CHECKPOINT_LIMIT_BYTES`] whether idle or not. Returns how
    /// long it took, `None` when none was due (always for PostgreSQL).
    /// Call it between inserts, never before answering a batch: a
    /// checkpoint is not needed for durability.
    pub async fn checkpoint(&mut self, idle: bool) -> Result<Option<Duration>, StoreError> {
        let due = if idle {
            SQLITE_CHECKPOINT_BYTES
        } else {
            SQLITE_CHECKPOINT_LIMIT_BYTES
        };
        let Some(conn) = self.sqlite.as_mut() else {
            return Ok(None);
        };
        if self.uncheckpointed < due.unsigned_abs() {
            return Ok(None);
        }
        let started = Instant::now();
        let result = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *conn)
            .await;
        if let Err(e) = result {
            self.sqlite = None;
            return Err(e.into());
        }
        self.uncheckpointed = 0;
        Ok(Some(started.elapsed()))
    }

    /// How long the last [`RecordWriter::insert`] spent in its SQLite
    /// `COMMIT` (the WAL's durable sync; see [`RecordWriter::checkpoint`]). Zero
    /// for PostgreSQL, whose single statement commits as it returns.
    pub fn last_commit(&self) -> Duration {
        self.last_commit
    }
}

/// A connection of the writer's own, out of the pool (which may open
/// another), its automatic checkpoints off.
async fn writer_connection(pool: &sqlx::SqlitePool) -> Result<SqliteConnection, StoreError> {
    let mut conn = pool.acquire().await?.detach();
    sqlx::query("PRAGMA wal_autocheckpoint = 0")
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

/// Inserts `rows` in one transaction; `commit_time` is set to how long the
/// `COMMIT` took.
async fn insert_sqlite(
    conn: &mut SqliteConnection,
    rows: Vec<RecordRow>,
    commit_time: &mut Duration,
) -> Result<Vec<bool>, StoreError> {
    let keys: Vec<Key> = rows.iter().map(RecordRow::key).collect();
    let statements = sqlite_statements(rows)?;

    // First try: every row is new. Cloning the arguments copies reference
    // counts, not values; the clones are kept for the second try.
    let mut tx = conn.begin().await?;
    let mut all_new = true;
    for (n, args) in &statements {
        let done = sqlx::query_with(insert_sql(*n, false), args.clone())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != *n as u64 {
            all_new = false;
            break;
        }
    }
    if all_new {
        let started = Instant::now();
        tx.commit().await?;
        *commit_time = started.elapsed();
        return Ok(vec![true; keys.len()]);
    }
    tx.rollback().await?;

    // Some rows were stored before: insert again, naming the new ones.
    let mut tx = conn.begin().await?;
    let mut new: HashSet<Key> = HashSet::with_capacity(keys.len());
    for (n, args) in statements {
        for row in sqlx::query_with(insert_sql(n, true), args)
            .fetch_all(&mut *tx)
            .await?
        {
            let agent: String = row.try_get(1)?;
            let execution: String = row.try_get(2)?;
            new.insert((row.try_get(0)?, agent.into(), execution.into()));
        }
    }
    let started = Instant::now();
    tx.commit().await?;
    *commit_time = started.elapsed();
    Ok(keys.into_iter().map(|key| new.remove(&key)).collect())
}

/// `rows` bound into statements of [`statement_sizes`] rows each.
fn sqlite_statements(rows: Vec<RecordRow>) -> Result<Vec<(usize, SqliteArguments)>, StoreError> {
    let mut rows = rows.into_iter();
    statement_sizes(rows.len())
        .map(|n| {
            let mut args = SqliteArguments::default();
            args.reserve(n * RECORD_COLUMNS, 0);
            for r in rows.by_ref().take(n) {
                bind_row(&mut args, r).map_err(sqlx::Error::Encode)?;
            }
            Ok((n, args))
        })
        .collect()
}

fn bind_row(args: &mut SqliteArguments, r: RecordRow) -> Result<(), sqlx::error::BoxDynError> {
    args.add(r.org_id)?;
    args.add(r.agent_id)?;
    args.add(r.execution_id)?;
    args.add(r.started_at_ms)?;
    args.add(r.received_at_ms)?;
    args.add(r.exit_reason)?;
    args.add(r.command_category)?;
    args.add(r.telemetry_level)?;
    args.add(r.scrub_hits)?;
    args.add(r.body)?;
    let q = r.query;
    args.add(q.program)?;
    args.add(q.project_type)?;
    args.add(q.child_exit_code)?;
    args.add(q.runtime_s)?;
    args.add(q.first_match_s)?;
    args.add(q.match_count)?;
    args.add(q.bytes)?;
    args.add(q.bundle_version)?;
    args.add(q.agent_version)
}

/// Rows per statement for `total` rows: full statements of
/// [`ROWS_PER_STATEMENT`], then powers of two.
fn statement_sizes(total: usize) -> impl Iterator<Item = usize> {
    let mut rest = total;
    std::iter::from_fn(move || {
        if rest == 0 {
            return None;
        }
        let n = if rest >= ROWS_PER_STATEMENT {
            ROWS_PER_STATEMENT
        } else {
            1 << rest.ilog2()
        };
        rest -= n;
        Some(n)
    })
}

/// The INSERT for `rows` rows, with or without `RETURNING` the new keys.
fn insert_sql(rows: usize, returning: bool) -> &'static str {
    type Shapes = Vec<(usize, bool, String)>;
    static SHAPES: std::sync::LazyLock<Shapes> = std::sync::LazyLock::new(|| {
        let mut sizes = vec![ROWS_PER_STATEMENT];
        sizes.extend((0..=ROWS_PER_STATEMENT.ilog2()).map(|k| 1usize << k));
        let row = format!("({})", ["?"; RECORD_COLUMNS].join(", "));
        let mut shapes = Vec::new();
        for n in sizes {
            for returning in [false, true] {
                let values = vec![row.as_str(); n].join(", ");
                let tail = if returning {
                    " RETURNING org_id, agent_id, execution_id"
                } else {
                    ""
                };
                let sql = format!(
                    "INSERT INTO records (org_id, agent_id, execution_id, started_at_ms, \
                     received_at_ms, exit_reason, command_category, telemetry_level, scrub_hits, \
                     body, {QUERY_COLUMNS}) VALUES {values} ON CONFLICT (org_id, agent_id, execution_id) \
                     DO NOTHING{tail}"
                );
                shapes.push((n, returning, sql));
            }
        }
        shapes
    });
    SHAPES
        .iter()
        .find(|(n, r, _)| *n == rows && *r == returning)
        .map(|(_, _, sql)| sql.as_str())
        .expect("statement_sizes makes only these sizes")
}

/// The query columns (migration 0004), in the order they are bound.
const QUERY_COLUMNS: &str = "program, project_type, child_exit_code, runtime_s, first_match_s, \
     match_count, bytes, bundle_version, agent_version";

async fn insert_postgres(pool: &PgPool, rows: &[RecordRow]) -> Result<Vec<bool>, StoreError> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "INSERT INTO records (org_id, agent_id, execution_id, started_at_ms, \
             received_at_ms, exit_reason, command_category, telemetry_level, scrub_hits, body, \
             {QUERY_COLUMNS}) \
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[], $5::int8[], \
             $6::text[], $7::text[], $8::text[], $9::int4[], $10::bytea[], \
             $11::text[], $12::text[], $13::int8[], $14::float8[], $15::float8[], \
             $16::int8[], $17::int8[], $18::text[], $19::text[]) \
             ON CONFLICT (org_id, agent_id, execution_id) DO NOTHING \
             RETURNING org_id, agent_id, execution_id"
        )
    });
    let col = |f: fn(&RecordRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let text = |f: fn(&QueryColumns) -> &Option<String>| {
        rows.iter()
            .map(|r| f(&r.query).as_deref())
            .collect::<Vec<Option<&str>>>()
    };
    let int = |f: fn(&QueryColumns) -> Option<i64>| {
        rows.iter()
            .map(|r| f(&r.query))
            .collect::<Vec<Option<i64>>>()
    };
    let float = |f: fn(&QueryColumns) -> Option<f64>| {
        rows.iter()
            .map(|r| f(&r.query))
            .collect::<Vec<Option<f64>>>()
    };
    let returned: Vec<(i64, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(SQL.as_str()))
        .bind(rows.iter().map(|r| r.org_id).collect::<Vec<i64>>())
        .bind(col(|r| &r.agent_id))
        .bind(col(|r| &r.execution_id))
        .bind(rows.iter().map(|r| r.started_at_ms).collect::<Vec<i64>>())
        .bind(rows.iter().map(|r| r.received_at_ms).collect::<Vec<i64>>())
        .bind(col(|r| &r.exit_reason))
        .bind(col(|r| &r.command_category))
        .bind(col(|r| &r.telemetry_level))
        .bind(rows.iter().map(|r| r.scrub_hits).collect::<Vec<i32>>())
        .bind(
            rows.iter()
                .map(|r| r.body.as_slice())
                .collect::<Vec<&[u8]>>(),
        )
        .bind(text(|q| &q.program))
        .bind(text(|q| &q.project_type))
        .bind(int(|q| q.child_exit_code))
        .bind(float(|q| q.runtime_s))
        .bind(float(|q| q.first_match_s))
        .bind(int(|q| q.match_count))
        .bind(int(|q| q.bytes))
        .bind(text(|q| &q.bundle_version))
        .bind(text(|q| &q.agent_version))
        .fetch_all(pool)
        .await?;
    let mut new: HashSet<Key> = returned
        .into_iter()
        .map(|(org, agent, execution)| (org, agent.into(), execution.into()))
        .collect();
    Ok(rows.iter().map(|r| new.remove(&r.key())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_cut_into_few_statement_shapes() {
        let sizes: Vec<usize> = statement_sizes(1000).collect();
        assert_eq!(sizes, [500, 500]);
        let sizes: Vec<usize> = statement_sizes(777).collect();
        assert_eq!(sizes, [500, 256, 16, 4, 1]);
        for n in sizes {
            for returning in [false, true] {
                let sql = insert_sql(n, returning);
                assert_eq!(sql.matches('?').count(), n * RECORD_COLUMNS);
                assert_eq!(sql.contains("RETURNING"), returning);
            }
        }
        assert_eq!(statement_sizes(0).count(), 0);
    }
}
