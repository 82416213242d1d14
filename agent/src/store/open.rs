//! Opening the database: the file and its directory are created privately
//! (directory 0700, file 0600, whatever the umask), the connection gets its
//! settings (WAL, `synchronous=NORMAL`, foreign keys, busy timeout, WAL
//! size bounds), and the embedded schema migrations are applied once.
//!
//! The common open (schema current) is one read. Nothing here writes a run.

use std::io;
use std::path::Path;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};

use super::{Store, StoreError};

/// How long a writer waits for another earlyexit process holding the write
/// lock before giving up with [`StoreError::Locked`]. A run's transaction
/// takes well under a millisecond, so waiting longer than this means
/// something is wrong (a stuck process, a network file system).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a first open waits for another process that is applying the
/// schema migrations. Migrating a new database takes milliseconds, but many
/// runs starting at once on a fresh home queue behind each other, and on a
/// loaded machine that queue can pass [`BUSY_TIMEOUT`]; it happens once per
/// database, so the wait may be longer.
pub const MIGRATION_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite truncates the WAL file back to this size after a checkpoint, so an
/// occasional large transaction (a prune) does not leave a large file behind.
pub const JOURNAL_SIZE_LIMIT_BYTES: u64 = 4 * 1024 * 1024;

/// Checkpoint the WAL into the database once it holds this many pages
/// (SQLite's default is 1000). A run adds about 20 pages; the run path does
/// not checkpoint on exit (see `recorder::record_run_blocking`), so the next open
/// re-reads the WAL to rebuild its index, and a small WAL keeps that cheap,
/// while a checkpoint (two fsyncs) is paid only every few runs.
pub const WAL_AUTOCHECKPOINT_PAGES: u32 = 128;

/// The schema, embedded at compile time from `agent/migrations/`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Creates `path` (and a missing parent directory) privately; returns true
/// when the database file is new or empty.
fn create_private_file(path: &Path) -> Result<bool, StoreError> {
    crate::private_file::create_parent(path).map_err(|source| {
        let dir = path.parent().unwrap_or(path);
        match StoreError::from_io(dir, source) {
            StoreError::Io { path, source } => StoreError::CreateDir { path, source },
            other => other,
        }
    })?;
    match crate::private_file::create_new(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = std::fs::metadata(path).map_err(|e| StoreError::from_io(path, e))?;
            Ok(meta.len() == 0)
        }
        Err(e) => Err(StoreError::from_io(path, e)),
    }
}

impl Store {
    /// Opens the database at `path`, creating it (and its directory) when
    /// missing, and brings the schema up to date.
    ///
    /// A new directory gets mode 0700 and a new file mode 0600, whatever the
    /// umask. Existing directories and files are left as they are.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let is_new = create_private_file(path)?;
        Store::connect(path, is_new, BUSY_TIMEOUT).await
    }

    /// Opens an existing database for the read and maintenance commands;
    /// [`StoreError::NotFound`] when there is none (it is never created).
    pub async fn open_existing(path: &Path) -> Result<Store, StoreError> {
        let spool = crate::spool::spool_path(path);
        let store = match std::fs::metadata(path) {
            Ok(_) => Store::connect(path, false, BUSY_TIMEOUT).await?,
            // Runs may so far all sit in the spool.
            Err(e) if e.kind() == io::ErrorKind::NotFound && crate::spool::size(&spool) > 0 => {
                Store::open(path).await?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(StoreError::from_io(path, e)),
        };
        // The read and maintenance commands see every run, spooled ones too.
        store.ingest_spool(&spool).await?;
        Ok(store)
    }

    /// Opens an existing database to read it before a run (`--auto`):
    /// [`StoreError::NotFound`] when there is none, and unlike
    /// [`Store::open_existing`] the spool is left as it is, so nothing is
    /// written on the way to starting the command.
    pub async fn open_for_reading(path: &Path) -> Result<Store, StoreError> {
        match std::fs::metadata(path) {
            Ok(_) => Store::connect(path, false, BUSY_TIMEOUT).await,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound {
                path: path.to_path_buf(),
            }),
            Err(e) => Err(StoreError::from_io(path, e)),
        }
    }

    async fn connect(path: &Path, is_new: bool, busy: Duration) -> Result<Store, StoreError> {
        let mut options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(busy)
            .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT_BYTES.to_string())
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string());
        if is_new {
            // Only takes effect before the first table exists; lets the size
            // cap give pages back to the file system.
            options = options.auto_vacuum(SqliteAutoVacuum::Incremental);
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(busy + Duration::from_secs(1))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::from_sqlx(path, e))?;
        let store = Store {
            pool,
            path: path.to_path_buf(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations. The common case (schema current) is one
    /// read; otherwise the migrations run under the write lock, so processes
    /// opening a new database at the same time apply them once.
    async fn migrate(&self) -> Result<(), StoreError> {
        if self.schema_is_current().await? {
            return Ok(());
        }
        // The pool has one connection, so the longer wait applies to this
        // migration only and is set back before any run is written.
        self.set_busy_timeout(MIGRATION_BUSY_TIMEOUT).await?;
        let mut tx = self.begin_write().await?;
        MIGRATOR
            .run(&mut *tx)
            .await
            .map_err(|e| StoreError::from_migrate(&self.path, e))?;
        tx.commit().await.map_err(self.sql_err())?;
        self.set_busy_timeout(BUSY_TIMEOUT).await
    }

    async fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        let millis = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        // PRAGMA takes no bound parameters; the value is an integer we made.
        let sql = format!("PRAGMA busy_timeout = {millis}");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&self.pool)
            .await
            .map_err(self.sql_err())?;
        Ok(())
    }

    async fn schema_is_current(&self) -> Result<bool, StoreError> {
        let applied: Vec<(i64, Vec<u8>)> = match sqlx::query_as(
            "SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await
        {
            Ok(rows) => rows,
            Err(sqlx::Error::Database(e)) if e.message().starts_with("no such table") => {
                return Ok(false);
            }
            Err(e) => return Err(StoreError::from_sqlx(&self.path, e)),
        };
        let mut known = MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration());
        let mut applied = applied.iter();
        loop {
            match (known.next(), applied.next()) {
                (None, None) => return Ok(true),
                (Some(k), Some((version, checksum)))
                    if k.version == *version && *k.checksum == **checksum => {}
                _ => return Ok(false),
            }
        }
    }
}

#[cfg(test)]
#[path = "tests/open.rs"]
mod tests;
