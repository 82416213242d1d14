//! Where the collector keeps orgs, tokens, records and bundles: SQLite (the
//! embedded default) or PostgreSQL (several replicas may share one), both
//! through sqlx, with the same tables, keys and meaning (`migrations/sqlite`
//! and `migrations/postgres`).
//!
//! Owns durability: [`Store::insert_records`] returns only after the rows are
//! committed (SQLite `synchronous=FULL` in WAL mode, PostgreSQL's default
//! `synchronous_commit=on`), and a record's key (org, agent_id,
//! execution_id) makes a re-sent record a duplicate instead of a second row.
//! It never decides policy (limits, auth outcomes, scrubbing): callers do.

mod error;
mod records;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use earlyexit_scrub::{hex, sha256_hex};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use bundles::BundleInfo;
pub use error::StoreError;
pub use fleet::{
    AgentSeen, BundleUse, CommandOrder, CommandStats, FAILED_SQL, ReasonCount, RunFilter,
    StoredRun, Summary, TimeSaved,
};
pub use records::{QueryColumns, RecordRow, RecordWriter};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a SQLite statement waits for another process's write lock (the
/// admin commands write while `serve` runs) before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Page cache per SQLite connection, KiB: holds the hot end of the records
/// table and its key index, so inserts seldom read pages back from disk
/// (SQLite's default is 2 MiB).
const SQLITE_CACHE_KIB: u32 = 16 * 1024;

/// Page size of a new SQLite database (an existing one keeps its own). A
/// record (key, columns and a body of 0.5–2 KiB) lives in the key's B-tree
/// (WITHOUT ROWID), and SQLite advises rows under about a twentieth of a
/// page for such tables; larger pages also mean fewer splits and WAL
/// frames per commit. Measured in docs/BENCHMARKS.md.
const SQLITE_PAGE_SIZE: u32 = 16 * 1024;

/// WAL size at which SQLite copies it back into the database. SQLite counts
/// it in pages (`wal_autocheckpoint`, default 1,000: 4 MiB at 4 KiB pages);
/// kept at 4 MiB whatever the page size, because copying a larger WAL at
/// once holds up the commit that triggers it (p99 acknowledgement went from
/// 17 to over 100 ms at 64 MiB). The record writer checkpoints itself
/// instead, after this many bytes of rows, when no batch is waiting (see
/// `RecordWriter::checkpoint`); the setting stays for every other
/// connection.
const SQLITE_CHECKPOINT_BYTES: i64 = 4 << 20;

/// Rows the record writer lets into the WAL while batches keep arriving
/// before it checkpoints anyway, so a writer that is never idle still
/// bounds its WAL. Four times the idle threshold: a backlog drains with a
/// quarter of the checkpoints.
const SQLITE_CHECKPOINT_LIMIT_BYTES: i64 = 4 * SQLITE_CHECKPOINT_BYTES;

/// SQLite allows one writer; readers (token checks, bundle reads) get the rest.
const SQLITE_CONNECTIONS: u32 = 4;

/// Enough for the writer tasks plus token checks and bundle reads of one
/// replica, and small enough that several replicas fit PostgreSQL's default
/// `max_connections` (100).
const POSTGRES_CONNECTIONS: u32 = 12;

/// Prefix of every token, so a leaked one is recognisable (and scrubbable).
pub const TOKEN_PREFIX: &str = "eec_";

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// An organisation: the unit that owns tokens, records and bundles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// Database id.
    pub id: i64,
    /// Unique name.
    pub name: String,
}

/// Who is calling, as established by a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The org every read and write of this call is scoped to.
    pub org: Org,
    /// The token's public id (safe to log).
    pub token_id: String,
    /// The agent name the token was created for, if any.
    pub agent_name: Option<String>,
    /// What the token may do.
    pub kind: TokenKind,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An agent's: push and subscribe over gRPC, read the HTTP API.
    Agent,
    /// Read-only: the dashboard and the HTTP API; refused by gRPC.
    Viewer,
}

impl TokenKind {
    /// The `tokens.kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Agent => "agent",
            TokenKind::Viewer => "viewer",
        }
    }

    fn parse(s: &str) -> TokenKind {
        if s == "viewer" {
            TokenKind::Viewer
        } else {
            TokenKind::Agent
        }
    }
}

/// A token just created: the plaintext is returned here and never again.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The secret to give the agent (`collector.token`).
    pub token: String,
    /// Public id, for listing and revoking.
    pub token_id: String,
}

/// A token as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Public id.
    pub token_id: String,
    /// The org it belongs to.
    pub org: String,
    /// Agent name given at creation.
    pub agent_name: Option<String>,
    /// `agent` or `viewer`.
    pub kind: String,
    /// Creation time, milliseconds since the epoch.
    pub created_at_ms: i64,
    /// Revocation time, if revoked.
    pub revoked_at_ms: Option<i64>,
}

/// A published bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// What it holds (`patterns`, `models`, …).
    pub kind: String,
    /// Monotonic per (org, kind).
    pub version: i64,
    /// SHA-256 of `data`, hex.
    pub sha256: String,
    /// The artifact.
    pub data: Vec<u8>,
}

/// Runs the same sqlx code on whichever pool `$store` holds (each arm is
/// compiled for its own database type).
macro_rules! on_pool {
    ($store:expr, |$p:ident| $body:expr) => {
        match $store {
            Store::Sqlite($p) => $body,
            Store::Postgres($p) => $body,
        }
    };
}

// After the macro: they use `on_pool!`.
mod bundles;
mod fleet;

/// A connection pool to the collector's database.
#[derive(Debug, Clone)]
pub enum Store {
    /// SQLite file.
    Sqlite(SqlitePool),
    /// PostgreSQL server.
    Postgres(PgPool),
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The file a `sqlite://` URL names (`sqlite://relative/x.db`,
/// `sqlite:///abs/x.db`, `sqlite:x.db`), without query parameters.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let rest = rest.split('?').next().unwrap_or(rest);
    (!rest.is_empty()).then(|| PathBuf::from(rest))
}

impl Store {
    /// Opens (creating a SQLite file and its folder if needed) and migrates.
    ///
    /// `url` is `sqlite://PATH` or `postgres://…` (`postgresql://` too).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if let Some(path) = sqlite_path(url) {
            Self::connect_sqlite(&path).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(url).await
        } else {
            Err(StoreError::BadUrl(url.to_owned()))
        }
    }

    async fn connect_sqlite(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_file::create_dir(dir).map_err(|e| StoreError::Io {
                path: dir.to_path_buf(),
                source: e,
            })?;
        }
        let is_new = !path.exists();
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .page_size(SQLITE_PAGE_SIZE)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: the WAL is synced at every commit, so an acknowledged
            // batch survives power loss, not just a process crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .pragma("cache_size", format!("-{}", SQLITE_CACHE_KIB));
        let pool = SqlitePoolOptions::new()
            .after_connect(|conn, _| Box::pin(set_checkpoint_size(conn)))
            .max_connections(SQLITE_CONNECTIONS)
            .acquire_timeout(SQLITE_BUSY_TIMEOUT + Duration::from_secs(1))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::connect(path.display().to_string(), e))?;
        if is_new {
            crate::private_file::restrict(path);
        }
        SQLITE_MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(path.display().to_string(), e.to_string()))?;
        Ok(Store::Sqlite(pool))
    }

    async fn connect_postgres(url: &str) -> Result<Store, StoreError> {
        let shown = redact_url(url);
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::connect(&shown, e))?;
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::connect(&shown, e))?;
        POSTGRES_MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(shown, e.to_string()))?;
        Ok(Store::Postgres(pool))
    }

    /// Proves the store takes writes: one small upsert (the `store_probe`
    /// row), committed. A database that lost its tables (dropped and made
    /// again empty) is migrated first, so a recreated database serves
    /// again. For the health watch ([`crate::health`]); cheap enough to
    /// run every few seconds.
    pub async fn probe(&self) -> Result<(), StoreError> {
        let sql = "INSERT INTO store_probe (id, probed_at_ms) VALUES (1, $1) \
                   ON CONFLICT (id) DO UPDATE SET probed_at_ms = excluded.probed_at_ms";
        let write = || async {
            let now = now_ms();
            on_pool!(self, |p| sqlx::query(sql)
                .bind(now)
                .execute(p)
                .await
                .map(|_| ()))
        };
        match write().await {
            Err(e) if is_missing_table(&e) => {
                self.migrate().await?;
                Ok(write().await?)
            }
            result => Ok(result?),
        }
    }

    /// Applies the migrations this build has and the database lacks.
    async fn migrate(&self) -> Result<(), StoreError> {
        let result = match self {
            Store::Sqlite(p) => SQLITE_MIGRATOR.run(p).await,
            Store::Postgres(p) => POSTGRES_MIGRATOR.run(p).await,
        };
        result.map_err(|e| StoreError::Migrate(self.backend().to_string(), e.to_string()))
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        on_pool!(self, |p| p.close().await)
    }

    /// Creates an org. Names are 1–64 characters of letters, digits, `-`,
    /// `_` and `.`.
    pub async fn create_org(&self, name: &str) -> Result<Org, StoreError> {
        validate_org_name(name)?;
        let now = now_ms();
        let sql = "INSERT INTO orgs (name, created_at_ms) VALUES ($1, $2) \
                   ON CONFLICT (name) DO NOTHING RETURNING id";
        let id: Option<i64> = on_pool!(self, |p| sqlx::query_scalar(sql)
            .bind(name)
            .bind(now)
            .fetch_optional(p)
            .await)?;
        match id {
            Some(id) => Ok(Org {
                id,
                name: name.to_owned(),
            }),
            None => Err(StoreError::OrgExists(name.to_owned())),
        }
    }

    /// Looks an org up by name.
    pub async fn org(&self, name: &str) -> Result<Org, StoreError> {
        let sql = "SELECT id FROM orgs WHERE name = $1";
        let id: Option<i64> = on_pool!(self, |p| sqlx::query_scalar(sql)
            .bind(name)
            .fetch_optional(p)
            .await)?;
        id.map(|id| Org {
            id,
            name: name.to_owned(),
        })
        .ok_or_else(|| StoreError::NoSuchOrg(name.to_owned()))
    }

    /// Every org, by name.
    pub async fn list_orgs(&self) -> Result<Vec<Org>, StoreError> {
        let sql = "SELECT id, name FROM orgs ORDER BY name";
        let rows: Vec<(i64, String)> = on_pool!(self, |p| sqlx::query_as(sql).fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| Org { id, name })
            .collect())
    }

    /// Creates a token for `org`. The plaintext is in the result only; the
    /// database keeps its SHA-256.
    pub async fn create_token(
        &self,
        org: &str,
        agent_name: Option<&str>,
    ) -> Result<NewToken, StoreError> {
        self.create_token_of(org, agent_name, TokenKind::Agent)
            .await
    }

    /// Creates a read-only viewer token for `org` (the dashboard, the HTTP
    /// API); `label` is shown in `token list`.
    pub async fn create_viewer_token(
        &self,
        org: &str,
        label: Option<&str>,
    ) -> Result<NewToken, StoreError> {
        self.create_token_of(org, label, TokenKind::Viewer).await
    }

    /// Creates a token of `kind` for `org`.
    pub async fn create_token_of(
        &self,
        org: &str,
        agent_name: Option<&str>,
        kind: TokenKind,
    ) -> Result<NewToken, StoreError> {
        let org = self.org(org).await?;
        let secret = random_hex(32)?;
        let token = format!("{TOKEN_PREFIX}{secret}");
        let token_id = format!("tok_{}", &random_hex(6)?);
        let sql = "INSERT INTO tokens (hash, token_id, org_id, agent_name, created_at_ms, kind) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        let hash = sha256_hex(token.as_bytes());
        let now = now_ms();
        on_pool!(self, |p| sqlx::query(sql)
            .bind(&hash)
            .bind(&token_id)
            .bind(org.id)
            .bind(agent_name)
            .bind(now)
            .bind(kind.as_str())
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(NewToken { token, token_id })
    }

    /// The public id of `token` and whether it was revoked, whatever its
    /// state; `None` for a token this store never made. For logging a
    /// refused call (the id, never the token).
    pub async fn token_state(&self, token: &str) -> Result<Option<(String, bool)>, StoreError> {
        let sql = "SELECT token_id, revoked_at_ms FROM tokens WHERE hash = $1";
        let hash = sha256_hex(token.as_bytes());
        let row: Option<(String, Option<i64>)> = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(&hash)
            .fetch_optional(p)
            .await)?;
        Ok(row.map(|(id, revoked)| (id, revoked.is_some())))
    }

    /// Revokes a token by its public id (`tok_…`). Returns false when there
    /// is no such token or it was already revoked.
    pub async fn revoke_token(&self, token_id: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE tokens SET revoked_at_ms = $1 \
                   WHERE token_id = $2 AND revoked_at_ms IS NULL";
        let now = now_ms();
        let affected = on_pool!(self, |p| sqlx::query(sql)
            .bind(now)
            .bind(token_id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(affected == 1)
    }

    /// Tokens, optionally of one org, oldest first.
    pub async fn list_tokens(&self, org: Option<&str>) -> Result<Vec<TokenInfo>, StoreError> {
        // The cast gives PostgreSQL the parameter's type when it is NULL;
        // SQLite accepts it too.
        let sql = "SELECT t.token_id, o.name, t.agent_name, t.kind, t.created_at_ms, t.revoked_at_ms \
                   FROM tokens t JOIN orgs o ON o.id = t.org_id \
                   WHERE (CAST($1 AS TEXT) IS NULL OR o.name = $1) \
                   ORDER BY t.created_at_ms, t.token_id";
        type Row = (String, String, Option<String>, String, i64, Option<i64>);
        let rows: Vec<Row> = on_pool!(self, |p| sqlx::query_as(sql).bind(org).fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(
                |(token_id, org, agent_name, kind, created_at_ms, revoked_at_ms)| TokenInfo {
                    token_id,
                    org,
                    agent_name,
                    kind,
                    created_at_ms,
                    revoked_at_ms,
                },
            )
            .collect())
    }

    /// The caller a token stands for, or `None` when it is unknown or
    /// revoked. Compares hashes only.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Caller>, StoreError> {
        self.authenticate_hash(&sha256_hex(token.as_bytes())).await
    }

    /// [`Store::authenticate`] for a token known by its SHA-256 (hex): what
    /// a browser session keeps instead of the token.
    pub async fn authenticate_hash(&self, hash: &str) -> Result<Option<Caller>, StoreError> {
        let sql = "SELECT o.id, o.name, t.token_id, t.agent_name, t.kind \
                   FROM tokens t JOIN orgs o ON o.id = t.org_id \
                   WHERE t.hash = $1 AND t.revoked_at_ms IS NULL";
        type Row = (i64, String, String, Option<String>, String);
        let row: Option<Row> = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(hash)
            .fetch_optional(p)
            .await)?;
        Ok(row.map(|(id, name, token_id, agent_name, kind)| Caller {
            org: Org { id, name },
            token_id,
            agent_name,
            kind: TokenKind::parse(&kind),
        }))
    }

    /// Whether the store answers and holds every migration this build
    /// knows (`/readyz`); the reason when not.
    pub async fn readiness(&self) -> Result<(), String> {
        let want = match self {
            Store::Sqlite(_) => SQLITE_MIGRATOR.iter().map(|m| m.version).max(),
            Store::Postgres(_) => POSTGRES_MIGRATOR.iter().map(|m| m.version).max(),
        }
        .unwrap_or(0);
        let sql = "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM _sqlx_migrations \
                   WHERE success";
        let have: Result<i64, sqlx::Error> =
            on_pool!(self, |p| sqlx::query_scalar(sql).fetch_one(p).await);
        match have {
            Ok(have) if have >= want => Ok(()),
            Ok(have) => Err(format!(
                "the store is at migration {have}, this collector needs {want}: restart it to migrate, or check the log for why migrating failed"
            )),
            Err(e) => {
                // The error may name tables or paths: the log gets it, the
                // unauthenticated caller does not.
                tracing::warn!(error = %e, "readiness check: the store does not answer");
                Err("the store does not answer (the collector's log says why)".to_owned())
            }
        }
    }

    /// Records stored for an org.
    pub async fn count_records(&self, org_id: i64) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM records WHERE org_id = $1";
        Ok(on_pool!(self, |p| sqlx::query_scalar(sql)
            .bind(org_id)
            .fetch_one(p)
            .await)?)
    }

    /// (agent_id, execution_id) of every record of an org, in the order they
    /// arrived.
    pub async fn record_keys(&self, org_id: i64) -> Result<Vec<(String, String)>, StoreError> {
        let sql = "SELECT agent_id, execution_id FROM records WHERE org_id = $1 \
                   ORDER BY received_at_ms, agent_id, execution_id";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(org_id)
            .fetch_all(p)
            .await)?)
    }

    /// The stored body and scrub hit count of one record of an org.
    pub async fn record_body(
        &self,
        org_id: i64,
        agent_id: &str,
        execution_id: &str,
    ) -> Result<Option<(Vec<u8>, i32)>, StoreError> {
        let sql = "SELECT body, scrub_hits FROM records \
                   WHERE org_id = $1 AND agent_id = $2 AND execution_id = $3";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(org_id)
            .bind(agent_id)
            .bind(execution_id)
            .fetch_optional(p)
            .await)?)
    }

    /// Publishes `data` as the next version of `kind` for an org and returns
    /// that version. Two publishers racing get distinct versions (the loser
    /// of the key retries).
    pub async fn publish_bundle(
        &self,
        org_id: i64,
        kind: &str,
        data: &[u8],
    ) -> Result<i64, StoreError> {
        validate_bundle_kind(kind)?;
        earlyexit_proto::bundle::validate(kind, data)?;
        let sha = sha256_hex(data);
        let sql = "INSERT INTO bundles (org_id, kind, version, sha256, data, published_at_ms) \
                   SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5 \
                   FROM bundles WHERE org_id = $1 AND kind = $2 RETURNING version";
        let mut last_err = None;
        for _ in 0..5 {
            let now = now_ms();
            let r: Result<i64, sqlx::Error> = on_pool!(self, |p| sqlx::query_scalar(sql)
                .bind(org_id)
                .bind(kind)
                .bind(&sha)
                .bind(data)
                .bind(now)
                .fetch_one(p)
                .await);
            match r {
                Ok(v) => return Ok(v),
                Err(e) if is_unique_violation(&e) => last_err = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last_err.map_or(StoreError::Conflict, StoreError::from))
    }

    /// The newest bundle of each kind of an org that is not retired and is
    /// newer than what the caller has (`have`: kind → version; a missing kind counts as 0).
    pub async fn bundles_newer(
        &self,
        org_id: i64,
        have: &HashMap<String, u64>,
    ) -> Result<Vec<Bundle>, StoreError> {
        let sql = "SELECT b.kind, b.version, b.sha256, b.data FROM bundles b \
                   WHERE b.org_id = $1 AND b.version = \
                   (SELECT MAX(version) FROM bundles \
                    WHERE org_id = b.org_id AND kind = b.kind AND retired_at_ms IS NULL) \
                   ORDER BY b.kind";
        let rows: Vec<(String, i64, String, Vec<u8>)> = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(org_id)
            .fetch_all(p)
            .await)?;
        Ok(rows
            .into_iter()
            .filter(|(kind, version, _, _)| {
                u64::try_from(*version).unwrap_or(0) > have.get(kind).copied().unwrap_or(0)
            })
            .map(|(kind, version, sha256, data)| Bundle {
                kind,
                version,
                sha256,
                data,
            })
            .collect())
    }
}

/// Sets `wal_autocheckpoint` to [`SQLITE_CHECKPOINT_BYTES`] in this
/// database's pages (a database made by an older collector may have another
/// page size).
async fn set_checkpoint_size(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    let page: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut *conn)
        .await?;
    let pages = (SQLITE_CHECKPOINT_BYTES / page.max(512)).max(1);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA wal_autocheckpoint = {pages}"
    )))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A table the statement names does not exist (PostgreSQL
/// `undefined_table`, SQLite "no such table").
fn is_missing_table(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.code().as_deref() == Some("42P01") || d.message().starts_with("no such table")
        }
        _ => false,
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn validate_org_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadOrgName(name.to_owned()))
    }
}

fn validate_bundle_kind(kind: &str) -> Result<(), StoreError> {
    let ok = !kind.is_empty()
        && kind.len() <= 32
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadBundleKind(kind.to_owned()))
    }
}

/// `n` random bytes as hex, from the operating system's generator.
fn random_hex(n: usize) -> Result<String, StoreError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(hex(buf))
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for
/// messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(sqlite_path("sqlite:///var/x.db"), Some("/var/x.db".into()));
        assert_eq!(
            sqlite_path("sqlite://rel/x.db?mode=rwc"),
            Some("rel/x.db".into())
        );
        assert_eq!(sqlite_path("sqlite:x.db"), Some("x.db".into()));
        assert_eq!(sqlite_path("sqlite://"), None);
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://ee:hunter2@db.example:5432/ee"),
            "postgres://ee:***@db.example:5432/ee"
        );
        assert_eq!(redact_url("postgres://ee@db/ee"), "postgres://ee@db/ee");
        assert_eq!(redact_url("sqlite:///x.db"), "sqlite:///x.db");
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_org_name("acme-ci.prod_1").is_ok());
        assert!(validate_org_name("").is_err());
        assert!(validate_org_name("a b").is_err());
        assert!(validate_org_name(&"x".repeat(65)).is_err());
        assert!(validate_bundle_kind("patterns").is_ok());
        assert!(validate_bundle_kind("Patterns").is_err());
    }
}
