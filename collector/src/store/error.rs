//! What can go wrong in the store, each with what to do about it.

use std::path::PathBuf;

/// A store failure a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The `--store` URL is neither SQLite nor PostgreSQL.
    #[error(
        "unsupported store URL '{0}': use sqlite://PATH (e.g. sqlite:///var/lib/earlyexit/collector.db) or postgres://USER@HOST/DB"
    )]
    BadUrl(String),
    /// The database could not be opened or reached.
    #[error("cannot open the store at {0}: {1}")]
    Connect(String, String),
    /// A migration failed.
    #[error(
        "cannot migrate the store at {0}: {1} (was it created by a newer earlyexit-collector?)"
    )]
    Migrate(String, String),
    /// A folder for the SQLite file could not be created.
    #[error("cannot create {}: {source}", .path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `org create` with a name that exists.
    #[error("org '{0}' already exists (list them with `earlyexit-collector org list`)")]
    OrgExists(String),
    /// An org name that does not exist.
    #[error("no org named '{0}' (create it with `earlyexit-collector org create {0}`)")]
    NoSuchOrg(String),
    /// An org name outside the allowed characters.
    #[error("invalid org name '{0}': use 1-64 letters, digits, '-', '_' or '.'")]
    BadOrgName(String),
    /// A bundle kind outside the allowed characters.
    #[error("invalid bundle kind '{0}': use 1-32 lowercase letters, digits or '-'")]
    BadBundleKind(String),
    /// The bundle is not valid for its kind (nothing was published).
    #[error("{0}; nothing was published")]
    BadBundle(#[from] earlyexit_proto::bundle::BundleSchemaError),
    /// Publishing kept colliding with concurrent publishers.
    #[error("another publisher kept taking the next bundle version; try again")]
    Conflict,
    /// The operating system's random generator failed.
    #[error("cannot generate a token: {0}")]
    Random(String),
    /// Any other database error (connection lost, disk full, …).
    #[error("store error: {0}")]
    Sql(#[from] sqlx::Error),
}

impl StoreError {
    pub(crate) fn connect(what: impl Into<String>, e: impl std::fmt::Display) -> Self {
        StoreError::Connect(what.into(), e.to_string())
    }

    /// Whether the same operation may succeed later (the database is
    /// restarting, busy or unreachable) rather than never.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sql(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Protocol(_) => true,
                sqlx::Error::Database(d) => {
                    // SQLite: BUSY/LOCKED/FULL/IOERR; PostgreSQL: class 08
                    // (connection), 53 (resources), 57P (shutdown), 40 (retry).
                    let code = d.code().unwrap_or_default();
                    matches!(&*code, "5" | "6" | "13" | "10" | "517" | "261")
                        || code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57P")
                        || code.starts_with("40")
                }
                _ => false,
            },
            StoreError::Connect(..) | StoreError::Conflict => true,
            _ => false,
        }
    }
}
