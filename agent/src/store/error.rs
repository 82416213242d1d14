//! [`StoreError`]: every way the local database can fail, each with the
//! path involved and what the user can do about it.
//!
//! Classification only: this file runs no SQL.

use std::io;
use std::path::{Path, PathBuf};

use sqlx::migrate::MigrateError;

use super::BUSY_TIMEOUT;

/// What to tell the user to do when the database cannot be written.
const WHERE_ELSE: &str = "pass --db PATH, set EARLYEXIT_HOME, or use --no-telemetry";

/// A failure of the local database, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file does not exist (read-only commands never create it).
    #[error("no telemetry recorded yet at {}", path.display())]
    NotFound {
        /// The database path.
        path: PathBuf,
    },
    /// The directory for the database could not be created.
    #[error("cannot create telemetry directory {}: {source}; {WHERE_ELSE}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The file system error.
        source: io::Error,
    },
    /// The file system (or the file) is read-only.
    #[error("cannot write telemetry database {}: read-only ({detail}); {WHERE_ELSE}", path.display())]
    ReadOnly {
        /// The database path.
        path: PathBuf,
        /// What the system said.
        detail: String,
    },
    /// The user may not create or write the file.
    #[error(
        "cannot open telemetry database {}: permission denied ({detail}); fix the owner or mode of the file and its directory, or {WHERE_ELSE}",
        path.display()
    )]
    PermissionDenied {
        /// The database path.
        path: PathBuf,
        /// What the system said.
        detail: String,
    },
    /// SQLite could not open the file (missing directory, not a regular file, …).
    #[error("cannot open telemetry database {}: {detail}; {WHERE_ELSE}", path.display())]
    CannotOpen {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// Another process held the write lock for longer than [`BUSY_TIMEOUT`].
    #[error(
        "telemetry database {} is locked by another process (waited {}s); retry, or pass --db PATH to use another file",
        path.display(),
        BUSY_TIMEOUT.as_secs()
    )]
    Locked {
        /// The database path.
        path: PathBuf,
    },
    /// The file is not a SQLite database or is damaged.
    #[error(
        "telemetry database {p} is corrupt or not a SQLite database ({detail}); move it aside (mv {p} {p}.bad) and a new one is started on the next run, or pass --db PATH",
        p = path.display()
    )]
    Corrupt {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// The disk is full.
    #[error(
        "cannot write telemetry database {}: disk full; free some space, lower max_db_size_mb, or use --no-telemetry",
        path.display()
    )]
    DiskFull {
        /// The database path.
        path: PathBuf,
    },
    /// The database was written by a newer earlyexit with a schema this one does not know.
    #[error(
        "telemetry database {} was written by a newer earlyexit (schema version {version} is unknown to this one); upgrade earlyexit, or pass --db PATH to use another file",
        path.display()
    )]
    TooNew {
        /// The database path.
        path: PathBuf,
        /// The unknown migration version found in the file.
        version: i64,
    },
    /// The schema could not be brought up to date for another reason.
    #[error(
        "cannot update the schema of telemetry database {}: {source}; move the file aside to start a new one, or pass --db PATH",
        path.display()
    )]
    Migrate {
        /// The database path.
        path: PathBuf,
        /// The migration error.
        source: MigrateError,
    },
    /// Another file system error on the database file or its directory.
    #[error("cannot use telemetry database {}: {source}; {WHERE_ELSE}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Any other database error (a bug, most likely: please report it).
    #[error("telemetry database {}: {source}", path.display())]
    Sqlite {
        /// The database path.
        path: PathBuf,
        /// The sqlx error.
        source: sqlx::Error,
    },
    /// The async runtime used to talk to the database could not start.
    #[error(
        "cannot open the telemetry database: the system refused the resources to do it ({0}); free some (threads, open files), or use --no-telemetry"
    )]
    Runtime(#[source] io::Error),
    /// The background writer ended (it panicked) before answering.
    #[error(
        "the telemetry database writer stopped unexpectedly; this run is kept in {} and stored by the next run (please report this if it repeats)",
        spool.display()
    )]
    WriterStopped {
        /// Where the run is kept.
        spool: PathBuf,
    },
    /// The write-behind spool could not be used.
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
}

impl StoreError {
    /// Classifies a sqlx error by what the user can do about it.
    pub(super) fn from_sqlx(path: &Path, source: sqlx::Error) -> StoreError {
        let (code, detail) = match source {
            sqlx::Error::Io(io) => return StoreError::from_io(path, io),
            sqlx::Error::PoolTimedOut => {
                return StoreError::Locked {
                    path: path.to_path_buf(),
                };
            }
            sqlx::Error::Database(ref db) => (
                db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0) & 0xff,
                db.message().to_string(),
            ),
            _ => (0, String::new()),
        };
        let path = path.to_path_buf();
        // Primary SQLite result codes: https://www.sqlite.org/rescode.html
        match code {
            5 | 6 => StoreError::Locked { path },
            8 => StoreError::ReadOnly { path, detail },
            11 | 26 => StoreError::Corrupt { path, detail },
            13 => StoreError::DiskFull { path },
            14 => StoreError::CannotOpen { path, detail },
            23 => StoreError::PermissionDenied { path, detail },
            _ => StoreError::Sqlite { path, source },
        }
    }

    /// Classifies a file system error on `path`.
    pub(super) fn from_io(path: &Path, source: io::Error) -> StoreError {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::ReadOnlyFilesystem => StoreError::ReadOnly {
                path,
                detail: source.to_string(),
            },
            io::ErrorKind::PermissionDenied => StoreError::PermissionDenied {
                path,
                detail: source.to_string(),
            },
            io::ErrorKind::StorageFull => StoreError::DiskFull { path },
            _ => StoreError::Io { path, source },
        }
    }

    pub(super) fn from_migrate(path: &Path, source: MigrateError) -> StoreError {
        match source {
            MigrateError::VersionMissing(version) => StoreError::TooNew {
                path: path.to_path_buf(),
                version,
            },
            MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => {
                match StoreError::from_sqlx(path, e) {
                    StoreError::Sqlite { path, source } => StoreError::Migrate {
                        path,
                        source: MigrateError::Execute(source),
                    },
                    classified => classified,
                }
            }
            source => StoreError::Migrate {
                path: path.to_path_buf(),
                source,
            },
        }
    }
}
